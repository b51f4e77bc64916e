"""What the supervisor costs: its CPU seconds per hour of training, and how long a log line takes from being
written to console.log to being shown by an attached view.

1. A real detached training of the smoke benchmark (`harness train --detach --epochs E`): the supervisor's CPU
   time (utime + stime from /proc, sampled until it exits; its start-up imports included) against the job's wall
   time; and the training processes' CPU time beside it, for scale.
2. `harness attach` of a running run (a copy of the golden store's finished run, its record set running, with a
   stand-in process holding the supervisor's command line so the record is believed): evaluation lines appended
   to console.log at known times, and the time each appears on attach's stdout.

    .venv/bin/python benchmarks/supervisor_cost.py [--epochs 2] [--lines 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = [sys.executable, "-m", "harness"]
TICKS = os.sysconf("SC_CLK_TCK")
GOLDEN_RUN = ROOT / "tests" / "data" / "store" / "20261203-085910-smoke"


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def supervisor_cpu(work: Path, epochs: int) -> dict:
    from harness.run.reconcile import supervisors_of
    from harness.runtime.local import processes_in

    run = work / "run"
    subprocess.run([*HARNESS, "train", "--detach", "--epochs", str(epochs), "--work-dir", str(run)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (pid,) = supervisors_of(run)  # --detach returned once the job started: the supervisor's start-up is behind it
    start_up = supervisor = cpu_seconds(pid)
    job: dict[int, float] = {}
    while (seen := cpu_seconds(pid)) is not None:
        supervisor = seen
        for child in processes_in(run):
            job[child] = cpu_seconds(child) or job.get(child, 0.0)
        time.sleep(0.5)
    record = json.loads((run / "run.json").read_text())
    attempt = record["attempts"][-1]
    wall = _seconds(attempt["finished"]) - _seconds(attempt["job_started"])
    return {"status": record["status"], "job_wall_s": wall, "start_up_cpu_s": start_up,
            "following_cpu_s": supervisor - start_up, "job_cpu_s": sum(job.values()),
            "cpu_s_per_hour": (supervisor - start_up) * 3600 / wall}


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def running_copy(store: Path) -> Path:
    run = shutil.copytree(GOLDEN_RUN, store / GOLDEN_RUN.name, ignore=shutil.ignore_patterns("*.pth"))
    data = json.loads((run / "run.json").read_text())
    size = (run / "console.log").stat().st_size
    attempt = {**data["attempts"][-1], "status": "running", "finished": None, "host": socket.gethostname(),
               "log_offset": size}
    data.update(status="running", finished=None, attempts=[attempt], final_metrics=None)
    (run / "run.json").write_text(json.dumps(data))
    return run


def attach_latency(store: Path, lines: int) -> list[float]:
    run = running_copy(store)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "harness.run.supervisor",
                                 str(run.resolve())])
    viewer = subprocess.Popen([*HARNESS, "attach", str(run)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "HARNESS_RESULTS": str(store), "COLUMNS": "120"})
    shown: dict[int, float] = {}

    def read() -> None:
        for line in viewer.stdout:
            if "evaluation: bbox_mAP" in line:
                shown[int(line.split("epoch")[1].split()[0])] = time.monotonic()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(3)  # the viewer's start-up
    written = {}
    try:
        with (run / "console.log").open("a", buffering=1) as log:
            for epoch in range(101, 101 + lines):
                written[epoch] = time.monotonic()
                log.write(f"2026/12/07 10:00:00 - mmengine - INFO - Epoch(val) [{epoch}][4/4]    "
                          "coco/bbox_mAP: 0.5000  coco/bbox_mAP_50: 0.7000  data_time: 0.01  time: 0.1\n")
                time.sleep(0.5)
        time.sleep(1)
    finally:
        viewer.kill()
        stand_in.kill()
    return [shown[e] - written[e] for e in written if e in shown]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lines", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cost = supervisor_cpu(work, args.epochs)
        print(f"supervisor: start-up {cost['start_up_cpu_s']:.2f} CPU s once; then {cost['following_cpu_s']:.2f} CPU s "
              f"following a job of {cost['job_wall_s']:.0f} s wall ({cost['status']}) = "
              f"{cost['cpu_s_per_hour']:.1f} CPU s per hour of training ({cost['cpu_s_per_hour'] / 36:.2f} % of a "
              f"core); the training's own processes used {cost['job_cpu_s']:.0f} CPU s")
        (work / "store").mkdir()
        delays = attach_latency(work / "store", args.lines)
    print(f"attach: {len(delays)} of {args.lines} lines shown; from written to shown: median "
          f"{1000 * statistics.median(delays):.0f} ms, max {1000 * max(delays):.0f} ms")


if __name__ == "__main__":
    main()
