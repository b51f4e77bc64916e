"""How fast the CLI answers: median wall time of several runs of each, side by side with its target.

    .venv/bin/python benchmarks/startup.py [--repeat 7] [--run RESULTS_RUN_DIR]

- `harness --help`                                     target 0.3 s
- `harness train --data BAD` to its one-line error     target 1 s  (a COCO tree without val2017)
- `harness verify RUN` of a finished smoke run         target 1 s  (without --run, a 2-epoch smoke run is made)
- `python -c "import harness.cli"`, for reference (the import alone)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.data.synth import SynthParams, write_synthetic  # noqa: E402

HARNESS = [sys.executable, "-m", "harness"]


def median_seconds(argv: list[str], repeat: int, cwd: Path) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        code = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def bad_dataset(scratch: Path) -> Path:
    data = write_synthetic(scratch / "bad", SynthParams(train=2, val=1))
    shutil.rmtree(data / "val2017")
    return data


def finished_run(scratch: Path) -> Path:
    run = scratch / "smoke"
    subprocess.run([*HARNESS, "train", "--epochs", "2", "--work-dir", str(run)], cwd=scratch, check=True,
                   stdout=subprocess.DEVNULL)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--run", type=Path, help="a finished smoke run to verify (default: make one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        scratch = Path(tmp)
        run = args.run.resolve() if args.run else finished_run(scratch)
        cases = [
            ("harness --help", [*HARNESS, "--help"], 0.3),
            ("harness train --data BAD (error)", [*HARNESS, "train", "--data", str(bad_dataset(scratch))], 1.0),
            ("harness verify RUN", [*HARNESS, "verify", str(run)], 1.0),
            ("import harness.cli", [sys.executable, "-c", "import harness.cli"], None),
        ]
        print(f"median of {args.repeat} runs each")
        print(f"{'command':36} {'median s':>9} {'target s':>9} {'exit':>5}  verdict")
        for name, argv, target in cases:
            seconds, code = median_seconds(argv, args.repeat, scratch)
            verdict = "-" if target is None else ("met" if seconds <= target else "MISSED")
            print(f"{name:36} {seconds:9.3f} {target if target else '-':>9} {code:5}  {verdict}")


if __name__ == "__main__":
    main()
