"""All contact with the Docker engine (the docker SDK) goes through this module."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from datetime import datetime
from typing import BinaryIO, Callable, Iterator

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import DeviceRequest, Mount
from docker.utils import parse_repository_tag
from pydantic import BaseModel, ConfigDict
from requests.exceptions import RequestException

import docker
from harness.edges.container_spec import ContainerSpec
from harness.errors import InfrastructureError

PLATFORM_LABEL = "io.harness.platform"
PING_TIMEOUT = 10
RUN_LABEL = "io.harness.run-id"
GRACE_SECONDS = 30


class ImageInfo(BaseModel):
    """An image as the engine describes it."""

    model_config = ConfigDict(frozen=True)
    id: str
    tags: list[str]
    labels: dict[str, str]
    digests: list[str] = []  # RepoDigests: empty for an image built here and never pushed
    created: datetime
    size: int


def connect() -> docker.DockerClient:
    """A client for the engine DOCKER_HOST (or the default socket) names, checked with a ping."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=PING_TIMEOUT)
        client.ping()
    except (DockerException, RequestException) as exc:
        raise InfrastructureError(f"no Docker engine reachable at {where} ({_first_line(exc)}); start dockerd or "
                                  "point DOCKER_HOST at its socket, e.g. DOCKER_HOST=unix:///run/docker.sock") from exc
    client.api.timeout = None  # builds and runs take as long as they take
    return client


def image(client: docker.DockerClient, reference: str) -> ImageInfo | None:
    """The local image a reference names, or None; never pulls."""
    try:
        return _info(client.images.get(reference))
    except ImageNotFound:
        return None
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed to inspect {reference}: {_first_line(exc)}") from exc


def build(client: docker.DockerClient, context: BinaryIO, dockerfile: str, tag: str, build_args: dict[str, str],
          labels: dict[str, str], no_cache: bool) -> Iterator[dict]:
    """The engine's build events, decoded: {"stream": ...}, {"error": ...}, {"aux": {"ID": ...}}."""
    try:
        yield from client.api.build(fileobj=context, custom_context=True, dockerfile=dockerfile, tag=tag,
                                    buildargs=build_args, labels=labels, nocache=no_cache, rm=True,
                                    forcerm=True, decode=True)
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed the build: {_first_line(exc)}") from exc


def add_tag(client: docker.DockerClient, image_id: str, reference: str) -> None:
    repository, tag = parse_repository_tag(reference)
    try:
        client.images.get(image_id).tag(repository, tag or "latest")
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"could not tag {image_id} as {reference}: {_first_line(exc)}") from exc


def harness_images(client: docker.DockerClient) -> list[ImageInfo]:
    """Every image `harness build` made (they carry the platform label), newest first."""
    try:
        found = client.images.list(filters={"label": PLATFORM_LABEL})
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed to list images: {_first_line(exc)}") from exc
    return sorted((_info(i) for i in found), key=lambda info: info.created, reverse=True)


class ContainerExit(BaseModel):
    """How a container ended, as the engine reports it."""

    model_config = ConfigDict(frozen=True)
    status_code: int
    oom_killed: bool = False
    error: str | None = None


def runtimes(client: docker.DockerClient) -> list[str]:
    try:
        return sorted((client.info().get("Runtimes") or {}).keys())
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed to describe itself: {_first_line(exc)}") from exc


def run_container(client: docker.DockerClient, spec: ContainerSpec, on_output: Callable[[str], None]) -> ContainerExit:
    """A short container (doctor's probe) from creation to its end; it is removed whatever happens."""
    container = create_container(client, spec)
    try:
        start_container(container, spec.name)
        for line in follow_container(container, spec.name):
            on_output(line)
        return wait_container(container, spec.name)
    finally:
        remove_container(container)


def start_container(container, name: str) -> None:
    with _mid_run(name):
        container.start()


def follow_container(container, name: str) -> Iterator[str]:
    """The container's output, line by line, until it ends."""
    with _mid_run(name):
        pending = b""
        for chunk in container.logs(stream=True, follow=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode(errors="replace") + "\n"
        if pending:
            yield pending.decode(errors="replace") + "\n"


def wait_container(container, name: str) -> ContainerExit:
    with _mid_run(name):
        status = container.wait()
        container.reload()
    return ContainerExit(status_code=status.get("StatusCode", -1), oom_killed=container.attrs["State"]["OOMKilled"],
                         error=(status.get("Error") or {}).get("Message") or None)


@contextmanager
def _mid_run(name: str):
    try:
        yield
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"lost the Docker engine mid-run ({_first_line(exc)}); if container {name} "
                                  f"is still there once the engine is back: docker rm -f {name}") from exc


def create_container(client: docker.DockerClient, spec: ContainerSpec):
    try:
        return client.containers.create(
            spec.image, spec.command, environment=spec.environment, user=spec.user, working_dir=spec.working_dir,
            mounts=[Mount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts],
            shm_size=spec.shm_size, ipc_mode=spec.ipc_mode, runtime=spec.runtime, devices=spec.devices or None,
            device_requests=[DeviceRequest(**r.model_dump()) for r in spec.device_requests] or None,
            privileged=spec.privileged, labels=spec.labels, name=spec.name, detach=True)
    except ImageNotFound as exc:
        raise InfrastructureError(f"image {spec.image} does not exist in the engine") from exc
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine refused the container: {_first_line(exc)}") from exc


def interrupt_container(container) -> None:
    """SIGINT to the container's main process (as Ctrl-C would), then SIGKILL after a grace period.
    SIGCONT after the SIGINT: a stopped process acts on it only once it runs again."""
    try:
        container.kill(signal=int(signal.SIGINT))
        container.kill(signal=int(signal.SIGCONT))
        container.wait(timeout=GRACE_SECONDS)
    except Exception:  # already gone, or deaf to SIGINT past the grace period
        try:
            container.kill()
        except Exception:
            pass


def remove_container(container) -> None:
    """Best effort: when the engine itself is gone, the error already raised names the container."""
    try:
        container.remove(force=True)
    except (NotFound, APIError, RequestException):
        pass


def leftover_containers(client: docker.DockerClient) -> list[str]:
    """Containers of harness runs still in the engine (there should be none)."""
    return [c.name for c in client.containers.list(all=True, filters={"label": RUN_LABEL})]


def run_containers(client: docker.DockerClient, run_id: str) -> list[str]:
    """Running containers of one harness run (a resume must not start a second one beside them)."""
    try:
        found = client.containers.list(filters={"label": f"{RUN_LABEL}={run_id}", "status": "running"})
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed to list containers: {_first_line(exc)}") from exc
    return [c.name for c in found]


class LostContainer(BaseModel):
    """A run's container found after its supervisor was lost: running, or how it exited and what it printed."""

    model_config = ConfigDict(frozen=True)
    name: str
    running: bool
    ended: ContainerExit | None = None
    output: bytes = b""


def lost_containers(client: docker.DockerClient, run_id: str) -> list[LostContainer]:
    """Every container of the run, running or not; an exited one's output is read and the container removed."""
    try:
        found = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
        return [_lost(container) for container in found]
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed to list containers: {_first_line(exc)}") from exc


def _lost(container) -> LostContainer:
    state = container.attrs["State"]
    if state.get("Running"):
        return LostContainer(name=container.name, running=True)
    ended = ContainerExit(status_code=state.get("ExitCode", -1), oom_killed=state.get("OOMKilled", False),
                          error=state.get("Error") or None)
    output = container.logs()
    remove_container(container)
    return LostContainer(name=container.name, running=False, ended=ended, output=output)


def _info(found) -> ImageInfo:
    attrs = found.attrs
    return ImageInfo(id=found.id, tags=found.tags, labels=(attrs.get("Config") or {}).get("Labels") or {},
                     digests=attrs.get("RepoDigests") or [], created=attrs["Created"], size=attrs.get("Size", 0))


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
