"""RunOptions: what the user typed for a run, typed and checked once. `harness train`, `eval`, `bench` and
`repro` fill it (harness.cli.options declares their shared options once); harness.run.pipeline turns it into
the RunSpec, or, for a resume, compares it with the RunSpec the run was started with.

None (False for a flag, () for a list) means "not given": the benchmark's or the RunSpec's default applies.
Each value is converted here and nowhere else: --data is resolved to an absolute path, --gpu-ids parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from harness.errors import BadInput
from harness.spec.benchmarks import Frozen
from harness.spec.choices import PLATFORMS, RUNTIMES, SEED_MAX
from harness.spec.runspec import BenchOptions, DockerOptions, SlurmOptions, checked_cfg_options, checked_choice

DOCKER_FIELDS = tuple(DockerOptions.model_fields)  # the options that fill a RunSpec's docker and slurm parts
SLURM_FIELDS = tuple(SlurmOptions.model_fields)
RESOLVED = ("benchmark", "data", "checkpoint", "platform", "epochs")  # harness.run.pipeline.make_spec resolves these
NOT_SPEC = (*DOCKER_FIELDS, *SLURM_FIELDS, *RESOLVED)


class RunOptions(Frozen):
    benchmark: str | None = None
    data: Path | None = None  # a COCO 2017 directory, absolute
    gpus: int | None = None
    gpu_ids: tuple[str, ...] | None = None  # device indices, each once, as many as gpus
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)
    epochs: int | None = None
    platform: str | None = None
    runtime: str | None = None
    image: str | None = None
    shm_size: str | None = None
    ipc_host: bool = False
    privileged: bool = False
    cfg_options: tuple[str, ...] = ()
    checkpoint: Path | None = None  # eval: absolute
    stop_below_curve: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    hang_timeout: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    skip_preflight: bool = False
    nodes: int | None = None
    partition: str | None = None
    time: str | None = None
    account: str | None = None
    qos: str | None = None
    extra_args: tuple[str, ...] = ()  # --slurm-arg
    container: Literal["docker"] | None = None
    bench: BenchOptions | None = None

    @field_validator("gpu_ids", mode="before")
    @classmethod
    def _parsed_ids(cls, value):
        """--gpu-ids 0,1,2,3: device indices, each once (CUDA_VISIBLE_DEVICES and docker's device_ids take them)."""
        if not isinstance(value, str):
            return value
        ids = tuple(part.strip() for part in value.split(","))
        if not all(part.isdigit() for part in ids) or len(set(map(int, ids))) != len(ids):
            raise BadInput(f"--gpu-ids {value!r}: give distinct GPU indices separated by commas, e.g. 0,1,2,3")
        return tuple(str(int(part)) for part in ids)

    @field_validator("container", mode="before")
    @classmethod
    def _one_container_runtime(cls, value):
        if value not in (None, "docker"):
            raise BadInput(f"--container {value!r}: the one container runtime is docker")
        return value

    @field_validator("data", "checkpoint")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.resolve() if value is not None else None

    @field_validator("cfg_options")
    @classmethod
    def _cfg_options(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return checked_cfg_options(value)

    @model_validator(mode="after")
    def _known_values(self) -> RunOptions:
        checked_choice(self.platform, PLATFORMS, "platform")
        checked_choice(self.runtime, RUNTIMES, "runtime")
        if self.epochs is not None and self.epochs < 1:
            raise BadInput(f"--epochs must be at least 1, got {self.epochs}")
        if self.gpus is not None and self.gpus < 1:
            raise BadInput(f"--gpus must be at least 1, got {self.gpus}")
        return self

    def check_new_run(self) -> None:
        """What a new run's options must agree on (a resume's are compared with the run's instead)."""
        if self.runtime != "slurm" and self.slurm_given():
            raise BadInput("--nodes, --partition, --time, --account, --qos, --slurm-arg and --container go with "
                           "--runtime slurm")
        gpus = self.gpus or 1
        if self.gpu_ids is not None and len(self.gpu_ids) != gpus:
            raise BadInput(f"--gpu-ids names {len(self.gpu_ids)} GPU(s) but --gpus is {gpus}: give as many ids as "
                           "--gpus")

    @classmethod
    def of(cls, **values) -> RunOptions:
        """From the command line: a rule pydantic checks is reported as the option's name and the rule."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise BadInput(one_line(exc)) from None

    def adding(self, **values) -> RunOptions:
        """These options and more, converted and checked as the rest were (eval's checkpoint, bench's plan)."""
        return RunOptions.of(**{**self.given(), **values})

    def given(self) -> dict[str, object]:
        """The options the user typed, by the name of the RunSpec field (or docker/slurm option) they set."""
        return {name: value for name, value in self if value is not None and value is not False and value != ()}

    def slurm_given(self) -> bool:
        return any(name in SLURM_FIELDS for name in self.given())

    def docker(self) -> DockerOptions:
        return DockerOptions(**{k: v for k, v in self.given().items() if k in DOCKER_FIELDS})

    def slurm(self) -> SlurmOptions:
        return SlurmOptions(**{k: v for k, v in self.given().items() if k in SLURM_FIELDS})

    def spec_fields(self) -> dict[str, object]:
        """The given options that are RunSpec fields as they are (the rest is resolved by harness.run.pipeline)."""
        return {k: v for k, v in self.given().items() if k not in NOT_SPEC}


def one_line(exc: ValidationError) -> str:
    """A pydantic error about a run option as the option's name and the rule, in one line."""
    first = exc.errors()[0]
    where = "--" + "-".join(str(part) for part in first["loc"]).replace("_", "-")
    return f"{where} {first.get('input')!r}: {first['msg'].lower()}"


__all__ = ["RunOptions", "one_line"]
