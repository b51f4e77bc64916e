"""Run a job as a subprocess of this machine's Python environment, streaming its output."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Callable

from harness.errors import InfrastructureError, Interrupted
from harness.job import Job

GRACE_SECONDS = 30


def run(job: Job, cwd: Path, console_log: Path, on_line: Callable[[str], None]) -> tuple[int, str | None]:
    """Run to completion; every output line goes to console_log (appended: earlier attempts stay) and to on_line.

    Returns the exit code and, for a process killed by a signal, that cause."""
    env = {**os.environ, **job.env}
    try:
        process = subprocess.Popen(job.argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace", bufsize=1, start_new_session=True)
    except OSError as exc:
        raise InfrastructureError(f"cannot start {job.argv[0]}: {exc.strerror}") from exc
    try:
        with console_log.open("a", buffering=1) as log:
            for line in process.stdout:
                log.write(line)
                on_line(line)
        code = process.wait()
        return code, signal_cause(-code) if code < 0 else None
    except KeyboardInterrupt:
        _stop(process)
        raise Interrupted("interrupted; the training processes were stopped") from None


def signal_cause(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"the training process was killed by {name}"


def _stop(process: subprocess.Popen) -> None:
    """SIGINT the whole process group (torch.distributed workers too), then SIGKILL after a grace period."""
    for sig, wait in ((signal.SIGINT, GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
