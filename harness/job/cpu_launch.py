"""Start mmdet's train.py in a torch.distributed CPU process (the cpu platform's `--gpus N`).

mmengine's pytorch launcher calls torch.cuda.set_device(local_rank) unconditionally, which a
CPU build of torch rejects. With no GPU there is no device to select, so the call becomes a no-op.
After training the process group is destroyed before the interpreter exits: left to exit-time
teardown, gloo's threads sometimes abort the process ("terminate called without an active
exception", SIGABRT) after a run that had finished, which turns a good run into a failed one.
A barrier comes first: a rank that tore its connections down while a peer was still reading the
last evaluation's broadcast would fail that peer (seen once in CI: exit 1 after both evaluations).
Usage: python -m torch.distributed.run ... -m harness.job.cpu_launch TRAIN_PY [train.py args]
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
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
