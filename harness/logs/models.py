"""Typed results of parsing a training log, whatever its era. AP values are AP points (0-100)."""

from __future__ import annotations

import math
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput

BBOX_KEYS = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l")
MAX_CURVE_POINTS = 2000
LogFormat = Literal["mmengine-scalars", "mmengine-text", "mmdet2-json", "none"]  # none: a run that logged nothing
Loop = Literal["epoch", "iter"]  # EpochBasedTrainLoop or IterBasedTrainLoop: what an evaluation's position counts


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


NOT_METRICS = {"data_time", "time", "step", "epoch", "iter", "lr", "memory", "eta"}


class Evaluation(Frozen):
    epoch: int  # the epoch it followed; in an iteration-based log, the iteration
    metrics: dict[str, float]  # AP points
    other_metrics: list[str] = []  # non-bbox metrics it reported (segm_mAP, PCK, ...)
    # mmengine found no box above the score threshold ("The testing results of the whole dataset is
    # empty"); it then re-prints the previous evaluation's values, which are dropped here.
    empty: bool = False
    off_scale: dict[str, float] = {}  # bbox values outside the 0-1 scale the log's tool writes (not COCO's -1)

    @classmethod
    def from_values(cls, epoch: int, values: dict, prefix: str = "") -> Evaluation:
        metrics = bbox_points(values, prefix)
        others = sorted(k for k, v in values.items() if k not in NOT_METRICS and "bbox" not in k
                        and isinstance(v, (int, float)))
        return cls(epoch=epoch, metrics=metrics, other_metrics=others, off_scale=_off_scale(values, prefix))


class TrainStep(Frozen):
    epoch: int  # 0 in an iteration-based log
    iter: int  # the global iteration, counted from the start of training
    iters_per_epoch: int | None = None
    total_iters: int | None = None  # an iteration-based log's max_iters, as its lines show it
    eta: str | None = None
    loss: float | None = None
    lr: float | None = None
    time: float | None = None
    memory: float | None = None

    @property
    def finite(self) -> bool:
        return self.loss is None or math.isfinite(self.loss)


class ParsedLog(Frozen):
    source: str
    format: LogFormat
    evaluations: list[Evaluation]
    last_step: TrainStep | None
    max_epochs: int | None
    steps: list[TrainStep] = []  # the loss curve, thinned to at most MAX_CURVE_POINTS
    diverged_at: TrainStep | None = None  # the first step whose loss is NaN or infinite (or exploded)
    diverged_why: str | None = None  # set when the harness's divergence check stopped the run: its rule
    stopped_early: str | None = None  # set when --stop-below-curve stopped the run: the evaluations below
    loop: Loop = "epoch"
    warnings: list[str] = []

    @property
    def unit(self) -> str:
        return "iteration" if self.loop == "iter" else "epoch"

    @property
    def final(self) -> Evaluation | None:
        return self.evaluations[-1] if self.evaluations else None

    @property
    def finished(self) -> bool | None:
        """Evaluated at its last epoch (iteration); None when the log does not say how many it planned."""
        if self.max_epochs is None:
            return None
        return self.final is not None and self.final.epoch >= self.max_epochs


def number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return math.inf if value > 0 else -math.inf


def whole(value) -> int | None:
    """A JSON value that is a usable epoch or iteration count, else None (fuzzed logs carry inf, 1e400, -3)."""
    as_float = number(value)
    if as_float is None or not math.isfinite(as_float) or not 0 <= as_float < 1e12 or as_float != int(as_float):
        return None
    return int(as_float)


def bbox_points(values: dict, prefix: str = "") -> dict[str, float]:
    """0-1 COCO values -> AP points. COCOeval's -1 means "no ground truth of that size": absent."""
    points = {}
    for key in BBOX_KEYS:
        value = number(values.get(f"{prefix}{key}"))
        if value is not None and math.isfinite(value) and 0 <= value <= 1:
            points[key] = round(100 * value, 2)
    return points


def _off_scale(values: dict, prefix: str) -> dict[str, float]:
    found = {key: number(values.get(f"{prefix}{key}")) for key in BBOX_KEYS}
    return {key: value for key, value in found.items() if value is not None and value != -1 and not 0 <= value <= 1}


class StepCollector:
    """Keeps the last step, the first non-finite one and an evenly thinned curve in bounded memory.

    Steps are offered raw with a builder, and built only when kept: on a multi-GB log most lines
    are counted, never turned into objects."""

    def __init__(self, cap: int = MAX_CURVE_POINTS):
        self.cap, self.stride, self.seen = cap, 1, 0
        self.curve: list[TrainStep] = []
        self.diverged_at: TrainStep | None = None
        self._last_raw, self._build = None, None

    def add(self, step: TrainStep) -> None:
        self.offer(step, lambda s: s, step.finite)

    def offer(self, raw, build: Callable[[object], TrainStep], finite: bool) -> None:
        self._last_raw, self._build = raw, build
        if self.diverged_at is None and not finite:
            self.diverged_at = build(raw)
        if self.seen % self.stride == 0:
            self.curve.append(build(raw))
            if len(self.curve) > self.cap:
                self.curve, self.stride = self.curve[::2], self.stride * 2
        self.seen += 1

    @property
    def last(self) -> TrainStep | None:
        return None if self._build is None else self._build(self._last_raw)


def build(source: str, fmt: LogFormat, evaluations: dict[int, Evaluation], steps: StepCollector,
          max_epochs: int | None, **extra) -> ParsedLog:
    others = sorted({k for e in evaluations.values() for k in e.other_metrics})
    if others and not any(e.metrics for e in evaluations.values()):
        raise BadInput(f"{source} reports no bbox metrics ({', '.join(others[:4])}): not a detection log")
    return ParsedLog(source=source, format=fmt, evaluations=[evaluations[k] for k in sorted(evaluations)],
                     last_step=steps.last, max_epochs=max_epochs, steps=steps.curve,
                     diverged_at=extra.pop("diverged_at", None) or steps.diverged_at, **extra)
