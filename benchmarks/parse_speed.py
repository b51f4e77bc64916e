"""Parse throughput and memory on a large mmengine text log. Target: >= 50 MB/s, peak RSS growth < 100 MB.

The log is synthesised from the line shapes of a real mmengine log (train lines every iteration,
a val line every epoch) and parsed in a fresh process, so its peak RSS growth is the parser's alone.

    .venv/bin/python benchmarks/parse_speed.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HEAD = "2026/11/24 07:00:00 - mmengine - INFO - "
TRAIN = (HEAD + "Epoch(train)  [{e}][{i:>4}/7330]  base_lr: 1.0000e-02 lr: 1.0000e-02  eta: 1 day, 2:03:04  "
         "time: 0.5123  data_time: 0.0123  memory: 3871  grad_norm: 4.1234  loss: {loss:.4f}  loss_cls: 0.6123  "
         "loss_pts_init: 0.3122  loss_pts_refine: 0.5187\n")
VAL = (HEAD + "Epoch(val) [{e}][625/625]    coco/bbox_mAP: 0.{m:03d}0  coco/bbox_mAP_50: 0.6310  "
       "coco/bbox_mAP_75: 0.4630  coco/bbox_mAP_s: 0.2620  coco/bbox_mAP_m: 0.4680  coco/bbox_mAP_l: 0.5630  "
       "data_time: 0.0031  time: 0.0921\n")
CONFIG = HEAD + "Config:\ntrain_cfg = dict(max_epochs=24, type='EpochBasedTrainLoop', val_interval=1)\n"

MEASURE = """
import sys, time
from pathlib import Path
def rss_kb(field):
    return int(next(l for l in open('/proc/self/status') if l.startswith(field)).split()[1])
from harness.logs import mmengine
baseline = rss_kb('VmRSS:')
started = time.perf_counter()
parsed = mmengine.parse_text(Path(sys.argv[1]))
elapsed = time.perf_counter() - started
size = Path(sys.argv[1]).stat().st_size / 1e6
print(f"{size:.0f} MB in {elapsed:.1f} s: {size / elapsed:.1f} MB/s; peak RSS growth "
      f"{(rss_kb('VmHWM:') - baseline) / 1024:.1f} MB; {len(parsed.evaluations)} evaluations, "
      f"{len(parsed.steps)} curve points, last iteration {parsed.last_step.iter}")
"""


def synthesise(path: Path, size_mb: int) -> None:
    with path.open("w") as out:
        out.write(CONFIG)
        written, epoch = len(CONFIG), 1
        while written < size_mb * 1_000_000:
            for i in range(1, 7331):
                line = TRAIN.format(e=epoch, i=i, loss=2.0 / (1 + epoch + i / 7330))
                out.write(line)
                written += len(line)
            line = VAL.format(e=epoch, m=min(epoch * 17, 999))
            out.write(line)
            written += len(line)
            epoch += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-parse-") as tmp:
        log = Path(tmp) / "big.log"
        synthesise(log, args.size_mb)
        subprocess.run([sys.executable, "-c", MEASURE, str(log)], check=True)


if __name__ == "__main__":
    main()
