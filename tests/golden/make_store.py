"""Make the golden results store under tests/golden/store/ with the pinned stack: real harness runs of the smoke
benchmark, as `harness publish` and `harness compare --group` read them in the tests (offline, in seconds).

    .venv/bin/python tests/golden/make_store.py [--out tests/golden/store]

What it holds (about 10 minutes on 2 cores):
  groups/golden-a   `harness repro --runs 3 --epochs 6`   (seeds 0, 1, 2)
  groups/golden-b   `harness repro --runs 3 --epochs 4`   (seeds 0, 1, 2: far less trained, so worse than A)
  a full run        `harness train`                       (the embedded default: passes)
  a bench run       `harness bench`
  a diverged run    `harness train --epochs 2 --cfg-option optim_wrapper.optimizer.lr=1000`
  a failed run      `harness train --epochs 3`, its training process SIGKILLed after the first evaluation
Checkpoints and the groups' PNG reports are dropped; records, console logs, configs and work_dir logs are kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def harness(out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "HARNESS_RESULTS": str(out), "COLUMNS": "160"}
    return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env)


def run(out: Path, *args: str) -> int:
    return harness(out, *args).wait()


def failed_run(out: Path) -> None:
    """A training that loses its process after epoch 1's evaluation: recorded as failed, killed by SIGKILL."""
    before = set(out.glob("*/run.json"))
    process = harness(out, "train", "--epochs", "3")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        logs = [p.parent / "console.log" for p in set(out.glob("*/run.json")) - before]
        if logs and "Epoch(val) [1]" in logs[0].read_text(errors="replace"):
            for pid in processes_mentioning(f"{logs[0].parent}/preflight.py"):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.5)
    process.wait()


def processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def strip(out: Path) -> None:
    for checkpoint in out.rglob("*.pth"):
        checkpoint.unlink()
    for report in out.glob("groups/*/report*"):
        shutil.rmtree(report)
    for site in out.glob("site"):
        shutil.rmtree(site)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "golden" / "store")
    out = parser.parse_args().out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run(out, "repro", "--runs", "3", "--epochs", "6", "--group", "golden-a")
    run(out, "repro", "--runs", "3", "--epochs", "4", "--group", "golden-b")
    run(out, "train")
    run(out, "bench")
    run(out, "train", "--epochs", "2", "--cfg-option", "optim_wrapper.optimizer.lr=1000")
    failed_run(out)
    strip(out)
    print(f"golden store: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
