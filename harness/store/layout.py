"""The results store: the layout under results/ and its names, run directories, queries, run groups.

    results/<run-id>/run.json        the run record (harness.store.record)
    results/<run-id>/config.py       the generated mmengine config the job ran
    results/<run-id>/console.log     every attempt's output
    results/<run-id>/work_dir/       mmengine's work_dir (logs, checkpoints, the resolved config)
    results/groups/<group-id>/group.json   a `harness repro` campaign; its runs name it in their records
    results/images/                  `harness build` records
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.errors import BadInput
from harness.files import nearest_existing, write_json_atomic
from harness.store import record
from harness.store.record import RunRecord

RECORD = "run.json"
CONFIG = "config.py"
CONSOLE_LOG = "console.log"
WORK_DIR = "work_dir"
GROUPS = "groups"
GROUP_RECORD = "group.json"
SPACE_RESERVE = ".space-reserve"
RESERVE_BYTES = 1 << 20  # a record is tens of kB; its atomic write holds two copies for a moment
IMAGES = "images"
GROUP_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")


def root() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS", "results"))


@dataclass(frozen=True)
class Entry:
    """One run directory: its record, or why it cannot be read."""

    path: Path
    record: RunRecord | None
    error: str | None = None


def is_run(path: Path) -> bool:
    return (path / RECORD).is_file()


def read(run_dir: Path) -> RunRecord:
    return record.read_record(run_dir / RECORD)


def write(run_dir: Path, run: RunRecord) -> None:
    """The record, atomically; on a full disk, in the room the run reserved for it (reserve_space)."""
    data = run.model_dump(mode="json")
    try:
        write_json_atomic(run_dir / RECORD, data)
    except OSError as exc:
        reserve = run_dir / SPACE_RESERVE
        if exc.errno != errno.ENOSPC or not reserve.is_file():
            raise
        reserve.unlink()
        write_json_atomic(run_dir / RECORD, data)


def reserve_space(run_dir: Path) -> None:
    """Room for the run's record when a checkpoint save fills the disk: a file of real (not sparse) bytes that
    the record's write frees if it must. Where even that does not fit, the run goes on without it."""
    reserve = run_dir / SPACE_RESERVE
    if reserve.is_file():
        return
    try:
        reserve.write_bytes(bytes(RESERVE_BYTES))
    except OSError:
        reserve.unlink(missing_ok=True)


def runs(where: Path | None = None, *, benchmark: str | None = None, group: str | None = None,
         status: str | None = None, platform: str | None = None, kind: str | None = None) -> list[Entry]:
    """Every run under the store, unreadable ones first, then oldest to newest; filters keep readable matches."""
    found = []
    for run_dir in _run_dirs(where or root()):
        try:
            found.append(Entry(run_dir, _named_by(run_dir, read(run_dir), "run_id")))
        except BadInput as exc:
            found.append(Entry(run_dir, None, str(exc)))
    found = matching(found, benchmark=benchmark, group=group, status=status, platform=platform, kind=kind)
    return sorted(found, key=lambda e: e.record.started if e.record else "")


def _named_by(folder: Path, found, field: str):
    """A listed record names its own folder: one copied or renamed into another is listed as unreadable, so that
    nothing (the site's pages, a group's runs) is named after a string that is not the folder's."""
    named = getattr(found, field)
    if named != folder.name:
        raise BadInput(f"{folder / (RECORD if field == 'run_id' else GROUP_RECORD)} names {field.split('_')[0]} "
                       f"{named!r}, not its folder's name {folder.name!r} (copied or renamed?)")
    return found


def matching(found: list[Entry], **filters: str | None) -> list[Entry]:
    """The readable entries whose record has each given value (a filter of None is no filter)."""
    wanted = {k: v for k, v in filters.items() if v is not None}
    if not wanted:
        return found
    return [e for e in found if e.record and all(getattr(e.record, k) == v for k, v in wanted.items())]


def latest(where: Path | None = None) -> Path:
    """The most recently started run (the same order `harness runs` lists)."""
    found = runs(where)
    if not found:
        raise BadInput(f"no runs under {where or root()}/ (run `harness train` first, or pass a path)")
    return found[-1].path


def resolve(path: Path | None) -> Path:
    """A path as given, a run id under results/ or the start of one (`harness runs` shows the shortest that is
    unique), or (no path) the latest run."""
    if path is None:
        return latest()
    path = Path(path)
    by_id = root() / path
    if path.exists() or is_run(by_id) or len(path.parts) != 1:
        return by_id if not path.exists() and is_run(by_id) else path
    started = [run_dir for run_dir in _run_dirs(root()) if run_dir.name.startswith(path.name)]
    if len(started) > 1:
        raise BadInput(f"{path} is the start of {len(started)} run ids ({', '.join(d.name for d in started[:3])}"
                       f"{', ...' if len(started) > 3 else ''}): give more of it")
    return started[0] if started else path


def existing_run(path: Path, what: str) -> Path:
    """resolve(), for a command that needs a run: a name that is neither a run id nor a directory says where it
    was looked for."""
    run_dir = resolve(path)
    if is_run(run_dir):
        return run_dir
    if run_dir.exists():
        raise BadInput(f"{what} {path}: not a harness run (no {RECORD}); pass a run id or directory")
    raise BadInput(f"{what} {path}: no run of that id under {root()}/ and no such directory (`harness runs` lists "
                   "the runs)")


def run_ids(where: Path | None = None) -> list[str]:
    return [run_dir.name for run_dir in _run_dirs(where or root())]


def short_ids(run_ids: list[str], least: int = len("YYYYmmdd-HHMMSS")) -> dict[str, str]:
    """Each run id's shortest start, at least its time stamp, that no other of these ids shares."""
    shortest = {}
    for run_id in run_ids:
        length = least
        while length < len(run_id) and any(o != run_id and o.startswith(run_id[:length]) for o in run_ids):
            length += 1
        shortest[run_id] = run_id[:length]
    return shortest


def _run_dirs(where: Path) -> list[Path]:
    if not where.exists():
        return []
    try:
        return sorted(p for p in where.iterdir() if is_run(p))
    except OSError as exc:
        raise BadInput(f"cannot read the results directory {where}: {exc.strerror} (HARNESS_RESULTS names it)") from exc


def new_run_dir(name: str, where: Path | None = None) -> Path:
    """Claim a fresh results/<run-id>/ (mkdir is the lock: two runs never share a directory)."""
    return _claim(where or root(), name)


def new_group_dir(name: str, exact: bool = False) -> Path:
    """A new group directory: <stamp>-<name>, or exactly <name> (which must not exist yet)."""
    if not exact:
        return _claim(root() / GROUPS, name)
    if not GROUP_NAME.match(name):
        raise BadInput(f"--group {name!r}: a group's name starts with a letter or a digit, then letters, digits, "
                       "'.', '_' and '-'")
    (root() / GROUPS).mkdir(parents=True, exist_ok=True)
    try:
        (root() / GROUPS / name).mkdir()
    except FileExistsError:
        raise BadInput(f"--group {name}: a group of that name exists; resume it with `harness repro --resume "
                       f"{name}` or choose another name") from None
    return root() / GROUPS / name


def _claim(parent: Path, name: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in ["", *(f"-{n}" for n in range(2, 100))]:
        candidate = parent / f"{stamp}-{name}{suffix}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise BadInput(f"cannot claim a new directory under {parent}")


def claim_run_dir(path: Path) -> Path:
    """Use a directory the user named; it must be new or empty, so nothing already there is lost."""
    if path.exists():
        if not path.is_dir():
            raise BadInput(f"--work-dir {path} is a file, not a directory")
        if is_run(path) or any(path.glob("*/vis_data")) or any(path.glob(f"{WORK_DIR}/*/vis_data")):
            raise BadInput(f"--work-dir {path} already holds a run; choose a new directory")
        if any(path.iterdir()):
            raise BadInput(f"--work-dir {path} is not empty; choose a new directory")
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_writable() -> None:
    """Refuse, before anything is created, a store where runs cannot be written."""
    if not writable():
        raise BadInput(f"results directory {root()} is not writable (HARNESS_RESULTS moves it)")


def writable(where: Path | None = None) -> bool:
    """Whether runs can be created under the store (the nearest existing ancestor decides for a new one)."""
    existing = nearest_existing(where or root())
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def group_dir(group_id: str) -> Path:
    return root() / GROUPS / group_id


def write_group(group: record.GroupRecord) -> Path:
    path = group_dir(group.group_id) / GROUP_RECORD
    write_json_atomic(path, group.model_dump(mode="json"))
    return path


def read_group(group_id: str) -> record.GroupRecord:
    path = group_dir(group_id) / GROUP_RECORD
    if not path.is_file():
        known = sorted(p.parent.name for p in (root() / GROUPS).glob(f"*/{GROUP_RECORD}"))
        hint = f" (groups here: {', '.join(known[-3:])})" if known else " (no groups under this store)"
        raise BadInput(f"no group {group_id!r} under {root() / GROUPS}{hint}")
    return record.read_group(path)


@dataclass(frozen=True)
class GroupEntry:
    """One group directory: its record, or why it cannot be read."""

    path: Path
    record: record.GroupRecord | None
    error: str | None = None


def groups(where: Path | None = None) -> list[GroupEntry]:
    """Every group under the store, in the order of their directory names (created time first)."""
    found = []
    for path in sorted(((where or root()) / GROUPS).glob(f"*/{GROUP_RECORD}")):
        try:
            found.append(GroupEntry(path.parent, _named_by(path.parent, record.read_group(path), "group_id")))
        except BadInput as exc:
            found.append(GroupEntry(path.parent, None, str(exc)))
    return found


def image_records_dir() -> Path:
    return root() / IMAGES


def check_filters(benchmark: str | None, status: str | None, platform: str | None, kind: str | None) -> None:
    """A misspelt filter of `harness runs` is an error, not an empty list: the values a record can hold, and the
    benchmarks configured here or named by a stored run."""
    from typing import get_args

    from harness.spec import benchmarks
    from harness.spec.choices import PLATFORMS
    from harness.spec.runspec import RunSpec, checked_choice
    from harness.store.record import Status

    checked_choice(status, get_args(Status), "status")
    checked_choice(platform, PLATFORMS, "platform")
    checked_choice(kind, get_args(RunSpec.model_fields["kind"].annotation), "kind")
    configured = tuple(sorted(benchmarks.benchmarks()))
    if benchmark is not None and benchmark not in configured:
        stored = sorted({e.record.benchmark for e in runs() if e.record})
        checked_choice(benchmark, configured + tuple(b for b in stored if b not in configured), "benchmark")
