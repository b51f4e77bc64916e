"""Helpers the test modules share: child harness processes, waiting, and reading what runs wrote.

Golden data (tests/golden/) was made by the pinned stack: tests/golden/make_store.py, make_workdirs.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def cut_before_first_evaluation(source: Path, target: Path) -> Path:
    """A copy of a text log that ends just before its first evaluation line."""
    from harness import logs

    lines = source.read_text().splitlines(keepends=True)
    first_val = next(i for i, l in enumerate(lines) if isinstance(logs.parse_line(l), logs.Evaluation))
    target.write_text("".join(lines[:first_val]))
    return target


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def harness_process(work_dir, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness", "train", "--work-dir", str(work_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def group_runs(results: Path, group: str) -> dict[int, dict]:
    found = {}
    for path in results.glob("*/run.json"):
        data = read_json(path)
        if data.get("group") == group:
            found[data["spec"]["seed"]] = data
    return found


def copy_run(run, target, spec_changes=None, **changes):
    shutil.copytree(run, target)
    data = json.loads((target / "run.json").read_text())
    data["spec"] = {**data["spec"], **(spec_changes or {})}
    (target / "run.json").write_text(json.dumps({**data, **changes}))
    return target


def in_epoch_2(run: Path) -> bool:
    return (run / "work_dir" / "epoch_1.pth").exists() and "Epoch(train) [2]" in _read(run / "console.log")


# gloo binds to the address of the machine's hostname unless told: inside a node's namespace that is
# not reachable from the other node. Users pass their cluster's interface the same way.
ACROSS_NODES = "--slurm-arg=--export=ALL,GLOO_SOCKET_IFNAME=eth0"


# Two processes of 4 images: the total batch of the one-process smoke run, so its reference applies.
HALF_BATCH = "--cfg-option=train_dataloader.batch_size=4"
