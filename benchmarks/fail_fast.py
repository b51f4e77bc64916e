"""Fail fast, measured: a bad dataset stops `harness train` with its one-line error before any model is built.

Side by side in one run, for each of three breakages of the smoke benchmark's dataset (128 + 32 images): the
seconds from `harness train --data BAD` to its exit (median of 3), and from mmdet's own `tools/train.py` on
the same generated config to its exit (once). Targets: at most 1 s, at most 0.1 x mmdet's time.

    .venv/bin/python benchmarks/fail_fast.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.job.command import TRAINING_ENV, JobRequest, mmdet_tools_dir, render_config  # noqa: E402
from harness.spec.benchmarks import benchmark  # noqa: E402
from harness.data.synth import SynthParams, write_synthetic  # noqa: E402


def missing_split(root: Path) -> None:
    shutil.rmtree(root / "val2017")
    (root / "annotations" / "instances_val2017.json").unlink()


def listed_image_absent(root: Path) -> None:
    sorted((root / "train2017").iterdir())[40].unlink()


def invalid_json(root: Path) -> None:
    path = root / "annotations" / "instances_train2017.json"
    path.write_bytes(path.read_bytes()[:-200])


BREAKAGES = {"missing split (val2017)": missing_split, "a listed image absent": listed_image_absent,
             "invalid JSON": invalid_json}


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, done.returncode


def harness_seconds(data: Path, work: Path) -> float:
    env = {**os.environ, "HARNESS_RESULTS": str(work / "results")}
    spent = []
    for _ in range(3):
        seconds, code = timed([sys.executable, "-m", "harness", "train", "--data", str(data)], env, work)
        assert code == 2, f"harness train exited {code}, not 2, on a bad dataset"
        spent.append(seconds)
    return statistics.median(spent)


def mmdet_seconds(data: Path, work: Path) -> float:
    request = JobRequest(benchmark=benchmark("smoke"), data_root=data, platform="cpu", gpus=1, seed=0, epochs=20)
    config = work / "config.py"
    config.write_text(render_config(request))
    argv = [sys.executable, str(mmdet_tools_dir() / "train.py"), str(config), "--work-dir", str(work / "mmdet"),
            "--auto-scale-lr"]
    seconds, code = timed(argv, {**os.environ, **TRAINING_ENV}, work)
    assert code != 0, "mmdet's train.py succeeded on a bad dataset"
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fail-fast-") as tmp:
        good = write_synthetic(Path(tmp) / "good", SynthParams(train=128, val=32, seed=0, image_size=96))
        print(f"{'breakage':28} {'harness':>9} {'mmdet':>9} {'ratio':>7}")
        for name, breakage in BREAKAGES.items():
            case = Path(tmp) / name.split()[0]
            shutil.copytree(good, case / "data")
            breakage(case / "data")
            ours, theirs = harness_seconds(case / "data", case), mmdet_seconds(case / "data", case)
            print(f"{name:28} {ours:8.2f}s {theirs:8.2f}s {ours / theirs:7.3f}")
        print("targets: harness <= 1 s, ratio <= 0.1")


if __name__ == "__main__":
    main()
