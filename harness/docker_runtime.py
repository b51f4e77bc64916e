"""`harness train --runtime docker`: the same job, inside the platform's image, through the Docker engine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness import host, store
from harness.container import CHECKPOINT_MOUNT, CONFIGS_MOUNT, DATA_MOUNT, MMDET_TOOLS, RUN_MOUNT, ContainerSpec, GpuOptions, HostFacts, container_spec
from harness.errors import BadInput, ImageMissing
from harness.job import Job, JobRequest, build_job
from harness.platforms import load_platform
from harness.runtime import docker_engine
from harness.runtime.local import signal_cause
from harness.runtime.docker_engine import ContainerExit, ImageInfo
from harness.runspec import DockerOptions
from harness.spec import CONFIGS_DIR


@dataclass(frozen=True)
class Prepared:
    client: object  # the docker client `prepare` connected with; `run` uses the same one
    job: Job
    spec: ContainerSpec
    image: ImageInfo
    reference: str


def prepare(request: JobRequest, run_id: str, run_dir: Path, options: DockerOptions) -> Prepared:
    """Engine, image and GPU access are checked here, before the run directory holds anything."""
    visible = host.gpu_inventory(request.platform)
    if visible is not None and request.gpus > len(visible):
        raise BadInput(f"--gpus {request.gpus} but this host shows {len(visible)} {request.platform} GPUs")
    client = docker_engine.connect()
    reference = options.image or f"{load_platform(request.platform).image}:latest"
    image = docker_engine.image(client, reference)
    if image is None:
        raise ImageMissing(f"image {reference} does not exist in the engine (run `harness build --platform "
                       f"{request.platform}`)")
    inside = request.model_copy(update={
        "data_root": Path(DATA_MOUNT), "configs_dir": Path(CONFIGS_MOUNT), "gpu_ids": None,  # the engine picks them
        "checkpoint": Path(CHECKPOINT_MOUNT) / request.checkpoint.name if request.checkpoint else None})
    job = build_job(inside, "python3", Path(MMDET_TOOLS), Path(RUN_MOUNT) / store.CONFIG,
                    Path(RUN_MOUNT) / store.WORK_DIR)
    gpus = GpuOptions(platform=request.platform, gpus=request.gpus,
                      gpu_ids=list(request.gpu_ids) if request.gpu_ids else None, privileged=options.privileged)
    spec = container_spec(f"harness-{run_id}-{secrets.token_hex(3)}", image.id, job.argv, request.data_root, run_dir,
                          CONFIGS_DIR.resolve(), gpus, host_facts(client),
                          options.shm_size, options.ipc_host, {docker_engine.RUN_LABEL: run_id},
                          request.checkpoint.parent if request.checkpoint else None)
    return Prepared(client=client, job=job, spec=spec, image=image, reference=reference)


def running_containers(run_id: str) -> list[str]:
    """Containers of this run still running in the engine (their processes are not the host's to see)."""
    return [f"container {name}" for name in docker_engine.run_containers(docker_engine.connect(), run_id)]


def host_facts(client) -> HostFacts:
    """What this host offers a container: the engine's runtimes, Iluvatar device nodes, the invoking user."""
    return HostFacts(runtimes=docker_engine.runtimes(client), uid=os.getuid(), gid=os.getgid(),
                     iluvatar_devices=sorted(str(node) for node in Path("/dev").glob("iluvatar*")))


def run(prepared: Prepared, console_log: Path, on_line: Callable[[str], None]) -> tuple[int, str | None]:
    """Exit code and, when the engine knows better than the log, the cause (memory, signal)."""
    with console_log.open("a", buffering=1) as log:
        def both(line: str) -> None:
            log.write(line)
            on_line(line)
        ended = docker_engine.run_container(prepared.client, prepared.spec, both)
    return ended.status_code, cause(ended)


def cause(ended: ContainerExit) -> str | None:
    if ended.oom_killed:
        return "killed for lack of memory (the engine's OOM flag is set; raise the memory limit or lower the batch)"
    if ended.status_code > 128:
        return signal_cause(ended.status_code - 128).replace("the training process", "the container")
    return ended.error


def record_facts(prepared: Prepared) -> dict:
    """What the run record keeps about the image and the container."""
    spec = prepared.spec
    return {
        "image": {"reference": prepared.reference, "id": prepared.image.id,
                  "digests": prepared.image.digests, "tags": prepared.image.tags,
                  "labels": prepared.image.labels},
        "container": {"name": spec.name, "user": spec.user, "shm_size": spec.shm_size, "ipc_mode": spec.ipc_mode,
                      "runtime": spec.runtime, "privileged": spec.privileged,
                      "device_requests": [r.model_dump() for r in spec.device_requests], "devices": spec.devices,
                      "mounts": [m.model_dump() for m in spec.mounts]},
    }
