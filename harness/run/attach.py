"""Attaching to a run: the live view drawn from its console.log and its record, from any shell, as many at once
as you like. The command that started the run attaches as its owner (Ctrl-C or SIGTERM there stops the run, as
always); `harness attach` attaches as a viewer (Ctrl-C only detaches). Neither holds the run: the supervisor does.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from rich.console import Console

from harness.errors import BadInput, ExitCode, HarnessError, InfrastructureError, Interrupted
from harness.job import preflight
from harness.report.progress import TrainingView
from harness.run import outcome, reconcile
from harness.run.supervisor import LOG, Handover, launch
from harness.runtime.tail import Tail
from harness.store import layout
from harness.store.record import GroupRecord, RunRecord

POLL_SECONDS = 0.2
RECORD_SECONDS = 0.5  # how often the record is read for the run's end
STOP_SECONDS = 180  # a stop waits this long for the supervisor to record the end (Slurm's scancel is slow)


class Detached(Exception):
    """A viewer's Ctrl-C: the run goes on."""


def start(run_dir: Path, started: RunRecord, handover: Handover, console: Console, verbose: bool,
          detach: bool) -> RunRecord:
    """Record the run as running and hand it to its supervisor; then follow it to its end as its owner, or (detach)
    return once its job has started."""
    with reconcile.locked(run_dir):  # no reader takes it for lost before its supervisor is there
        layout.write(run_dir, started)
        launch(run_dir, handover)
    run = wait_started(run_dir) if detach else follow(run_dir, console, verbose, owner=True)
    return run if run.status == "running" else ended(run, run_dir, console)


def wait_started(run_dir: Path) -> RunRecord:
    """The record once the run's job has started, or the run has ended (it failed to start). A Ctrl-C before then
    stops the run: it was not handed over yet."""
    try:
        while True:
            run = reconcile.current(run_dir)
            if run.status != "running" or run.attempts[-1].job_started:
                return run
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        run = reconcile.current(run_dir)
        return _stop_running(run_dir, run, wait=True) if run.status == "running" else run


def follow(run_dir: Path, console: Console, verbose: bool, owner: bool) -> RunRecord:
    """The current attempt's output as a live view, until the record says the run has ended: its final record.

    owner: Ctrl-C (SIGINT, SIGTERM) stops the run and waits for its end; else Ctrl-C raises Detached."""
    run = reconcile.current(run_dir)
    tail = Tail(run_dir / run.console_log, run.attempts[-1].log_offset)

    def finished() -> RunRecord | None:
        run = reconcile.current(run_dir)
        return None if run.status == "running" else run

    def request_stop() -> None:
        run = reconcile.current(run_dir)
        if run.status == "running":  # else it ended as the Ctrl-C came
            _stop_running(run_dir, run, wait=False)

    with TrainingView(console, run.epochs, verbose) as view:
        lines = LineView(view, console)
        return _attached(lambda: _until(tail, lines.feed, finished), request_stop, owner, f"run {run_dir.name}")


def _attached(until_ended, request_stop, owner: bool, what: str):
    """Follow until the end; a Ctrl-C detaches a viewer, and makes an owner stop the run and follow it to its end."""
    try:
        return until_ended()
    except KeyboardInterrupt:
        if not owner:
            raise Detached from None
    try:
        request_stop()
        return until_ended()
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting; the supervisor still records the end
        raise Interrupted(f"interrupted; {what} is being stopped by its supervisor") from None


def _until(tail: Tail, show, finished):
    """Show each new line of tail as it comes until finished() (asked every RECORD_SECONDS) returns a record."""
    checked = 0.0
    while True:
        new = tail.read()
        for line in new:
            show(line)
        if time.monotonic() - checked >= RECORD_SECONDS:
            checked = time.monotonic()
            done = finished()
            if done is not None:
                for line in tail.read(final=True):
                    show(line)
                return done
        if not new:
            time.sleep(POLL_SECONDS)


class LineView:
    """Each line of the job's output to the progress view; the preflight's reports as tables."""

    def __init__(self, view: TrainingView, console: Console):
        self.view, self.console = view, console

    def feed(self, line: str) -> None:
        report = preflight.report_of(line)
        if report is not None:
            from harness.report.terminal import preflight_table

            self.console.print(preflight_table(report))
        self.view.feed(line)


def ended(run: RunRecord, run_dir: Path, console: Console) -> RunRecord:
    """A finished run as its command ends: the record, or the error it exits with (a crash's traceback end shown)."""
    error = outcome.error_of(run, run_dir)
    if error is None:
        return run
    if run.status == "failed" and run.exit_code not in (None, 0):
        tail = outcome.console_tail(run_dir / run.console_log, run.attempts[-1].log_offset)
        for line in outcome.traceback_end(tail):
            console.print(f"  | {line}", markup=False, highlight=False, soft_wrap=True, style="dim")
    raise error


def stop(run_dir: Path, wait: bool = True) -> RunRecord:
    """Stop a running run as Ctrl-C would: its supervisor is told (SIGTERM) and records it `interrupted`; a run
    whose supervisor was lost is stopped here. wait: until the record says it has ended."""
    run = reconcile.current(run_dir)
    if run.status != "running":
        raise BadInput(f"run {run.run_id} is not running (it {_ended_as(run)})")
    host = run.attempts[-1].host
    if host and host != socket.gethostname():
        raise BadInput(f"run {run.run_id} runs on {host}, where its supervisor is: stop it there")
    return _stop_running(run_dir, run, wait)


def _stop_running(run_dir: Path, run: RunRecord, wait: bool) -> RunRecord:
    supervisors = reconcile.supervisors_of(run_dir)
    if not supervisors:
        return reconcile.stopped_without_supervisor(run_dir, run)
    _terminate(supervisors)
    return _wait_ended(run_dir) if wait else run


def _terminate(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _wait_ended(run_dir: Path) -> RunRecord:
    """The final record, once its supervisor has also exited: after a stop, nothing of the run is left running."""
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        run = reconcile.current(run_dir)
        if run.status != "running" and not reconcile.supervisors_of(run_dir):
            return run
        time.sleep(POLL_SECONDS)
    raise InfrastructureError(f"run {run_dir.name} was told to stop {STOP_SECONDS} s ago and is still running; "
                              f"see {run_dir / LOG}")


def _ended_as(run: RunRecord) -> str:
    return {"succeeded": "succeeded", "failed": "failed", "interrupted": "was interrupted", "hung": "hung",
            "diverged": "diverged", "stopped": "was stopped below the reference curve"}[run.status]


def follow_campaign(group_id: str, console: Console, owner: bool) -> GroupRecord:
    """A repro campaign's output (its supervisor's log) as it comes, until the group record says it has ended."""
    from harness.run import repro

    group = repro.current_group(group_id)
    tail = Tail(layout.group_dir(group_id) / LOG, group.campaign.log_offset if group.campaign else 0)

    def show(line: str) -> None:
        console.print(line.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)

    def finished() -> GroupRecord | None:
        group = repro.current_group(group_id)
        return group if group.campaign is None or group.campaign.status != "running" else None

    def request_stop() -> None:
        if finished() is None:
            stop_campaign(group_id, wait=False)

    return _attached(lambda: _until(tail, show, finished), request_stop, owner, f"group {group_id}")


def stop_campaign(group_id: str, wait: bool = True) -> GroupRecord:
    """Stop a running campaign as Ctrl-C would: its running run is stopped, the group left resumable."""
    from harness.run import repro

    group = repro.current_group(group_id)
    if group.campaign is None or group.campaign.status != "running":
        raise BadInput(f"group {group_id} has no campaign running (`harness repro --resume {group_id}` continues it)")
    _terminate(repro.campaign_supervisors(group_id))
    if not wait:
        return group
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        group = repro.current_group(group_id)
        if group.campaign.status != "running" and not repro.campaign_supervisors(group_id):
            return group
        time.sleep(POLL_SECONDS)
    raise InfrastructureError(f"group {group_id} was told to stop {STOP_SECONDS} s ago and is still running; see "
                              f"{layout.group_dir(group_id) / LOG}")


def campaign_ended(group: GroupRecord) -> GroupRecord:
    """A finished campaign as its command ends: the record (its verdict to show), or the error it exits with."""
    found = group.campaign
    if found is None or found.status == "finished":
        return group
    error = HarnessError(found.error or found.status)
    error.exit_code = ExitCode(found.exit_code or ExitCode.INFRASTRUCTURE)
    raise error


def run_or_group(target: str) -> tuple[Path | None, str | None]:
    """What `harness attach` and `stop` were given: a run (a directory, a run id) first, then a repro group of
    that name, then a run id's unique start."""
    given = Path(target)
    exact = given if given.exists() else layout.root() / given
    if layout.is_run(exact):
        return exact, None
    if len(given.parts) == 1 and (layout.group_dir(target) / layout.GROUP_RECORD).is_file():
        return None, target
    run_dir = layout.resolve(given)
    if layout.is_run(run_dir):
        return run_dir, None
    raise BadInput(f"{target}: no run or repro group of that name under {layout.root()} (pass a run id, a run "
                   "directory or a group id)")
