"""Is `harness bench`'s projection right? On the cpu platform, side by side in one run: `harness bench` of the
smoke benchmark, then the full smoke run (`harness train`, 20 epochs) it projects; prints the projection, the
real wall time (the record's start to finish, as the projection counts it), the error (target: within 10 %),
and the bench's own cost as a fraction of the full run.

    .venv/bin/python benchmarks/bench_projection.py [--warmup 5] [--iters 20] [--eval-images 100]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HARNESS = [sys.executable, "-m", "harness"]


def run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*HARNESS, *argv], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def record(results: Path, kind: str) -> dict:
    for run_dir in sorted(results.iterdir()):
        data = json.loads((run_dir / "run.json").read_text())
        if data["spec"]["kind"] == kind:
            return data
    raise SystemExit(f"no {kind} run under {results}")


def logged_iteration_seconds(results: Path, data: dict) -> float:
    """The full run's own seconds per iteration: the mean of mmengine's `time:` over its training log lines."""
    text = (results / data["run_id"] / data["console_log"]).read_text()
    return statistics.fmean(float(t) for t in re.findall(r"Epoch\(train\).*?\stime: ([\d.]+)", text))


def seconds(data: dict) -> float:
    return (datetime.fromisoformat(data["finished"]) - datetime.fromisoformat(data["started"])).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--eval-images", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-projection-") as tmp:
        results = Path(tmp) / "results"
        env = {**os.environ, "HARNESS_RESULTS": str(results)}
        bench_wall = run(["bench", "--warmup", str(args.warmup), "--iters", str(args.iters),
                          "--eval-images", str(args.eval_images)], env)
        train_wall = run(["train"], env)
        bench, train = record(results, "bench"), record(results, "train")
        full_per_iter = logged_iteration_seconds(results, train)
    result, actual = bench["bench"], seconds(train)
    projected = result["projected_seconds"]
    parts = ", ".join(f"{name} {value:.1f} s" for name, value in result["projection"].items())
    print(f"bench: {args.warmup} warm-up + {args.iters} timed iterations, {result['eval_images']} of "
          f"{result['val_images']} validation images; {result['seconds_per_iter']:.3f} s/iteration "
          f"(sd {result['seconds_per_iter_sd']:.3f}), {result['images_per_second']:.2f} images/s, "
          f"data {result['data_share']:.0%}")
    print(f"projected full run: {projected:.1f} s ({parts})")
    print(f"real full run:      {actual:.1f} s (record start to finish; {train_wall:.1f} s wall with the CLI); "
          f"{full_per_iter:.3f} s/iteration in its log")
    print(f"projection error:   {100 * (projected - actual) / actual:+.1f} % (target within 10 %)")
    print(f"bench cost:         {bench_wall:.1f} s wall, {bench_wall / train_wall:.1%} of the full run's wall time")


if __name__ == "__main__":
    main()
