"""Start mmdet's train.py in a torch.distributed CPU process (the cpu platform's `--gpus N`).

mmengine's pytorch launcher calls torch.cuda.set_device(local_rank) unconditionally, which a
CPU build of torch rejects. With no GPU there is no device to select, so the call becomes a no-op.
Usage: python -m torch.distributed.run ... -m harness.cpu_launch TRAIN_PY [train.py args]
"""

import runpy
import sys

import torch


def main() -> None:
    if not torch.cuda.is_available():
        torch.cuda.set_device = lambda device: None
    script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
