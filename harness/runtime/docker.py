"""`--runtime docker`: the same job, inside the platform's image, through the Docker engine."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterator

from harness.edges import docker_engine, host
from harness.edges.docker_engine import ContainerExit
from harness.errors import BadInput, ImageMissing
from harness.job.command import Job, JobRequest
from harness.runtime.base import Ending, JobSite, Lost, Runtime
from harness.runtime.container import (
    CHECKPOINT_MOUNT, CONFIGS_MOUNT, DATA_MOUNT, MMDET_TOOLS, RUN_MOUNT, GpuOptions, HostFacts, container_spec
)
from harness.runtime.local import signal_cause
from harness.runtime.tail import complete_log
from harness.spec.benchmarks import CONFIGS_DIR
from harness.spec.platforms import load_platform
from harness.spec.runspec import RunSpec
from harness.store.record import RunRecord


class DockerRuntime(Runtime):
    name = "docker"
    stopped = "the container was stopped and removed"

    def __init__(self, spec: RunSpec, request: JobRequest, run_dir: Path, image_id: str | None = None,
                 dry_run: bool = False):
        """Engine, image and GPU access are checked here, before the run directory holds anything."""
        super().__init__(spec, request, run_dir, image_id, dry_run)
        visible = host.gpu_inventory(request.platform)
        if visible is not None and request.gpus > len(visible):
            raise BadInput(f"--gpus {request.gpus} but this host shows {len(visible)} {request.platform} GPUs")
        self.client = docker_engine.connect()
        self.reference = image_id or spec.docker.image or f"{load_platform(request.platform).image}:latest"
        self.image = docker_engine.image(self.client, self.reference)
        if self.image is None:
            raise ImageMissing(f"image {self.reference} does not exist in the engine (run `harness build --platform "
                               f"{request.platform}`)")
        self.container_spec = None
        self.container = None

    def job_site(self) -> JobSite:
        return JobSite(python="python3", tools_dir=Path(MMDET_TOOLS), run_dir=Path(RUN_MOUNT))

    def job_request(self) -> JobRequest:
        checkpoint = self.request.checkpoint
        return self.request.model_copy(update={
            "data_root": Path(DATA_MOUNT), "configs_dir": Path(CONFIGS_MOUNT), "gpu_ids": None,  # the engine picks them
            "checkpoint": Path(CHECKPOINT_MOUNT) / checkpoint.name if checkpoint else None})

    def prepare(self, job: Job) -> None:
        """What the container will be: named, mounted and given its devices before anything starts."""
        request, options = self.request, self.spec.docker
        gpus = GpuOptions(platform=request.platform, gpus=request.gpus,
                          gpu_ids=list(request.gpu_ids) if request.gpu_ids else None, privileged=options.privileged)
        self.container_spec = container_spec(
            f"harness-{self.run_dir.name}-{secrets.token_hex(3)}", self.image.id, job.argv, request.data_root,
            self.run_dir, CONFIGS_DIR.resolve(), gpus, host_facts(self.client), options.shm_size,
            options.ipc_host, {docker_engine.RUN_LABEL: self.run_dir.name},
            request.checkpoint.parent if request.checkpoint else None)

    def start(self, job: Job) -> None:
        self.container = docker_engine.create_container(self.client, self.container_spec)
        docker_engine.start_container(self.container, self.container_spec.name)

    def follow(self) -> Iterator[str]:
        yield from docker_engine.follow_container(self.container, self.container_spec.name)

    def ending(self) -> Ending:
        ended = docker_engine.wait_container(self.container, self.container_spec.name)
        return Ending(ended.status_code, cause(ended))

    def stop(self) -> None:
        if self.container is not None:
            docker_engine.interrupt_container(self.container)

    def close(self) -> None:
        if self.container is not None:
            docker_engine.remove_container(self.container)

    def image_labels(self) -> dict[str, str] | None:
        return self.image.labels

    def facts(self) -> dict:
        """What the run record keeps about the image and the container."""
        image = {"reference": self.reference, "id": self.image.id, "digests": self.image.digests,
                 "tags": self.image.tags, "labels": self.image.labels}
        spec = self.container_spec
        return {"image": image, "container": {
            "name": spec.name, "user": spec.user, "shm_size": spec.shm_size, "ipc_mode": spec.ipc_mode,
            "runtime": spec.runtime, "privileged": spec.privileged,
            "device_requests": [r.model_dump() for r in spec.device_requests], "devices": spec.devices,
            "mounts": [m.model_dump() for m in spec.mounts]}}

    @classmethod
    def alive(cls, run: RunRecord, run_dir: Path) -> list[str]:
        """Containers of this run still running in the engine (their processes are not the host's to see)."""
        return [f"container {name}" for name in docker_engine.run_containers(docker_engine.connect(), run.run_id)]

    @classmethod
    def lost_ending(cls, run: RunRecord, run_dir: Path) -> Lost | None:
        """The container's own state and exit status; its output completes console.log, then it is removed."""
        found = docker_engine.lost_containers(docker_engine.connect(), run.run_id)
        if any(container.running for container in found):
            return None
        if not found:
            return Lost(Ending(None, "its container was already gone"))
        last = found[-1]
        complete_log(run_dir / run.console_log, run.attempts[-1].log_offset, last.output)
        return Lost(Ending(last.ended.status_code, cause(last.ended)))

    @classmethod
    def stop_lost(cls, run: RunRecord, run_dir: Path) -> None:
        client = docker_engine.connect()
        for name in docker_engine.run_containers(client, run.run_id):
            docker_engine.interrupt_container(client.containers.get(name))


def host_facts(client) -> HostFacts:
    """What this host offers a container: the engine's runtimes, Iluvatar device nodes, the invoking user."""
    return HostFacts(runtimes=docker_engine.runtimes(client), uid=os.getuid(), gid=os.getgid(),
                     iluvatar_devices=sorted(str(node) for node in Path("/dev").glob("iluvatar*")))


def cause(ended: ContainerExit) -> str | None:
    if ended.oom_killed:
        return "killed for lack of memory (the engine's OOM flag is set; raise the memory limit or lower the batch)"
    if ended.status_code > 128:
        return signal_cause(ended.status_code - 128).replace("the training process", "the container")
    return ended.error
