"""Long-run figures, measured side by side in one run on the smoke benchmark (cpu platform):

1. Divergence: a loss made NaN from the first iteration (`--cfg-option model.bbox_head.loss_cls.loss_weight=nan`).
   With the harness's divergence check, and with the check removed (`custom_hooks=[]`, mmengine alone):
   training iterations run after the first non-finite loss, and seconds from it to the end of the process.
2. Resume: seconds from `harness train` to its first training iteration, against seconds from
   `harness train --resume` (of the same run, killed in epoch 2) to its first new training iteration.

    .venv/bin/python benchmarks/long_runs.py [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import logs  # noqa: E402
from harness.errors import BadInput  # noqa: E402
from harness.runtime.local import processes_in  # noqa: E402

NAN_LOSS = "model.bbox_head.loss_cls.loss_weight=nan"


class Timed:
    """`harness ...` as a subprocess, every output line time-stamped as it arrives."""

    def __init__(self, *args: str):
        self.start = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []

    def until(self, predicate) -> float | None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.start, line))
            if predicate(line):
                return self.lines[-1][0]
        return None

    def finish(self) -> float:
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.start, line))
        self.process.wait()
        return time.monotonic() - self.start


def first_nan(lines: list[tuple[float, str]]) -> float | None:
    return next((t for t, line in lines if "loss: nan" in line or "loss nan" in line), None)


def divergence(work: Path, epochs: int, checked: bool) -> dict:
    run = work / ("checked" if checked else "unchecked")
    extra = [] if checked else ["--cfg-option", "custom_hooks=[]"]
    timed = Timed("train", "-v", "--epochs", str(epochs), "--work-dir", str(run), "--cfg-option", NAN_LOSS, *extra)
    total = timed.finish()
    nan_at = first_nan(timed.lines)
    try:
        parsed = logs.parse_path(run / "work_dir")
    except BadInput:  # the process died before it logged a training line
        return {"exit": timed.process.returncode, "first_nan_iter": None, "last_iter": None,
                "seconds_after_nan": None, "wall": total, "logged": False}
    nan_iter = parsed.diverged_at.iter if parsed.diverged_at else None
    last_iter = parsed.last_step.iter if parsed.last_step else None
    return {"exit": timed.process.returncode, "first_nan_iter": nan_iter, "last_iter": max(last_iter or 0, nan_iter or 0),
            "seconds_after_nan": None if nan_at is None else total - nan_at, "wall": total, "logged": True}


def resume_cost(work: Path, epochs: int) -> tuple[float, float]:
    run = work / "resumed"
    fresh = Timed("train", "-v", "--epochs", str(epochs + 1), "--work-dir", str(run))
    to_first = fresh.until(lambda line: "Epoch(train)" in line)
    fresh.until(lambda line: "Epoch(train) [2]" in line and (run / "work_dir" / "epoch_1.pth").exists())
    for pid in processes_in(run):
        os.kill(pid, signal.SIGKILL)
    fresh.finish()
    resumed = Timed("train", "-v", "--resume", str(run))
    to_resumed = resumed.until(lambda line: "Epoch(train)" in line)
    resumed.process.send_signal(signal.SIGINT)
    resumed.finish()
    return to_first, to_resumed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="long-runs-") as scratch:
        work = Path(scratch)
        rows = {"harness check": divergence(work, args.epochs, True), "mmengine alone": divergence(work, args.epochs, False)}
        print(f"divergence: loss NaN from the first iteration, smoke benchmark, {args.epochs} epochs of 16 iterations")
        print(f"{'':16} {'exit':>5} {'first NaN':>10} {'last iter':>10} {'iters after NaN':>16} {'s after NaN':>12} "
              f"{'wall s':>8}")
        for name, row in rows.items():
            after = None if row["first_nan_iter"] is None else row["last_iter"] - row["first_nan_iter"]
            if not row["logged"]:
                print(f"{name:16} {row['exit']:>5}  died before logging any training line; wall {row['wall']:.1f} s")
                continue
            seconds = "-" if row["seconds_after_nan"] is None else f"{row['seconds_after_nan']:.1f}"
            print(f"{name:16} {row['exit']:>5} {str(row['first_nan_iter']):>10} {str(row['last_iter']):>10} "
                  f"{str(after):>16} {seconds:>12} {row['wall']:>8.1f}")
        fresh, resumed = resume_cost(work, args.epochs)
        print(f"\nstart-up: harness train -> first iteration {fresh:.1f} s; harness train --resume -> first new "
              f"iteration {resumed:.1f} s (ratio {resumed / fresh:.2f})")
        print(json.dumps({"divergence": rows, "first_iteration_s": round(fresh, 2),
                          "resume_first_iteration_s": round(resumed, 2)}))


if __name__ == "__main__":
    main()
