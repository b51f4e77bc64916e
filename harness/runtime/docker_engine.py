"""All contact with the Docker engine (the docker SDK) goes through this module."""

from __future__ import annotations

import os
from datetime import datetime
from typing import BinaryIO, Iterator

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from pydantic import BaseModel, ConfigDict
from requests.exceptions import RequestException

from harness.errors import InfrastructureError

PLATFORM_LABEL = "io.harness.platform"
PING_TIMEOUT = 10


class ImageInfo(BaseModel):
    """An image as the engine describes it."""

    model_config = ConfigDict(frozen=True)
    id: str
    tags: list[str]
    labels: dict[str, str]
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
    repository, _, tag = reference.rpartition(":") if ":" in reference.split("/")[-1] else (reference, "", "latest")
    try:
        client.images.get(image_id).tag(repository, tag)
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"could not tag {image_id} as {reference}: {_first_line(exc)}") from exc


def harness_images(client: docker.DockerClient) -> list[ImageInfo]:
    """Every image `harness build` made (they carry the platform label), newest first."""
    try:
        found = client.images.list(filters={"label": PLATFORM_LABEL})
    except (APIError, RequestException) as exc:
        raise InfrastructureError(f"the Docker engine failed to list images: {_first_line(exc)}") from exc
    return sorted((_info(i) for i in found), key=lambda info: info.created, reverse=True)


def _info(found) -> ImageInfo:
    attrs = found.attrs
    return ImageInfo(id=found.id, tags=found.tags, labels=(attrs.get("Config") or {}).get("Labels") or {},
                     created=attrs["Created"], size=attrs.get("Size", 0))


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
