"""Two runs (or a run and an old log) side by side: bbox mAP per epoch and where the curves part."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from harness.logs import ParsedLog


class EpochDelta(BaseModel):
    model_config = ConfigDict(frozen=True)

    epoch: int
    a: float | None
    b: float | None
    delta: float | None  # b - a, AP points


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    metric: str
    tolerance: float
    rows: list[EpochDelta]
    parted_at: int | None  # the first epoch where |b - a| exceeds the tolerance

    @property
    def exit_code(self) -> int:
        return 0 if self.parted_at is None else 1


def compare_logs(a: ParsedLog, b: ParsedLog, tolerance: float, metric: str = "bbox_mAP") -> Comparison:
    first = {e.epoch: e.metrics.get(metric) for e in a.evaluations}
    second = {e.epoch: e.metrics.get(metric) for e in b.evaluations}
    rows = []
    for epoch in sorted(first.keys() | second.keys()):
        x, y = first.get(epoch), second.get(epoch)
        rows.append(EpochDelta(epoch=epoch, a=x, b=y, delta=None if x is None or y is None else round(y - x, 2)))
    parted = next((r.epoch for r in rows if r.delta is not None and abs(r.delta) > tolerance), None)
    return Comparison(a=a.source, b=b.source, metric=metric, tolerance=tolerance, rows=rows, parted_at=parted)
