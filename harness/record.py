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

SCHEMA_VERSION = 1
RECORD_NAME = "run.json"
Status = Literal["running", "succeeded", "failed", "interrupted"]


def results_root() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS", "results"))


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: str
    benchmark: str
    status: Status
    started: str
    finished: str | None = None
    exit_code: int | None = None
    error: str | None = None
    kind: Literal["train", "eval"] = "train"
    checkpoint: str | None = None  # eval: the checkpoint tested
    runtime: Literal["local", "docker"] = "local"
    image: dict | None = None  # docker runtime: reference, id, tags, labels
    container: dict | None = None  # docker runtime: name, user, shared memory, GPU requests, mounts
    platform: str
    gpus: int
    seed: int
    epochs: int
    total_batch: int
    data_root: str
    synthetic_data: bool
    command: list[str]
    config_file: str = "config.py"
    work_dir: str = "work_dir"
    console_log: str = "console.log"
    environment: dict[str, str]
    final_metrics: dict[str, float] | None = None  # AP points (0-100)
    learning_rate: dict[str, float] | None = None  # base and effective LR after --auto-scale-lr, and the batches
    metrics_unit: str = "AP points (0-100)"


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
    if version != SCHEMA_VERSION:
        raise BadInput(f"{path} has schema version {version!r}; this harness reads version {SCHEMA_VERSION}")
    try:
        return RunRecord(**data)
    except ValidationError as exc:
        raise BadInput(f"{path} is not a valid run record: {exc.errors()[0]['msg']}") from exc


def is_run_dir(path: Path) -> bool:
    return (path / RECORD_NAME).is_file()


def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if is_run_dir(p))


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
