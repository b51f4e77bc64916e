"""Rebuild time of the cpu image after a change to the harness's own code only.

Copies the image sources to a temporary directory, builds the cpu image from the copy with
`harness build` (cold or warm, as the engine's cache has it), changes one harness module,
and builds again. Prints both times, how many Dockerfile steps the rebuild took from the cache,
and the image size. Target: rebuild <= 30 s.

Needs a Docker engine (DOCKER_HOST), the base image local/debian:bookworm
(docker/make-base-image.sh) and the cpu wheelhouse (`python3 -m harness.bootstrap --engine`).

    .venv/bin/python benchmarks/rebuild.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from harness.images.context import copy_sources  # noqa: E402


def build(source: Path, results: Path) -> tuple[float, str]:
    """`harness build` run from the copy (cwd and PYTHONPATH: `python -m` puts the cwd first on sys.path)."""
    env = {**os.environ, "PYTHONPATH": str(source), "HARNESS_RESULTS": str(results), "COLUMNS": "200"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", "build", "--platform", "cpu", "--verbose"],
                          env=env, cwd=source, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"build failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="rebuild-") as scratch:
        source, results = Path(scratch) / "src", Path(scratch) / "results"
        copy_sources(ROOT, source)
        first, _ = build(source, results)
        with (source / "harness" / "job.py").open("a") as module:
            module.write(f"# benchmark change {time.time()}\n")
        second, output = build(source, results)
        cached = len(re.findall(r"Using cache", output))
        steps = len(re.findall(r"^Step \d+/\d+ : (?!LABEL)", output, flags=re.MULTILINE))
        (record,) = sorted(results.glob("images/*.json"), key=os.path.getmtime)[-1:]
        size = json.loads(record.read_text())["size_bytes"]
    print(f"first build (cache as found): {first:.1f} s")
    print(f"rebuild after a harness-only change: {second:.1f} s (target <= 30 s); "
          f"{cached} of {steps} Dockerfile steps from the cache")
    print(f"cpu image size: {size / 1e9:.2f} GB ({size:,} bytes)")


if __name__ == "__main__":
    main()
