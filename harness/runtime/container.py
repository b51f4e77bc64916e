"""What a training container is given: image, command, mounts, user, shared memory and GPUs, per platform.

Pure: the host facts it needs (the engine's runtimes, device nodes, the invoking user) are arguments,
so the exact requests built for NVIDIA and Iluvatar GPUs are testable on a machine without either.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.edges.container_spec import RUN_MOUNT, ContainerSpec, DeviceRequest, Mount
from harness.errors import BadInput
from harness.job.command import TRAINING_ENV
from harness.spec.choices import Platform

DATA_MOUNT = "/data/coco"  # the dataset, read-only, at the same path for every run
CONFIGS_MOUNT = "/work/configs"  # the host's configs/ (benchmarks and mmdet configs), read-only
CHECKPOINT_MOUNT = "/work/checkpoint"  # `harness eval`: the checkpoint's folder, read-only
MMDET_TOOLS = "/opt/mmdet-tools"  # a link the images make to mmdet's tools/ (wherever pip put mmdet)
ILUVATAR_RUNTIME = "iluvatar"
ILUVATAR_HOST_MOUNTS = ("/usr/src", "/lib/modules")  # the vendor's driver sources and modules, read-only
CONTAINER_ENV = {**TRAINING_ENV, "HOME": "/tmp", "HARNESS_CACHE": "/tmp/harness-cache", "MPLCONFIGDIR": "/tmp"}


class HostFacts(BaseModel):
    """What the host offers containers: the engine's runtimes and the Iluvatar device nodes."""

    model_config = ConfigDict(frozen=True)
    runtimes: list[str] = []
    iluvatar_devices: list[str] = []
    uid: int
    gid: int


class GpuOptions(BaseModel):
    model_config = ConfigDict(frozen=True)
    platform: Platform
    gpus: int
    gpu_ids: list[str] | None = None
    privileged: bool = False


def gpu_access(options: GpuOptions, host: HostFacts) -> dict:
    """The ContainerSpec fields that give the container its GPUs, and nothing more by default."""
    ids = options.gpu_ids or [str(i) for i in range(options.gpus)]
    if options.gpu_ids is not None and len(options.gpu_ids) != options.gpus:
        raise BadInput(f"--gpu-ids names {len(options.gpu_ids)} GPUs but --gpus is {options.gpus}")
    if options.platform == "cuda":
        request = DeviceRequest(driver="nvidia", capabilities=[["gpu"]],
                                **({"device_ids": ids} if options.gpu_ids else {"count": options.gpus}))
        return {"device_requests": [request], "privileged": options.privileged}
    if options.platform == "ixuca":
        env = {"IX_VISIBLE_DEVICES": ",".join(ids)}
        if ILUVATAR_RUNTIME in host.runtimes:
            return {"runtime": ILUVATAR_RUNTIME, "environment": env, "privileged": options.privileged}
        if not host.iluvatar_devices and not options.privileged:
            raise BadInput("no Iluvatar runtime in the engine and no /dev/iluvatar* device nodes on this host; "
                           "install the vendor's container runtime, or pass --privileged")
        return {"devices": [f"{node}:{node}:rwm" for node in host.iluvatar_devices], "environment": env,
                "mounts": [Mount(source=p, target=p, read_only=True) for p in ILUVATAR_HOST_MOUNTS],
                "privileged": options.privileged}
    return {"privileged": options.privileged}


def container_spec(name: str, image: str, command: list[str], data_root: Path, run_dir: Path, configs_dir: Path,
                   options: GpuOptions,
                   host: HostFacts, shm_size: str | None, ipc_host: bool, labels: dict[str, str],
                   checkpoint_dir: Path | None = None) -> ContainerSpec:
    access = gpu_access(options, host)
    mounts = [Mount(source=str(data_root), target=DATA_MOUNT, read_only=True),
              Mount(source=str(run_dir), target=RUN_MOUNT, read_only=False),
              Mount(source=str(configs_dir), target=CONFIGS_MOUNT, read_only=True), *access.pop("mounts", [])]
    if checkpoint_dir is not None:
        mounts.append(Mount(source=str(checkpoint_dir), target=CHECKPOINT_MOUNT, read_only=True))
    environment = {**CONTAINER_ENV, **access.pop("environment", {})}
    return ContainerSpec(name=name, image=image, command=command, environment=environment, mounts=mounts,
                         user=f"{host.uid}:{host.gid}", shm_size=None if ipc_host else shm_size,
                         ipc_mode="host" if ipc_host else None, labels=labels, **access)


def probe_spec(name: str, image: str, command: list[str], options: GpuOptions, host: HostFacts) -> ContainerSpec:
    """A container with the same GPU access as a run and nothing else mounted (`harness doctor`)."""
    access = gpu_access(options, host)
    return ContainerSpec(name=name, image=image, command=command, environment=access.pop("environment", {}),
                         mounts=access.pop("mounts", []), user=f"{host.uid}:{host.gid}", working_dir="/", **access)


def docker_run_argv(spec: ContainerSpec, passed_env: tuple[str, ...] = ()) -> list[str]:
    """The same container as a `docker run` command line, for a job step on a node (the Slurm runtime's
    --container docker): removed when it ends, signals proxied to it, the node's network (the rendezvous).

    passed_env: variables handed on from the step's environment by name (the node's rank, for one)."""
    argv = ["docker", "run", "--rm", "--init", "--network", "host", "--user", spec.user, "--workdir", spec.working_dir]
    argv += [arg for key, value in sorted(spec.environment.items()) for arg in ("-e", f"{key}={value}")]
    argv += [arg for name in passed_env for arg in ("-e", name)]
    for mount in spec.mounts:
        argv += ["--mount", f"type=bind,source={mount.source},target={mount.target}" + (",readonly" * mount.read_only)]
    argv += ["--shm-size", spec.shm_size] if spec.shm_size else []
    argv += ["--ipc", spec.ipc_mode] if spec.ipc_mode else []
    argv += ["--runtime", spec.runtime] if spec.runtime else []
    argv += [arg for device in spec.devices for arg in ("--device", device)]
    for request in spec.device_requests:
        argv += ["--gpus", f'"device={",".join(request.device_ids)}"' if request.device_ids else str(request.count)]
    argv += ["--privileged"] * spec.privileged
    argv += [arg for key, value in sorted(spec.labels.items()) for arg in ("--label", f"{key}={value}")]
    return [*argv, spec.image, *spec.command]
