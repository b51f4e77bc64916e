"""RunSpec: one frozen description of a run. The CLI builds it, the pipeline executes it, the record embeds it.

A resume reads it back from the record, so a continued run is the run that was started.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import BadInput
from harness.spec.choices import Platform, RuntimeName

CFG_OPTION = re.compile(r"^[A-Za-z_][\w]*(\.[\w]+)*=")
# Keys the harness sets from its own options: an override would make the record say one thing and run another.
OWNED_KEYS = {"randomness.seed": "--seed", "train_cfg.max_epochs": "--epochs", "work_dir": "--work-dir"}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DockerOptions(Frozen):
    image: str | None = None  # default: harness-<platform>:latest
    shm_size: str = "2g"
    ipc_host: bool = False
    privileged: bool = False


class SlurmOptions(Frozen):
    nodes: int = Field(default=1, ge=1)  # --gpus is per node
    partition: str | None = None
    time: str | None = None  # Slurm's --time, e.g. 1-00:00:00
    account: str | None = None
    qos: str | None = None
    extra_args: tuple[str, ...] = ()  # passed to sbatch as given (--slurm-arg)
    container: Literal["docker"] | None = None  # each node's task in the platform's image (the docker options)


class BenchOptions(Frozen):
    """`harness bench`: a short real training, the first `warmup` iterations discarded, `iters` timed, then one
    evaluation of the first `eval_images` validation images."""

    warmup: int = Field(default=5, ge=1)
    iters: int = Field(default=20, ge=2)
    eval_images: int = Field(default=100, ge=1)


class RunSpec(Frozen):
    kind: Literal["train", "eval", "bench"] = "train"
    benchmark: str
    data: str | None = None  # a COCO 2017 directory; None: the benchmark's synthetic data
    platform: Platform
    runtime: RuntimeName = "local"
    docker: DockerOptions = DockerOptions()
    slurm: SlurmOptions = SlurmOptions()
    gpus: int = Field(default=1, ge=1)
    gpu_ids: tuple[str, ...] | None = None  # which GPUs (as many as gpus); None: the first ones
    seed: int = Field(default=0, ge=0, le=2**32 - 1)  # numpy's and mmengine's seeds are 32-bit
    epochs: int = Field(ge=1)
    cfg_options: tuple[str, ...] = ()  # KEY=VALUE, as mmdet's tools/train.py --cfg-options takes them
    checkpoint: str | None = None  # eval: the checkpoint tested
    stop_below_curve: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # AP points; None: off
    hang_timeout: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # seconds (harness.runtime.watchdog); None: the default rule, 0: off
    skip_preflight: bool = False  # harness.job.preflight: the attempt records that it was skipped
    bench: BenchOptions | None = None  # kind bench

    @property
    def data_path(self) -> Path | None:
        return Path(self.data) if self.data else None


def train_args(spec: RunSpec) -> list[str]:
    """The `harness train` options that start this spec again (every field spelled out, defaults too)."""
    args = ["--benchmark", spec.benchmark, "--platform", spec.platform, "--runtime", spec.runtime, "--gpus", str(spec.gpus),
            "--seed", str(spec.seed), "--epochs", str(spec.epochs)]
    args += ["--data", spec.data] if spec.data else []
    args += ["--gpu-ids", ",".join(spec.gpu_ids)] if spec.gpu_ids else []
    args += [f"--cfg-option={option}" for option in spec.cfg_options]
    args += ["--stop-below-curve", str(spec.stop_below_curve)] if spec.stop_below_curve is not None else []
    args += ["--hang-timeout", str(spec.hang_timeout)] if spec.hang_timeout is not None else []
    args += ["--skip-preflight"] if spec.skip_preflight else []
    if spec.runtime == "docker" or (spec.runtime == "slurm" and spec.slurm.container == "docker"):
        args += ["--image", spec.docker.image] if spec.docker.image else []
        args += ["--shm-size", spec.docker.shm_size] + ["--ipc-host"] * spec.docker.ipc_host
        args += ["--privileged"] * spec.docker.privileged
    if spec.runtime == "slurm":
        slurm = spec.slurm
        args += ["--nodes", str(slurm.nodes)]
        for option in ("partition", "time", "account", "qos"):
            args += [f"--{option}", getattr(slurm, option)] if getattr(slurm, option) else []
        args += [f"--slurm-arg={arg}" for arg in slurm.extra_args]
        args += ["--container", slurm.container] if slurm.container else []
    return args


def checked_cfg_options(options: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    for option in options:
        if not CFG_OPTION.match(option):
            raise BadInput(f"--cfg-option {option!r} is not KEY=VALUE (e.g. optim_wrapper.optimizer.lr=0.02)")
        key, value = option.split("=", 1)
        if not _balanced(value):
            raise BadInput(f"--cfg-option {option!r}: its brackets do not pair up (a list is [a,b], a tuple (a,b))")
        if key in OWNED_KEYS:
            raise BadInput(f"--cfg-option {key} is set by the harness: use {OWNED_KEYS[key]} instead")
    return tuple(options)


def _balanced(value: str) -> bool:
    """mmengine's DictAction reads [..] and (..) nested to any depth; an unpaired one fails inside the job."""
    opened: list[str] = []
    for char in value:
        if char in "([":
            opened.append(")" if char == "(" else "]")
        elif char in ")]" and (not opened or opened.pop() != char):
            return False
    return not opened


def checked_choice(value: str | None, choices: tuple[str, ...], what: str) -> str | None:
    if value is not None and value not in choices:
        raise BadInput(f"unknown {what} {value!r} (one of {', '.join(choices)})")
    return value


__all__ = ["BenchOptions", "DockerOptions", "RunSpec", "SlurmOptions", "checked_cfg_options", "checked_choice", "train_args"]
