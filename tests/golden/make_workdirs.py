"""Make the golden work_dirs under tests/golden/workdirs/ with the pinned stack (real mmdet 3.3.0 runs).

    .venv/bin/python tests/golden/make_workdirs.py [--out tests/golden/workdirs] [--only NAME ...]

Each shape is a real run of mmdet's own tools/train.py or tools/test.py (not the harness), on a tiny
synthetic dataset, so the logs are exactly what mmengine 0.10.7 writes. Checkpoints are dropped;
logs, scalars and config dumps are kept. What makes a shape happen (a kill, a crash at start-up, an
impossible score threshold, a NaN weight) is said next to each one below. About 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.data.synth import SynthParams, write_synthetic  # noqa: E402
from harness.job.command import TRAINING_ENV, mmdet_tools_dir  # noqa: E402

# Hooks that provoke a shape inside a real run; put on the path with custom_imports.
PROVOKE = '''
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class GoldenEmptyEvaluation(Hook):
    """From epoch `from_epoch` on, no box can pass the score threshold: mmengine reports an empty evaluation."""

    def __init__(self, from_epoch):
        self.from_epoch = from_epoch

    def before_val_epoch(self, runner):
        if runner.epoch >= self.from_epoch:
            model = runner.model.module if hasattr(runner.model, "module") else runner.model
            model.bbox_head.test_cfg["score_thr"] = 1.01


@HOOKS.register_module()
class GoldenNanWeights(Hook):
    """At global iteration `at` the classifier's last layer becomes NaN: the loss is NaN from there on."""

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            model = runner.model.module if hasattr(runner.model, "module") else runner.model
            with torch.no_grad():
                model.bbox_head.reppoints_cls_out.weight.fill_(float("nan"))
'''

BASE = """_base_ = {base!r}
data_root = {data!r}
train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
randomness = dict(seed=0)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=3))
custom_imports = dict(imports=['golden_provoke'], allow_failed_imports=False)
"""
EPOCHS = "train_cfg = dict(max_epochs={epochs}, val_interval=1)\n"
ITERS = """train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters}, val_interval={every})
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=4)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval={every}))
train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root), sampler=dict(type='InfiniteSampler', shuffle=True))
log_processor = dict(by_epoch=False)
"""


class Maker:
    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.data = write_synthetic(scratch / "data", SynthParams(train=16, val=8, seed=0, image_size=96))
        self.tools = mmdet_tools_dir()
        (scratch / "golden_provoke.py").write_text(PROVOKE)
        self.env = {**os.environ, **TRAINING_ENV, "PYTHONPATH": str(scratch)}

    def config(self, name: str, extra: str, data: Path | None = None) -> Path:
        path = self.scratch / f"{name}.py"
        base = BASE.format(base=str(ROOT / "configs" / "mmdet" / "reppoints-smoke.py"), data=str(data or self.data) + "/")
        path.write_text(base + extra)
        return path

    def train(self, config: Path, work_dir: Path, *args: str, kill_when: str | None = None) -> int:
        argv = [sys.executable, str(self.tools / "train.py"), str(config), "--work-dir", str(work_dir), *args]
        return self._run(argv, work_dir, kill_when)

    def test(self, config: Path, checkpoint: Path, work_dir: Path, *args: str) -> int:
        argv = [sys.executable, str(self.tools / "test.py"), str(config), str(checkpoint), "--work-dir", str(work_dir),
                *args]
        return self._run(argv, work_dir, None)

    def _run(self, argv: list[str], work_dir: Path, kill_when: str | None) -> int:
        print("+", " ".join(argv[1:3]), *argv[3:], flush=True)
        process = subprocess.Popen(argv, env=self.env, cwd=self.scratch, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            if kill_when and kill_when in line:
                process.send_signal(signal.SIGKILL)  # the machine lost the process: no clean shutdown
                break
        code = process.wait()
        print(f"  exit {code}", flush=True)
        time.sleep(1.1)  # mmengine names a run's folder by the second: the next attempt gets its own
        return code


def resumed_with_crashed_attempt(make: Maker, work: Path) -> None:
    """Killed (SIGKILL) in epoch 2; a resume that died at start-up (its dataset was missing); a resume that worked."""
    config = make.config("resumed", EPOCHS.format(epochs=3))
    make.train(config, work, kill_when="Epoch(train) [2][2/4]")
    make.train(config, work, "--resume", "--cfg-options", "train_dataloader.dataset.ann_file=missing.json")
    make.train(config, work, "--resume")


def test_with_crashed_attempt(make: Maker, work: Path) -> None:
    """tools/test.py of a 1-epoch checkpoint: a first attempt that crashed at start-up, then one that worked."""
    config = make.config("tested", EPOCHS.format(epochs=1))
    trained = make.scratch / "tested-train"
    make.train(config, trained)
    checkpoint = trained / "epoch_1.pth"
    make.test(config, checkpoint, work, "--cfg-options", "test_dataloader.dataset.ann_file=missing.json")
    make.test(config, checkpoint, work)


def iteration_loop(make: Maker, work: Path) -> None:
    """IterBasedTrainLoop: 12 iterations, an evaluation every 4, mmengine's default metric logging."""
    make.train(make.config("iterloop", ITERS.format(iters=12, every=4)), work)


def empty_evaluation(make: Maker, work: Path) -> None:
    """4 epochs on 64 images; epochs 1-3 find boxes, the evaluation of epoch 4 (the last) finds none."""
    data = write_synthetic(make.scratch / "data-64", SynthParams(train=64, val=8, seed=0, image_size=96))
    extra = EPOCHS.format(epochs=4) + "custom_hooks = [dict(type='GoldenEmptyEvaluation', from_epoch=4)]\n"
    make.train(make.config("empty", extra, data), work)


def nan_loss(make: Maker, work: Path) -> None:
    """2 epochs; the classifier's weights become NaN at iteration 6, so the loss is NaN from there on."""
    extra = EPOCHS.format(epochs=2) + "custom_hooks = [dict(type='GoldenNanWeights', at=6)]\n"
    make.train(make.config("nan", extra), work)


SHAPES = {
    "resumed-crashed-attempt": resumed_with_crashed_attempt,
    "test-crashed-attempt": test_with_crashed_attempt,
    "iteration-loop": iteration_loop,
    "empty-evaluation": empty_evaluation,
    "nan-loss": nan_loss,
}


def keep_logs(work: Path, out: Path) -> None:
    """Everything a run wrote but its checkpoints."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(work, out, ignore=shutil.ignore_patterns("*.pth"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "golden" / "workdirs")
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), default=sorted(SHAPES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="golden-") as scratch:
        make = Maker(Path(scratch))
        for name in args.only:
            print(f"== {name}: {SHAPES[name].__doc__}", flush=True)
            work = Path(scratch) / name
            SHAPES[name](make, work)
            keep_logs(work, args.out / name)


if __name__ == "__main__":
    main()
