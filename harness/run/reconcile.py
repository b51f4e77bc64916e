"""A record that says `running` is only believed while its supervisor lives. When the supervisor is gone (killed,
its host rebooted), the next reader finishes the record from the runtime's own evidence: whether the job still
runs, how it ended (a local job's exit file, the container's state, the Slurm job's), and what its logs show.
A job that still runs is left running (a reader can follow it; `harness stop` stops it)."""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from harness.errors import BadInput
from harness.run import outcome
from harness.run.outcome import Outcome
from harness.store import layout, record
from harness.store.record import RunRecord

LOCK = ".reconcile.lock"
LOST_NOTE = "its supervisor was lost; the record was finished"


def current(run_dir: Path, run: RunRecord | None = None) -> RunRecord:
    """The run's record, finished first if its supervisor was lost and its job has ended."""
    run = run or layout.read(run_dir)
    if not needs_reconciling(run_dir, run):
        return run
    with locked(run_dir):
        run = layout.read(run_dir)  # another reader may have finished it meanwhile
        if not needs_reconciling(run_dir, run):
            return run
        return _reconciled(run_dir, run)


def runs(where: Path | None = None, **filters: str | None) -> list[layout.Entry]:
    """store.runs(), each running record reconciled before the filters apply (a lost run is no longer running)."""
    found = [layout.Entry(e.path, current(e.path, e.record)) if e.record and e.record.status == "running" else e
             for e in layout.runs(where)]
    return layout.matching(found, **filters)


def needs_reconciling(run_dir: Path, run: RunRecord) -> bool:
    """Running, recorded on this host, and no supervisor of it is alive here."""
    if run.status != "running":
        return False
    host = run.attempts[-1].host
    return (host is None or host == socket.gethostname()) and not supervisors_of(run_dir)


def supervisors_of(run_dir: Path) -> list[int]:
    """The pids of this run's supervisor processes (a run has one; none once it is lost or done)."""
    from harness.run.supervisor import EARLIER_MODULES, MODULE

    return [pid for module in (MODULE, *EARLIER_MODULES)
            for pid in processes_with([module.encode(), str(run_dir.resolve()).encode()])]


def processes_with(arguments: list[bytes]) -> list[int]:
    """Processes whose command line holds each of these arguments (a zombie's is empty: never found)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if all(part in argv for part in arguments):
            found.append(int(cmdline.parent.name))
    return found


def _reconciled(run_dir: Path, run: RunRecord) -> RunRecord:
    from harness.runtime import runtime_class

    lost = runtime_class(run.runtime).lost_ending(run, run_dir)
    if lost is None:  # the job goes on without its supervisor
        return run
    parsed = outcome.parsed_logs(run_dir, run)
    decided = outcome.decide(run_dir, run, parsed, lost.ending, lost=True)
    code = "unknown" if lost.ending.code is None else lost.ending.code
    how = (f"{LOST_NOTE} by process {os.getpid()} on {socket.gethostname()} at {record.now()}, from the {run.runtime} "
           f"runtime's evidence (the job's exit code: {code}) and the logs")
    return outcome.finish(run_dir, run, parsed, replace(decided, reconciled=how), lost.facts)


def stopped_without_supervisor(run_dir: Path, run: RunRecord) -> RunRecord:
    """`harness stop` of a run whose supervisor was lost: its job stopped here, the record finished `interrupted`."""
    from harness.runtime import runtime_class

    runtime = runtime_class(run.runtime)
    with locked(run_dir):
        runtime.stop_lost(run, run_dir)
        lost = runtime.lost_ending(run, run_dir)
        facts = lost.facts if lost else {}
        stopped = Outcome("interrupted", lost.ending.code if lost else None, f"interrupted; {runtime.stopped}")
        return outcome.finish(run_dir, run, outcome.parsed_logs(run_dir, run), stopped, facts)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One reconciler at a time per run or group (a container's output is read once, before it is removed); the
    command that hands a run to its supervisor holds it too, until the supervisor is there to be seen."""
    try:
        lock = (folder / LOCK).open("a")
    except OSError as exc:  # a store this user cannot write: it can be read, not mended
        raise BadInput(f"{folder.name} needs its record finished, but {folder} is not writable "
                       f"({exc.strerror})") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def given_runs(paths: list[Path] | None) -> None:
    """The runs given to `harness verify`, reconciled first (a lost supervisor's run is judged by how it really
    ended); a path that is no run is left for the verdict to name."""
    from harness.verdict import verify

    for path in verify.expand(paths):
        try:
            run_dir = layout.resolve(path)
        except BadInput:
            continue
        if layout.is_run(run_dir):
            current(run_dir)
