"""The supervisor: the process that owns a run from the start of its job to its final record.

`harness train` (eval, bench, rerun, --resume) checks everything, writes the run directory and the hand-over
(supervisor.json: the job and where it runs), then starts `python -m harness.run.supervisor RUN_DIR` detached from
the terminal: its own session, stdin from /dev/null, its output in RUN_DIR/supervisor.log. The supervisor starts
the job on its runtime, follows its output (the hang watchdog, the preflight's reports), and writes the final
record. The command that started it only attaches (harness.run.attach): closing the terminal or killing that command
leaves the run going; SIGTERM or SIGINT to the supervisor (Ctrl-C in an attached owner, `harness stop`) stops it
as Ctrl-C always did: recorded `interrupted`, resumable."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from rich.console import Console

from harness.errors import HarnessError, Hung, InfrastructureError, Interrupted
from harness.files import write_json_atomic
from harness.job import preflight
from harness.job.command import Job, JobRequest
from harness.run import outcome
from harness.run.outcome import Outcome
from harness.runtime import runtime_class
from harness.runtime.base import Runtime, execute
from harness.runtime.tail import size
from harness.runtime.watchdog import Watchdog
from harness.store import layout, record
from harness.store.record import Preflight, RunRecord

HANDOVER = "supervisor.json"
LOG = "supervisor.log"
MODULE = "harness.run.supervisor"
# What supervisors started before the package had folders run as: a run they still own is theirs, not lost.
EARLIER_MODULES = ("harness.supervisor",)


class Handover(BaseModel):
    """What the supervisor needs beyond the run record: the job as built for its site, and the runtime's inputs."""

    model_config = ConfigDict(frozen=True)

    job: Job
    request: JobRequest
    image_id: str | None = None  # the image the run is pinned to (a rerun's, a resume's)


def launch(run_dir: Path, handover: Handover) -> int:
    """Start the run's supervisor, detached from this process and its terminal; its pid."""
    write_json_atomic(run_dir / HANDOVER, handover.model_dump(mode="json"))
    return spawn([str(run_dir.resolve())], run_dir / LOG)


def spawn(arguments: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """`python -m harness.run.supervisor ARGUMENTS...` in a session of its own, stdin from /dev/null, its output appended
    to log; returns once the process shows its command line (what tells a reader that the run is supervised)."""
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", MODULE, *arguments], stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True, env=env)
    _wait_visible(process.pid)
    return process.pid


def _wait_visible(pid: int, seconds: float = 10) -> None:
    """Popen returns as the exec begins, before the new program's arguments are in place: /proc/PID/cmdline reads
    empty for a moment (measured: 28 launches in 200), and a reader would take the run for unsupervised."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes():
                return
        except OSError:  # it already ended: its end is in its log, and the record says the rest
            return
        time.sleep(0.005)


def next_log_offset(run_dir: Path) -> int:
    """Where the next attempt's output will begin in console.log."""
    return size(run_dir / layout.CONSOLE_LOG)


def supervise(run_dir: Path, console: Console) -> RunRecord:
    handover = Handover.model_validate_json((run_dir / HANDOVER).read_text())
    layout.reserve_space(run_dir)
    started = _claimed(run_dir, layout.read(run_dir))
    console.print(f"supervising run {started.run_id}, attempt {started.attempts[-1].number} (pid {os.getpid()})")
    try:
        runtime = runtime_class(started.runtime)(started.spec, handover.request, run_dir, handover.image_id)
        runtime.prepare(handover.job)
    except HarnessError as exc:  # what the command checked a moment ago is gone (the engine, the scheduler)
        return outcome.finish(run_dir, started, None, Outcome("failed", None, str(exc)))
    except KeyboardInterrupt:
        return outcome.finish(run_dir, started, None, Outcome("interrupted", None, "interrupted before its job started"))
    return run_job(run_dir, runtime, handover.job, started, console)


def _claimed(run_dir: Path, started: RunRecord) -> RunRecord:
    attempt = started.attempts[-1].model_copy(update={"pid": os.getpid(), "host": socket.gethostname()})
    claimed = started.model_copy(update={"attempts": [*started.attempts[:-1], attempt]})
    layout.write(run_dir, claimed)
    return claimed


def run_job(run_dir: Path, runtime: Runtime, job: Job, started: RunRecord, console: Console) -> RunRecord:
    """Start the job, follow it to its end, decide the outcome, write the final record."""
    checks = PreflightReports(skipped=started.spec.skip_preflight)
    if not checks.skipped:
        preflight.install(run_dir)

    def known(**attempt_fields) -> RunRecord:  # the runtime learns more as the job runs (a Slurm job's id, state)
        attempt = started.attempts[-1].model_copy(update={"preflight": checks.record(), **attempt_fields})
        return started.model_copy(update={**runtime.facts(), "attempts": [*started.attempts[:-1], attempt]})

    def on_started() -> None:
        nonlocal started
        started = known(job_started=record.now())
        layout.write(run_dir, started)

    stopped = None
    try:
        ending = execute(runtime, job, run_dir / started.console_log, checks.feed, on_started,
                         _watchdog(started))
    except Interrupted as exc:
        stopped = Outcome("interrupted", None, str(exc))
    except Hung as exc:
        stopped = Outcome("hung", None, str(exc))
    except InfrastructureError as exc:
        stopped = Outcome("failed", None, str(exc))
    _deaf()  # the job has ended: a late stop request must not cut the final record short
    started = known()
    parsed = outcome.parsed_logs(run_dir, started)
    decided = stopped or outcome.decide(run_dir, started, parsed, ending, preflight.failure(checks.nodes))
    done = outcome.finish(run_dir, started, parsed, decided)
    console.print(f"run {done.run_id}: {done.status}" + (f" ({done.error})" if done.error else ""))
    return done


class PreflightReports:
    """The preflight's reports in the job's output (one per node), kept for the attempt."""

    def __init__(self, skipped: bool):
        self.skipped, self.nodes = skipped, []

    def feed(self, line: str) -> None:
        report = preflight.report_of(line)
        if report is not None:
            self.nodes.append(report)

    def record(self) -> Preflight:
        return Preflight(skipped=self.skipped, nodes=self.nodes)


def _watchdog(run: RunRecord) -> Watchdog | None:
    timeout = run.spec.hang_timeout
    return None if timeout == 0 else Watchdog(timeout)


def _deaf() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def _interrupt(signum, frame):
    _deaf()  # one stop request: a second must not cut the runtime's own stop (its grace period) short
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """`RUN_DIR`: supervise one run; `--group ID [--verbose] [--deep]`: a repro campaign."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to lose, but a hang-up never ends a run
    signal.signal(signal.SIGTERM, _interrupt)  # `harness stop`, an attached owner's Ctrl-C: as Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if argv[0] == "--group":
        from harness.run import repro

        return repro.supervise_campaign(argv[1], "--verbose" in argv, "--deep" in argv)
    console = Console(file=sys.stdout, width=120, force_terminal=False)
    done = supervise(Path(argv[0]), console)
    return 0 if done.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
