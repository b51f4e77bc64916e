"""`--runtime local`: the job as a subprocess of this machine's Python environment, its output streamed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from harness.errors import InfrastructureError
from harness.job import Job, mmdet_tools_dir
from harness.runtime.base import Ending, Runtime, Site

GRACE_SECONDS = 30


class LocalRuntime(Runtime):
    name = "local"

    def site(self) -> Site:
        return Site(python=sys.executable, tools_dir=mmdet_tools_dir(), run_dir=self.run_dir)

    def start(self, job: Job) -> None:
        try:
            self.process = subprocess.Popen(job.argv, cwd=self.run_dir, env={**os.environ, **job.env},
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                            errors="replace", bufsize=1, start_new_session=True)
        except OSError as exc:
            raise InfrastructureError(f"cannot start {job.argv[0]}: {exc.strerror}") from exc

    def follow(self) -> Iterator[str]:
        yield from self.process.stdout

    def ending(self) -> Ending:
        code = self.process.wait()
        return Ending(code, signal_cause(-code) if code < 0 else None)

    def stop(self) -> None:
        stop_process_group(self.process)


def signal_cause(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"the training process was killed by {name}"


def stop_process_group(process: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """SIGINT the whole process group (torch.distributed workers too), then SIGKILL after a grace period.

    SIGCONT follows the SIGINT: a stopped process (Ctrl-Z, a debugger) acts on it only once it runs again."""
    for signals, wait in (((signal.SIGINT, signal.SIGCONT), grace), ((signal.SIGKILL,), None)):
        try:
            for sig in signals:
                os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
