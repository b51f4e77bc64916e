"""Fuzz every log parser with 10,000 mutated real logs each (CI runs a smaller count).

Runs tests/logs/test_fuzz.py with HARNESS_FUZZ_EXAMPLES set; the test session first trains the smoke
benchmark (about 2 minutes) to have real logs to mutate.

    .venv/bin/python benchmarks/fuzz_parsers.py [--examples 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "--hypothesis-show-statistics",
                             "tests/logs/test_fuzz.py"],
                            cwd=ROOT, env={**os.environ, "HARNESS_FUZZ_EXAMPLES": str(args.examples)})
    verdict = "no crash" if result.returncode == 0 else "CRASHES FOUND (see above)"
    print(f"{args.examples} mutated logs per parser x 3 parsers: {verdict}, {time.perf_counter() - started:.0f} s")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
