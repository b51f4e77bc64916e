"""The dataset check at COCO 2017's scale, side by side in one run, each in a fresh process:

1. the standard library's `json.load` of instances_train2017.json (450 MB, 860,001 annotations): seconds
   and peak memory (the yardstick);
2. `harness.data.check.check_dataset` of the whole tree (both splits: both annotation files read and decoded,
   118,287 + 5,000 file names listed, every rule of harness.data.coco_rules, COCO's 80 categories): seconds and
   peak memory; targets: at most 0.5 x json.load's time, peak at most 2 x the file's size;
3. `harness dataset check ROOT --benchmark reppoints-r101-dcn-2x` from the shell (start-up included);
4. the deep check (`--deep`: every image opened and decoded across the cores): images per second.

The tree is benchmarks/coco_shape.py's, written once (about 2 minutes) and reused.

    .venv/bin/python benchmarks/dataset_scale.py [--tree DIR] [--no-deep]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.coco_shape import make_coco_tree  # noqa: E402
from harness.bootstrap import default_cache  # noqa: E402

# Each measurement in its own interpreter: peak memory (ru_maxrss) is then the measured work's own.
STDLIB = """
import json, resource, sys, time
start = time.perf_counter()
with open(sys.argv[1], 'rb') as handle:
    data = json.load(handle)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "annotations": len(data["annotations"])}))
"""
HARNESS = """
import json, resource, sys, time
from harness.spec.coco_categories import COCO_80
from harness.data.check import check_dataset
start = time.perf_counter()
summary = check_dataset(sys.argv[1], COCO_80, deep=sys.argv[2] == 'deep')
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "images": sum(s.images for s in summary.splits), "warnings": summary.warnings}))
"""


def measured(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cli_seconds(tree: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "dataset", "check", str(tree), "--benchmark",
                    "reppoints-r101-dcn-2x"], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=default_cache() / "bench" / "coco-shape")
    parser.add_argument("--no-deep", action="store_true", help="skip the deep check (about a minute on 2 cores)")
    args = parser.parse_args()
    tree = make_coco_tree(args.tree)
    train_file = tree / "annotations" / "instances_train2017.json"
    size = train_file.stat().st_size
    stdlib = measured(STDLIB, str(train_file))
    harness = measured(HARNESS, str(tree), "shallow")
    print(f"tree {tree}: instances_train2017.json {size / 1e6:.0f} MB, {stdlib['annotations']:,} annotations, "
          f"{harness['images']:,} images")
    print(f"json.load (train file only)     {stdlib['seconds']:6.2f} s   peak {stdlib['peak'] / 1e6:6.0f} MB")
    print(f"harness check (whole tree)      {harness['seconds']:6.2f} s   peak {harness['peak'] / 1e6:6.0f} MB")
    print(f"  time ratio {harness['seconds'] / stdlib['seconds']:.2f} (target <= 0.5); "
          f"peak / file size {harness['peak'] / size:.2f} (target <= 2)")
    print(f"`harness dataset check` from the shell: {cli_seconds(tree):.2f} s (start-up included)")
    if not args.no_deep:
        deep = measured(HARNESS, str(tree), "deep")
        shallow = harness["seconds"]
        print(f"deep check: {deep['seconds']:.1f} s, {deep['images'] / (deep['seconds'] - shallow):,.0f} images/s "
              f"decoded (640x480 JPEGs; the shallow check's {shallow:.1f} s subtracted)")


if __name__ == "__main__":
    main()
