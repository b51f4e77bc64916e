"""The run record and the group record: versioned JSON models, their readers (older schemas upgraded,
newer ones refused by name) and the atomic write. Where they live is harness.store.layout's."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from harness.data.fingerprint import DatasetFingerprint
from harness.edges.host import Environment
from harness.errors import BadInput
from harness.logs.bench import BenchResult
from harness.spec.runspec import RunSpec

SCHEMA_VERSION = 7
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
GROUP_SCHEMA_VERSION = 3
READABLE_GROUP_VERSIONS = (1, 2, 3)
# diverged: stopped by the divergence check; stopped: stopped below the reference curve (--stop-below-curve)
Status = Literal["running", "succeeded", "failed", "interrupted", "diverged", "stopped", "hung"]


def _one_name(value: str) -> str:
    """An id the harness turns into a file or directory name: one path component, never . or .."""
    if not value or "/" in value or "\0" in value or value in (".", ".."):
        raise ValueError(f"{value!r} is not a run or group id (one path component)")
    return value


def _inside_the_run(value: str) -> str:
    """A file a record names in its run directory: a relative path that stays in it."""
    path = Path(value)
    if not value or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{value!r} is not a path inside the run directory")
    return value


Name = Annotated[str, AfterValidator(_one_name)]
InsideRun = Annotated[str, AfterValidator(_inside_the_run)]


class PreflightCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # stack, mmcv ops, devices, /dev/shm, rendezvous port
    ok: bool
    detail: str
    fix: str = ""


class NodePreflight(BaseModel):
    """What harness.job.preflight_probe found on one node, where the attempt's training then ran."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str
    seconds: float
    checks: list[PreflightCheck]

    @property
    def failed(self) -> list[PreflightCheck]:
        return [check for check in self.checks if not check.ok]


class Preflight(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    skipped: bool = False  # --skip-preflight
    nodes: list[NodePreflight] = []


class Attempt(BaseModel):
    """One start of the run's job: the first, then one per `harness train --resume`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    started: str
    finished: str | None = None
    status: Status = "running"
    exit_code: int | None = None
    error: str | None = None
    command: list[str]
    resumed_from: str | None = None  # the checkpoint's file name in work_dir; None: from the start
    resumed_epoch: int | None = None  # the epoch (or iteration) that checkpoint was saved after
    pid: int | None = None  # the harness process that ran it: its supervisor (schema 7)
    host: str | None = None
    log_offset: int = 0  # where this attempt's output begins in console.log (bytes)
    job_started: str | None = None  # when its job started on its runtime (a Slurm job: was submitted)
    reconciled: str | None = None  # its supervisor was lost: how, and from what, the end was recorded
    preflight: Preflight | None = None  # None: a record from before the preflight (schema 4)


class SlurmJob(BaseModel):
    """slurm runtime: the batch job as the scheduler last described it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    batch_script: str  # its file in the run directory
    state: str | None = None  # Slurm's JobState: PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT, NODE_FAIL, ...
    reason: str | None = None
    nodes: str | None = None  # Slurm's NodeList, e.g. n[1-2]
    partition: str | None = None
    restarts: int = 0  # requeues (preemption, node failure); each restart resumes from the last checkpoint


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: Name
    spec: RunSpec
    group: Name | None = None  # the `harness repro` group the run belongs to
    rerun_of: str | None = None  # `harness rerun`: the run this one re-creates
    drift: list[str] = []  # `harness rerun --allow-drift`: what differed from the original
    status: Status
    started: str
    finished: str | None = None
    exit_code: int | None = None
    error: str | None = None
    attempts: list[Attempt]
    image: dict | None = None  # docker runtime: reference, id, digests, tags, labels
    container: dict | None = None  # docker runtime: name, user, shared memory, GPU requests, mounts
    slurm: SlurmJob | None = None  # slurm runtime
    total_batch: int
    data_root: str
    synthetic_data: bool
    config_file: InsideRun  # the run directory's files, named by harness.store.layout
    work_dir: InsideRun
    console_log: InsideRun
    environment: Environment  # source revision, stack, machine, and which collectors failed
    dataset: DatasetFingerprint | None = None
    config_sha256: str | None = None  # the generated config.py the job ran
    resolved_config_sha256: str | None = None  # the config mmengine resolved and dumped into work_dir
    final_metrics: dict[str, float] | None = None  # AP points (0-100)
    learning_rate: dict[str, float] | None = None  # base and effective LR after --auto-scale-lr, and the batches
    bench: BenchResult | None = None  # kind bench: throughput, memory, the projected time of the full schedule
    metrics_unit: str = "AP points (0-100)"

    # What ran is the spec's; these read it for the many places that ask.
    benchmark = property(lambda self: self.spec.benchmark)
    kind = property(lambda self: self.spec.kind)
    platform = property(lambda self: self.spec.platform)
    runtime = property(lambda self: self.spec.runtime)
    gpus = property(lambda self: self.spec.gpus)
    seed = property(lambda self: self.spec.seed)
    epochs = property(lambda self: self.spec.epochs)
    checkpoint = property(lambda self: self.spec.checkpoint)

    @property
    def command(self) -> list[str]:
        return self.attempts[-1].command


def upgrade_schema_1(data: dict) -> dict:
    """A schema 1 record (one attempt, the run's fields at the top level) as schema 2."""
    data = dict(data)
    container, image = data.get("container") or {}, data.get("image") or {}
    docker = {"image": image.get("reference"), "shm_size": container.get("shm_size") or "2g",
              "ipc_host": container.get("ipc_mode") == "host", "privileged": bool(container.get("privileged"))}
    data["spec"] = {
        "kind": data.pop("kind", "train"), "benchmark": data.pop("benchmark"), "platform": data.pop("platform"),
        "runtime": data.pop("runtime", "local"), "gpus": data.pop("gpus"), "seed": data.pop("seed"),
        "epochs": data.pop("epochs"), "checkpoint": data.pop("checkpoint", None),
        "data": None if data.get("synthetic_data") else data.get("data_root"), "docker": docker,
    }
    data["attempts"] = [{"number": 1, "started": data["started"], "finished": data.get("finished"),
                         "status": data["status"], "exit_code": data.get("exit_code"), "error": data.get("error"),
                         "command": data.pop("command")}]
    data["schema_version"] = 2
    return data


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Campaign(BaseModel):
    """The latest start of a group's campaign (`harness repro`, `--resume GROUP`), owned by its supervisor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["running", "finished", "interrupted", "failed"]
    started: str
    finished: str | None = None
    host: str | None = None
    pid: int | None = None  # its supervisor
    log_offset: int = 0  # where this start's output begins in the group's supervisor.log
    exit_code: int | None = None  # the group verdict's (finished), or the error's
    error: str | None = None
    report: str | None = None  # the report folder it wrote


class GroupRecord(BaseModel):
    """A `harness repro` campaign: the run template and the seeds; its runs name the group in their records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = GROUP_SCHEMA_VERSION
    group_id: Name
    spec: RunSpec  # every run's spec but its seed
    seeds: list[int]
    parallel: int = 1
    created: str
    campaign: Campaign | None = None  # None: a group from before the supervisor (schema 1, 2)


def upgrade_schema_2(data: dict) -> dict:
    """A schema 2 record (flat environment facts, no provenance, GPU ids among the docker options) as schema 3."""
    data = {"config_file": "config.py", "work_dir": "work_dir", "console_log": "console.log", **data}
    spec = data["spec"] = dict(data["spec"])
    docker = spec["docker"] = dict(spec.get("docker") or {})
    spec["gpu_ids"] = docker.pop("gpu_ids", None)  # schema 2 kept the GPU ids with the docker options
    data["environment"] = Environment.from_facts(data.get("environment") or {}).model_dump()
    data["schema_version"] = 3
    return data


def upgrade_schema_3(data: dict) -> dict:
    """Schema 4 adds the slurm runtime (spec.slurm, the record's slurm job), schema 5 the watchdog (status hung,
    spec.hang_timeout) and the preflight (spec.skip_preflight, each attempt's preflight), schema 6 the bench runs
    (kind bench, spec.bench, the record's bench), schema 7 the supervisor (each attempt's log offset and job start):
    nothing to change in a schema 3, 4, 5 or 6 record."""
    return {**data, "schema_version": SCHEMA_VERSION}


UPGRADES = {1: lambda data: upgrade_schema_3(upgrade_schema_2(upgrade_schema_1(data))),
            2: lambda data: upgrade_schema_3(upgrade_schema_2(data)), 3: upgrade_schema_3, 4: upgrade_schema_3,
            5: upgrade_schema_3, 6: upgrade_schema_3, 7: lambda data: data}


def read_record(path: Path) -> RunRecord:
    data = _versioned(path, "run record", SCHEMA_VERSION, READABLE_VERSIONS)
    version = data["schema_version"]
    try:
        return RunRecord(**UPGRADES[version](data))
    except ValidationError as exc:
        raise BadInput(f"{path} is not a valid run record: {_first_error(exc)}") from exc
    except KeyError as exc:  # an older record without one of its required fields
        raise BadInput(f"{path} is not a valid schema {version} run record (no {exc})") from exc


def read_group(path: Path) -> GroupRecord:
    data = _versioned(path, "group record", GROUP_SCHEMA_VERSION, READABLE_GROUP_VERSIONS)
    try:  # group schema 2: its spec may name the watchdog and preflight options; 3 the campaign; older read as is
        return GroupRecord(**{**data, "schema_version": GROUP_SCHEMA_VERSION})
    except ValidationError as exc:
        raise BadInput(f"{path} is not a valid group record: {_first_error(exc)}") from exc


def _versioned(path: Path, what: str, newest: int, readable: tuple[int, ...]) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is not a readable {what} ({exc})") from exc
    except RecursionError:
        raise BadInput(f"{path} is not a readable {what} (nested too deeply to parse)") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path} is not a {what}: its JSON is {_json_kind(data)}, not an object")
    version = data.get("schema_version")
    if isinstance(version, int) and version > newest:
        raise BadInput(f"{path} has schema version {version}, newer than this harness reads (up to {newest}); "
                       "upgrade the harness to read it")
    if version not in readable:
        raise BadInput(f"{path} has schema version {version!r}; this harness reads versions "
                       f"{', '.join(map(str, readable))}")
    return data


def _json_kind(data) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
