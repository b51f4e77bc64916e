"""Wall time of the smoke benchmark in the cpu image (`--runtime docker`) against the local runtime.

Same config, side by side, alternating which goes first; prints each pair, the median ratio
docker/local (target <= 1.10), and for each run the time from `harness train` to the first
training line mmengine logs (the smoke config logs every 4 iterations, so this is iteration 4:
container start, imports, dataset and model build, then 4 iterations).

Needs a Docker engine (DOCKER_HOST) with the cpu image built (`harness build`).

    .venv/bin/python benchmarks/docker_overhead.py [--pairs 2] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = [sys.executable, "-m", "harness", "train", "--verbose"]


def timed_run(runtime: str, work: Path, epochs: int, env: dict[str, str]) -> tuple[float, float | None]:
    """Wall seconds, and seconds until the first `Epoch(train)` line appeared on the harness's output."""
    started, first = time.perf_counter(), None
    process = subprocess.Popen([*HARNESS, "--runtime", runtime, "--epochs", str(epochs), "--work-dir", str(work)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if first is None and "Epoch(train)" in line:
            first = time.perf_counter() - started
    if process.wait() != 0:
        sys.exit(f"{runtime} run failed: see {work}/console.log")
    return time.perf_counter() - started, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="harness-docker-overhead-"))
    env = {**os.environ, "HARNESS_RESULTS": str(root / "results"), "COLUMNS": "200"}
    timed_run("local", root / "warmup", 1, env)  # generates the dataset, warms the page cache
    ratios, firsts = [], {"local": [], "docker": []}
    for pair in range(args.pairs):
        order = ("local", "docker") if pair % 2 == 0 else ("docker", "local")
        walls = {}
        for runtime in order:
            walls[runtime], first = timed_run(runtime, root / f"{runtime}-{pair}", args.epochs, env)
            firsts[runtime].append(first)
        ratios.append(walls["docker"] / walls["local"])
        print(f"pair {pair + 1}: docker {walls['docker']:.1f} s, local {walls['local']:.1f} s, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"median ratio docker/local over {args.pairs} pairs ({args.epochs} epochs each): "
          f"{statistics.median(ratios):.3f} (target <= 1.10)")
    for runtime, seconds in firsts.items():
        print(f"{runtime}: `harness train` to the first logged training iteration (iteration 4): "
              f"{', '.join(f'{s:.1f} s' for s in seconds)}")


if __name__ == "__main__":
    main()
