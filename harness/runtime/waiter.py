"""`python -m harness.runtime.waiter EXIT_FILE -- COMMAND...`: run a local job and write its exit status to a file.

A local job belongs to its supervisor, which waits for it; if the supervisor is lost (SIGKILL, the OOM killer),
nobody is left to wait, and the job's exit status would be lost with it. This process is the job's parent
instead: it writes the status (`exit N`, or `signal N`) where the supervisor and the reconciliation read it.
It shares the job's process group, so it ignores the SIGINT meant for the training and exits after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

STATUS_BYTES = 32


def main(argv: list[str]) -> int:
    exit_file, command = Path(argv[0]), argv[argv.index("--") + 1:]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)  # a handler, not SIG_IGN: the job itself keeps the default
    tmp = exit_file.with_name(f".{exit_file.name}-{os.getpid()}")
    with tmp.open("w") as status:
        # Its room is taken before the job starts: a job that fills the disk must not take its status with it.
        status.write(" " * STATUS_BYTES)
        status.flush()
        code = subprocess.call(command)
        status.seek(0)
        status.write((f"signal {-code}" if code < 0 else f"exit {code}").ljust(STATUS_BYTES))
    os.replace(tmp, exit_file)
    return 128 - code if code < 0 else code


def read(exit_file: Path) -> int | None:
    """The job's exit code as subprocess gives it (a signal as minus its number); None: not written (yet)."""
    try:
        how, number = exit_file.read_text().split()
    except (OSError, ValueError):
        return None
    return -int(number) if how == "signal" else int(number)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
