"""What the Docker engine is asked to run, as typed, frozen data: harness.runtime.container builds it per platform,
harness.edges.docker_engine hands it to the engine, and Slurm's node script spells it as `docker run` options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

RUN_MOUNT = "/work/run"  # the run directory, read-write


class Mount(BaseModel):
    model_config = ConfigDict(frozen=True)
    source: str
    target: str
    read_only: bool


class DeviceRequest(BaseModel):
    """docker's DeviceRequest (`--gpus`): a count or explicit ids for one driver."""

    model_config = ConfigDict(frozen=True)
    driver: str
    count: int = 0
    device_ids: list[str] = []
    capabilities: list[list[str]] = []


class ContainerSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    image: str
    command: list[str]
    environment: dict[str, str]
    mounts: list[Mount]
    user: str
    working_dir: str = RUN_MOUNT
    shm_size: str | None = None
    ipc_mode: str | None = None
    device_requests: list[DeviceRequest] = []
    runtime: str | None = None
    devices: list[str] = []
    privileged: bool = False
    labels: dict[str, str] = {}
