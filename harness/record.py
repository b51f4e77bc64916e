"""The run record (versioned JSON) and the results store under results/<run-id>/."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import BadInput
from harness.runspec import RunSpec

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
RECORD_NAME = "run.json"
# diverged: stopped by the divergence check; stopped: stopped below the reference curve (--stop-below-curve)
Status = Literal["running", "succeeded", "failed", "interrupted", "diverged", "stopped"]


def results_root() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS", "results"))


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
    pid: int | None = None  # the harness process that ran it
    host: str | None = None


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: str
    spec: RunSpec
    status: Status
    started: str
    finished: str | None = None
    exit_code: int | None = None
    error: str | None = None
    attempts: list[Attempt]
    image: dict | None = None  # docker runtime: reference, id, tags, labels
    container: dict | None = None  # docker runtime: name, user, shared memory, GPU requests, mounts
    total_batch: int
    data_root: str
    synthetic_data: bool
    config_file: str = "config.py"
    work_dir: str = "work_dir"
    console_log: str = "console.log"
    environment: dict[str, str]
    final_metrics: dict[str, float] | None = None  # AP points (0-100)
    learning_rate: dict[str, float] | None = None  # base and effective LR after --auto-scale-lr, and the batches
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
    data["schema_version"] = SCHEMA_VERSION
    return data


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_dir(root: Path, benchmark: str) -> Path:
    """Claim a fresh results/<run-id>/ (mkdir is the lock: two runs never share a directory)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in ["", *(f"-{n}" for n in range(2, 100))]:
        candidate = root / f"{stamp}-{benchmark}{suffix}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise BadInput(f"cannot claim a new run directory under {root}")


def nearest_existing(path: Path) -> Path:
    """path itself, or its closest ancestor that exists (where a new directory would be created)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def writable(root: Path) -> bool:
    """Whether runs can be created under root (the nearest existing ancestor decides for a new one)."""
    existing = nearest_existing(root)
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def claim_run_dir(path: Path) -> Path:
    """Use a directory the user named; it must be new or empty, so nothing already there is lost."""
    if path.exists():
        if not path.is_dir():
            raise BadInput(f"--work-dir {path} is a file, not a directory")
        if (path / RECORD_NAME).exists() or _has_mmengine_logs(path):
            raise BadInput(f"--work-dir {path} already holds a run; choose a new directory")
        if any(path.iterdir()):
            raise BadInput(f"--work-dir {path} is not empty; choose a new directory")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _has_mmengine_logs(path: Path) -> bool:
    return any(path.glob("*/vis_data")) or any(path.glob("work_dir/*/vis_data"))


def write_record(run_dir: Path, record: RunRecord) -> None:
    write_json_atomic(run_dir / RECORD_NAME, record.model_dump(mode="json"))


def write_json_atomic(path: Path, data: dict) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes the file private; a record is an ordinary file
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.replace(tmp, path)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def read_record(run_dir: Path) -> RunRecord:
    path = run_dir / RECORD_NAME
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is not a readable run record ({exc})") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise BadInput(f"{path} has schema version {version}, newer than this harness reads (up to "
                       f"{SCHEMA_VERSION}); upgrade the harness to read it")
    if version not in READABLE_VERSIONS:
        raise BadInput(f"{path} has schema version {version!r}; this harness reads versions "
                       f"{', '.join(map(str, READABLE_VERSIONS))}")
    try:
        return RunRecord(**(upgrade_schema_1(data) if version == 1 else data))
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise BadInput(f"{path} is not a valid run record: {where}: {exc.errors()[0]['msg']}") from exc
    except KeyError as exc:  # a schema 1 record without one of its required fields
        raise BadInput(f"{path} is not a valid schema {version} run record (no {exc})") from exc


def is_run_dir(path: Path) -> bool:
    return (path / RECORD_NAME).is_file()


def _run_dirs(root: Path) -> list[Path]:
    if not root.exists():
        return []
    try:
        return sorted(p for p in root.iterdir() if is_run_dir(p))
    except OSError as exc:
        raise BadInput(f"cannot read the results directory {root}: {exc.strerror} (HARNESS_RESULTS names it)") from exc


def resolve_run(path: Path | None) -> Path:
    """A path as given, a run id under results/, or (no path) the latest run."""
    if path is None:
        return latest_run(results_root())
    path = Path(path)
    by_id = results_root() / path
    return by_id if not path.exists() and is_run_dir(by_id) else path


def read_all(root: Path) -> list[tuple[Path, RunRecord | str]]:
    """Every run under root, unreadable ones first, then oldest to newest by start time."""
    found: list[tuple[Path, RunRecord | str]] = []
    for run_dir in _run_dirs(root):
        try:
            found.append((run_dir, read_record(run_dir)))
        except BadInput as exc:
            found.append((run_dir, str(exc)))
    return sorted(found, key=lambda item: item[1].started if isinstance(item[1], RunRecord) else "")


def latest_run(root: Path) -> Path:
    """The most recently started run (the same order `harness runs` lists)."""
    runs = read_all(root)
    if not runs:
        raise BadInput(f"no runs under {root}/ (run `harness train` first, or pass a path)")
    return runs[-1][0]
