"""mmengine hooks the generated config adds to every training run. Imported inside the training process only.

- HarnessReseedHook: each epoch's randomness is a function of (seed, epoch), so a run resumed from a
  checkpoint trains exactly as the uninterrupted run did (mmengine restores model, optimizer and
  schedulers, not the Python/NumPy/torch RNG streams the augmentations draw from).
- HarnessDivergenceHook: stops training within one iteration of a non-finite loss, or of a loss that
  exploded far above its first value (on the CPU mmcv's deformable convolution crashes on such
  weights before any NaN is logged). It logs one line the log parsers know, then raises.
- HarnessCurveHook (off unless asked): stops a run whose bbox mAP stays below the reference's
  per-epoch curve by more than a margin for `patience` evaluations in a row.
- HarnessBenchHook (`harness bench` only): times every training iteration (and the part of it spent
  waiting for data), the evaluation's batches and metric, the checkpoint, and the peak device memory
  of every process; logs them as one `harness-bench: {json}` line the harness reads (harness.logs.bench).
"""

from __future__ import annotations

import json
import math
import random
import time

import numpy as np
import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size, is_distributed
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

# The parsers read these lines (harness.logs.mmengine); keep the wording in step with them.
DIVERGED = "harness: training diverged at iteration {iter} (epoch {epoch}): loss {loss} ({why})"
BELOW_CURVE = "harness: stopped below the reference curve at epoch {epoch}: {detail}"
BENCH = "harness-bench: "


class TrainingDiverged(RuntimeError):
    """Raised to end the training process; the harness reads the logged line, not this exception."""


class StoppedBelowCurve(RuntimeError):
    pass


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**32)


@HOOKS.register_module()
class HarnessReseedHook(Hook):
    priority = "VERY_HIGH"

    def before_train_epoch(self, runner) -> None:
        value = epoch_seed(runner.seed or 0, runner.epoch)
        random.seed(value)
        np.random.seed(value)
        torch.manual_seed(value)


@HOOKS.register_module()
class HarnessDivergenceHook(Hook):
    """growth: stop when the loss exceeds this many times the run's first loss (this process's first
    iteration: after a resume, the resumed one). An exploding run can grow 1000-fold within a few
    iterations, so the first value, not a window of early ones, is the yardstick."""

    priority = "HIGHEST"

    def __init__(self, growth: float = 1000.0):
        self.growth = growth
        self.first: float | None = None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = _total_loss(outputs)
        why = None if loss is None else self.verdict(loss)
        if not _any_rank(why is not None):
            return
        shown = _shown(loss) if why is not None else "finite here"
        line = DIVERGED.format(iter=runner.iter + 1, epoch=runner.epoch + 1, loss=shown, why=why or "on another rank")
        runner.logger.error(line)
        raise TrainingDiverged(line)

    def verdict(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            return "not finite"
        if self.first is None:
            self.first = abs(loss)
            return None
        return f"above {self.growth:g} x its first value {self.first:.4g}" if loss > self.growth * self.first else None


@HOOKS.register_module()
class HarnessCurveHook(Hook):
    """curve: the reference's bbox mAP per epoch (AP points); margin in AP points."""

    priority = "LOW"  # after the LoggerHook (BELOW_NORMAL) has logged the evaluation that stops the run

    def __init__(self, curve: list[float], margin: float, patience: int = 2):
        self.curve, self.margin, self.patience = curve, margin, patience
        self.below: list[str] = []

    def after_val_epoch(self, runner, metrics=None) -> None:
        epoch = runner.epoch
        value = (metrics or {}).get("coco/bbox_mAP")
        if value is None or not 1 <= epoch <= len(self.curve):
            return
        expected = self.curve[epoch - 1]
        if 100 * value < expected - self.margin:
            self.below.append(f"epoch {epoch} {100 * value:.2f} < {expected:.2f} - {self.margin:g}")
        else:
            self.below = []
        if len(self.below) >= self.patience:
            line = BELOW_CURVE.format(epoch=epoch, detail="; ".join(self.below))
            runner.logger.error(line)
            raise StoppedBelowCurve(line)


@HOOKS.register_module()
class HarnessBenchHook(Hook):
    """An iteration's time runs from the end of the one before (so it includes waiting for its data, as
    mmengine's own `time` does); its data time from that end to the batch's arrival (`before_train_iter`)."""

    priority = "LOWEST"  # after the checkpoint hook: its saving is timed, not hidden in the next iteration

    def __init__(self, warmup: int, val_images: int):
        self.warmup, self.val_images = warmup, val_images  # val_images: the whole set, which the slice stands for
        self.clock = time.perf_counter
        self.last_end: float | None = None
        self.iterations: list[float] = []
        self.data: list[float] = []
        self.val_batches: list[list[float]] = []  # [seconds, images]
        self.marks: dict[str, float] = {}

    def before_train(self, runner) -> None:
        self.marks["train_started_unix"] = time.time()
        self.last_end = self.clock()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.data.append(self.clock() - self.last_end)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        now = self.clock()
        self.iterations.append(now - self.last_end)
        self.last_end = now

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.marks["val_batch_started"] = self.clock()

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        now = self.clock()
        self.val_batches.append([now - self.marks["val_batch_started"], len(outputs or [])])
        self.marks["val_batch_ended"] = now

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.marks["metric_seconds"] = self.clock() - self.marks.get("val_batch_ended", self.clock())
        self.marks["val_ended"] = self.clock()

    def after_train_epoch(self, runner) -> None:  # the iteration loop calls it once, at its end
        self.marks["checkpoint_seconds"] = self.clock() - self.marks.get("val_ended", self.last_end)

    def after_train(self, runner) -> None:
        peaks = all_gather_object(_peak_device_memory()) if is_distributed() else [_peak_device_memory()]
        result = {"warmup": self.warmup, "val_images": self.val_images, "iterations": self.iterations, "data": self.data,
                  "val_batches": self.val_batches, "iters_per_epoch": len(runner.train_dataloader),
                  "world_size": get_world_size(), "peak_memory": peaks,
                  **{key: self.marks.get(key) for key in ("train_started_unix", "metric_seconds",
                                                           "checkpoint_seconds")}}
        runner.logger.info(BENCH + json.dumps(result))


def _peak_device_memory() -> int | None:
    """Bytes the device allocated at most (cuda, and ixuca through the same API); None on the CPU."""
    return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None


def _any_rank(flag: bool) -> bool:
    """Every rank stops together, or the others would wait for it in the next all-reduce."""
    if not is_distributed():
        return flag
    votes = torch.tensor([1.0 if flag else 0.0])
    all_reduce(votes, op="sum")
    return bool(votes.item() > 0)


def _total_loss(outputs) -> float | None:
    """The loss the optimizer stepped on: mmengine's parsed `loss` (the sum of every loss term)."""
    if not isinstance(outputs, dict) or "loss" not in outputs:
        return None
    value = outputs["loss"]
    return float(value.detach().item() if torch.is_tensor(value) else value)


def _shown(loss: float) -> str:
    return str(loss) if not math.isfinite(loss) else f"{loss:.4g}"
