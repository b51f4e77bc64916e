"""Two runs (or a run and an old log) side by side: bbox mAP per epoch and where the curves part."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput
from harness.logs import ParsedLog
from harness.logs.bench import SpeedUp, speedup
from harness.store import layout
from harness.store.record import RunRecord


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


def bench_runs(a: Path, b: Path) -> tuple[RunRecord, RunRecord] | None:
    """Both bench runs with their results, or None when neither is a bench run (a comparison of curves)."""
    records = [_bench_record(path) for path in (a, b)]
    if all(found is None for found in records):
        return None
    if any(found is None for found in records):
        raise BadInput("a bench run compares with another bench run only (speed), not with a training's curve")
    for run in records:
        if run.bench is None:
            raise BadInput(f"bench run {run.run_id} has no result: it {run.status}")
    return records[0], records[1]


def _bench_record(path: Path) -> RunRecord | None:
    run_dir = layout.resolve(path)
    if not layout.is_run(run_dir):
        return None
    run = layout.read(run_dir)
    return run if run.kind == "bench" else None


def compare_runs(a: Path, b: Path, benchmark: str | None, tolerance: float | None) -> Comparison | SpeedUp:
    """Two bench runs: the speed-up of B over A; any other two runs or logs: their bbox mAP per epoch, parted by
    more than the tolerance (given, or the reference's of the benchmark either side names)."""
    from harness.verdict import verify
    from harness.verdict.policy import checked_tolerance

    benches = bench_runs(a, b)
    if benches is not None:
        first, second = benches
        return speedup(first.run_id, first.bench, second.run_id, second.bench)
    (first_log, bench_a), (second_log, bench_b) = (verify.load_log(p, benchmark) for p in (a, b))
    known = bench_a or bench_b
    if tolerance is None and known is None:
        raise BadInput("neither side names its benchmark: pass --tolerance or --benchmark")
    limit = checked_tolerance(tolerance if tolerance is not None else known.reference().tolerance)
    return compare_logs(first_log, second_log, limit)
