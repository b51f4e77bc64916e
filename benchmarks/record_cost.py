"""What a complete run record costs, side by side in one run:

1. collecting the environment facts (source revision, stack, machine, GPUs): median of 5;
2. the dataset fingerprint of a COCO 2017-shaped tree (118,287 + 5,000 image files, a 450 MB
   instances_train2017.json; made by benchmarks/coco_shape.py): the first pass and the median of 3 more,
   and a deep pass (every image hashed; images per second: here the files are tiny, so this is the
   per-file cost, not a disk's throughput);
3. against the run's own start-up: seconds from `harness train` (smoke, cpu) to its first logged training
   iteration, and what that run's record says its own collectors and fingerprint took.

    .venv/bin/python benchmarks/record_cost.py [--tree DIR]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.coco_shape import make_coco_tree  # noqa: E402
from harness.data import fingerprint
from harness.edges import host
from harness.store import layout  # noqa: E402
from harness.bootstrap import default_cache  # noqa: E402


def timed(function, times: int) -> list[float]:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        function()
        spent.append(time.perf_counter() - start)
    return spent


def startup(results: Path) -> tuple[float, dict]:
    """Seconds to the first logged training iteration of a fresh smoke run, and its record."""
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "harness", "train", "--epochs", "1", "--verbose"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**__import__("os").environ, "HARNESS_RESULTS": str(results)})
    first = None
    for line in process.stdout:
        if "Epoch(train)" in line:
            first = time.monotonic() - start
            break
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    (run,) = [e.record for e in layout.runs(results)]
    return first, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=default_cache() / "bench" / "coco-shape")
    args = parser.parse_args()
    start = time.perf_counter()
    tree = make_coco_tree(args.tree)
    print(f"COCO-shaped tree: {tree} (ready in {time.perf_counter() - start:.1f} s)")
    collect = timed(lambda: host.collect("cpu"), 5)
    first = timed(lambda: fingerprint.fingerprint(tree), 1)[0]
    again = statistics.median(timed(lambda: fingerprint.fingerprint(tree), 3))
    files = fingerprint.image_count(tree)
    deep = timed(lambda: fingerprint.fingerprint(tree, deep=True), 1)[0]
    with tempfile.TemporaryDirectory() as scratch:
        to_first_iteration, run = startup(Path(scratch) / "results")
    print(f"environment facts:             {statistics.median(collect):6.2f} s (median of 5)")
    print(f"dataset fingerprint, COCO size: {first:6.2f} s first pass, {again:.2f} s median of 3 more")
    print(f"deep fingerprint, COCO size:    {deep:6.2f} s ({files / deep:,.0f} images/s over {files:,} tiny files)")
    print(f"smoke run start-up:             {to_first_iteration:6.2f} s to the first logged training iteration; "
          f"its record's facts took {run.environment.seconds:.2f} s and its fingerprint {run.dataset.seconds:.3f} s")
    share = (statistics.median(collect) + again) / to_first_iteration
    print(f"record cost at COCO scale / run start-up: {share:.1%} "
          f"({statistics.median(collect) + again:.2f} s of {to_first_iteration:.2f} s)")


if __name__ == "__main__":
    main()
