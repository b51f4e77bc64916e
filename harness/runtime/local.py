"""`--runtime local`: the job as a process of this machine's Python environment, its output written straight
into the run's console.log (never into a pipe: a reader that dies must not take the training with it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from harness.errors import InfrastructureError
from harness.job.command import Job, mmdet_tools_dir
from harness.runtime import waiter
from harness.runtime.base import Ending, JobSite, Lost, Runtime
from harness.runtime.tail import Tail, size
from harness.store import layout
from harness.store.record import RunRecord

GRACE_SECONDS = 30
EXIT_FILE = "job.exit"  # the job's exit status, written by harness.runtime.waiter
POLL_SECONDS = 0.2


class LocalRuntime(Runtime):
    name = "local"
    writes_console_log = True

    def job_site(self) -> JobSite:
        return JobSite(python=sys.executable, tools_dir=mmdet_tools_dir(), run_dir=self.run_dir)

    def start(self, job: Job) -> None:
        log, exit_file = self.run_dir / layout.CONSOLE_LOG, self.run_dir / EXIT_FILE
        exit_file.unlink(missing_ok=True)
        self.tail = Tail(log, size(log))
        argv = [sys.executable, "-m", "harness.runtime.waiter", str(exit_file), "--", *job.argv]
        try:
            with log.open("ab") as output:
                self.process = subprocess.Popen(argv, cwd=self.run_dir, env={**os.environ, **job.env},
                                                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        except OSError as exc:
            raise InfrastructureError(f"cannot start {job.argv[0]}: {exc.strerror}") from exc

    def follow(self) -> Iterator[str]:
        while True:
            done = self.process.poll() is not None
            lines = self.tail.read(final=done)
            yield from lines
            if done:
                return
            if not lines:
                time.sleep(POLL_SECONDS)

    def ending(self) -> Ending:
        own = self.process.wait()  # the waiter's: the job's status unless the waiter itself was killed
        written = waiter.read(self.run_dir / EXIT_FILE)
        return exit_ending(written if written is not None else own)

    def stop(self) -> None:
        if getattr(self, "process", None) is not None:
            stop_process_group(self.process.pid, self.process.wait)

    @classmethod
    def alive(cls, run: RunRecord, run_dir: Path) -> list[str]:
        return [f"process {pid}" for pid in processes_in(run_dir)]

    @classmethod
    def lost_ending(cls, run: RunRecord, run_dir: Path) -> Lost | None:
        if processes_in(run_dir):
            return None
        return Lost(exit_ending(waiter.read(run_dir / EXIT_FILE)))

    @classmethod
    def stop_lost(cls, run: RunRecord, run_dir: Path) -> None:
        for pid in processes_in(run_dir)[:1]:
            stop_process_group(os.getpgid(pid), lambda timeout=None: _wait_gone(run_dir, timeout))


def exit_ending(code: int | None) -> Ending:
    if code is None:
        return Ending(None, "the training's exit status was not recorded (killed with its harness?)")
    return Ending(code, signal_cause(-code) if code < 0 else None)


def signal_cause(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"the training process was killed by {name}"


def stop_process_group(group: int, wait, grace: float = GRACE_SECONDS) -> None:
    """SIGINT the whole process group (torch.distributed workers too), then SIGKILL after a grace period.

    SIGCONT follows the SIGINT: a stopped process (Ctrl-Z, a debugger) acts on it only once it runs again.
    wait(timeout): returns once the group's leader has ended, raises subprocess.TimeoutExpired otherwise."""
    for signals, timeout in (((signal.SIGINT, signal.SIGCONT), grace), ((signal.SIGKILL,), None)):
        try:
            for sig in signals:
                os.killpg(group, sig)
        except ProcessLookupError:
            return
        try:
            wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def processes_in(run_dir: Path) -> list[int]:
    """Processes whose working directory is the run directory: the job's (and only the job's) processes."""
    target, found = run_dir.resolve(), []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.resolve(strict=True) == target:
                found.append(int(cwd.parent.name))
        except (OSError, RuntimeError):
            continue
    return sorted(found)


def _wait_gone(run_dir: Path, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while processes_in(run_dir):
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired("job", timeout)
        time.sleep(POLL_SECONDS)
