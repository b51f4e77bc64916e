"""What a running run is doing now, read from the end of its current attempt's output: where it is, its last loss
and evaluation, mmengine's ETA (the lines the live view draws, without reading the whole log)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.logs import Evaluation, TrainStep, parse_line
from harness.runtime.tail import Tail, size
from harness.store.record import RunRecord

TAIL_BYTES = 512 * 1024  # many times the lines between two progress lines of a large run


@dataclass(frozen=True)
class LiveStatus:
    progress: str  # "epoch 3/20 12%", "iter 40/500", or "starting"
    loss: float | None = None
    last_map: float | None = None  # the last evaluation's bbox mAP (AP points) in the part read
    eta: str | None = None


def live_status(run_dir: Path, run: RunRecord) -> LiveStatus:
    log = run_dir / run.console_log
    step, evaluation = None, None
    for line in Tail(log, max(run.attempts[-1].log_offset, size(log) - TAIL_BYTES)).read():
        item = parse_line(line)
        if isinstance(item, TrainStep):
            step = item
        elif isinstance(item, Evaluation):
            evaluation = item
    last_map = evaluation.metrics.get("bbox_mAP") if evaluation else None
    if step is None:
        return LiveStatus("starting", last_map=last_map)
    return LiveStatus(_where(step, run.epochs), step.loss, last_map, step.eta)


def _where(step: TrainStep, epochs: int) -> str:
    if step.total_iters:  # an iteration-based loop (a bench)
        return f"iter {step.iter}/{step.total_iters}"
    total = (step.iters_per_epoch or 0) * epochs
    share = f" {100 * step.iter / total:.0f}%" if total else ""
    return f"epoch {step.epoch}/{epochs}{share}"
