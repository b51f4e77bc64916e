"""How long `harness publish` takes on a store of a few hundred runs (the issue's goal: seconds for 500).

    .venv/bin/python benchmarks/publish_scale.py [--runs 500] [--groups 50]

The store is made of the golden store's real runs (tests/data/store): each synthetic record is a copy of a
real one's record under a new id, time and stack (four stacks: two cuda cards, two ixuca SDKs), its work_dir
a symlink to the real run's logs, so every run is parsed and judged as a real one would be. The first
--groups x 3 runs form groups of three. Prints the time of each step of a publish and of a second publish
into the same directory (which replaces what the first wrote).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import files
from harness.store import record
from harness.store import layout  # noqa: E402
from harness.edges.host import Machine, Stack  # noqa: E402
from harness.site import collect, output, render  # noqa: E402

GOLDEN = ROOT / "tests" / "data" / "store"
STACKS = [("cuda", "2.1.2", Machine(gpu_model="NVIDIA A100-SXM4-80GB", cuda="12.1")),
          ("cuda", "2.1.2", Machine(gpu_model="NVIDIA H100 80GB HBM3", cuda="12.4")),
          ("ixuca", "2.1.1", Machine(gpu_model="Iluvatar BI-V150", sdk="4.1.0")),
          ("ixuca", "2.1.1", Machine(gpu_model="Iluvatar BI-V150", sdk="4.2.0"))]


def make_store(where: Path, runs: int, groups: int) -> None:
    templates = [(path.parent, layout.read(path.parent)) for path in sorted(GOLDEN.glob("*/run.json"))]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for number in range(runs):
        source, run = templates[number % len(templates)]
        platform, torch, machine = STACKS[(number // 3) % len(STACKS)]
        grouped = number < groups * 3
        group_id = f"g{number // 3:03d}" if grouped else None
        run_id = f"run-{number:04d}"
        started = (start + timedelta(minutes=number)).isoformat()
        environment = run.environment.model_copy(update={
            "machine": machine, "stack": Stack(packages={**run.environment.stack.packages, "torch": torch})})
        spec = run.spec.model_copy(update={"platform": platform, "seed": number % 3 if grouped else run.seed})
        copy = run.model_copy(update={"run_id": run_id, "started": started, "group": group_id, "spec": spec,
                                      "environment": environment})
        run_dir = where / run_id
        run_dir.mkdir(parents=True)
        (run_dir / layout.WORK_DIR).symlink_to(source / run.work_dir)
        layout.write(run_dir, copy)
    for index in range(groups):
        group_dir = where / layout.GROUPS / f"g{index:03d}"
        group_dir.mkdir(parents=True)
        template = record.read_group(next(GOLDEN.glob("groups/*/group.json")))
        files.write_json_atomic(group_dir / layout.GROUP_RECORD, template.model_copy(update={
            "group_id": group_dir.name, "seeds": [0, 1, 2],
            "created": (start + timedelta(minutes=3 * index)).isoformat()}).model_dump(mode="json"))


def timed(what: str, step):
    started = time.perf_counter()
    value = step()
    print(f"  {what:<10} {time.perf_counter() - started:6.2f} s")
    return value, time.perf_counter() - started


def publish_once(where: Path, out: Path) -> float:
    site, collecting = timed("collect", lambda: collect.collect(where))
    files, rendering = timed("render", lambda: render.pages(site))
    _, writing = timed("write", lambda: output.write_site(out, files))
    size = sum(len(content) for content in files.values())
    print(f"  {len(site.runs)} runs, {len(site.groups)} groups, {len(site.comparisons)} comparisons, "
          f"{len(site.stacks)} stack rows; {len(files)} files, {size / 1e6:.1f} MB")
    return collecting + rendering + writing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--groups", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where, out = Path(tmp) / "results", Path(tmp) / "site"
        make_store(where, args.runs, args.groups)
        print(f"store: {args.runs} records ({args.groups} groups of 3) from {GOLDEN}")
        print("first publish:")
        first = publish_once(where, out)
        print(f"  total      {first:6.2f} s")
        print("second publish (replaces the first):")
        second = publish_once(where, out)
        print(f"  total      {second:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
