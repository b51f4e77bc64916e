"""Wall time of `harness train` (local runtime) against the bare mmdet `tools/train.py` on the same config.

Runs side by side, alternating which goes first, and prints each pair and the median ratio.
Target: median ratio <= 1.02. The harness's overhead is a constant (dataset check, run record,
log streaming), so a shorter run (--epochs) gives a pessimistic ratio.

    .venv/bin/python benchmarks/overhead.py [--pairs 3] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = [sys.executable, "-m", "harness"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def harness_run(work: Path, epochs: int, env: dict[str, str]) -> float:
    return timed([*HARNESS, "train", "--epochs", str(epochs), "--work-dir", str(work)], env)


def bare_run(template: Path, work: Path, env: dict[str, str]) -> float:
    """The same command the harness ran, with the harness (and its preflight in front of it) out of the way."""
    argv = json.loads((template / "run.json").read_text())["attempts"][-1]["command"]
    argv = argv[argv.index("--") + 1:] if "--" in argv else argv
    work.mkdir(parents=True)
    (work / "config.py").write_text((template / "config.py").read_text())
    argv = [a.replace(str(template), str(work)) for a in argv]
    return timed(argv, {**env, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "PYTHONUNBUFFERED": "1"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="harness-overhead-"))
    env = {**os.environ, "HARNESS_RESULTS": str(root / "results")}
    harness_run(root / "warmup", args.epochs, env)  # generates the dataset, warms the page cache
    ratios = []
    for pair in range(args.pairs):
        if pair % 2 == 0:
            ours = harness_run(root / f"harness-{pair}", args.epochs, env)
            bare = bare_run(root / "warmup", root / f"bare-{pair}", env)
        else:
            bare = bare_run(root / "warmup", root / f"bare-{pair}", env)
            ours = harness_run(root / f"harness-{pair}", args.epochs, env)
        ratios.append(ours / bare)
        print(f"pair {pair + 1}: harness {ours:.1f} s, bare train.py {bare:.1f} s, ratio {ours / bare:.3f}", flush=True)
    print(f"median ratio harness/bare over {args.pairs} pairs ({args.epochs} epochs each): "
          f"{statistics.median(ratios):.3f} (target <= 1.02)")


if __name__ == "__main__":
    main()
