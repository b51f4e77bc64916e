"""A verdict with a reason: the final bbox mAP of a run against a reference with provenance."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness import logs, record, spec
from harness.errors import BadInput, ExitCode
from harness.logs import Evaluation, ParsedLog
from harness.spec import Benchmark, Reference

JSON_SCHEMA_VERSION = 1


class Verdict(StrEnum):
    PASS = "pass"
    IMPROVED = "improved"  # above the reference by more than the tolerance: not a failure
    OUT_OF_TOLERANCE = "out_of_tolerance"
    INCOMPLETE = "incomplete"  # never a pass: no final evaluation to judge


EXIT_CODES = {
    Verdict.PASS: ExitCode.PASS,
    Verdict.IMPROVED: ExitCode.PASS,
    Verdict.OUT_OF_TOLERANCE: ExitCode.OUT_OF_TOLERANCE,
    Verdict.INCOMPLETE: ExitCode.BAD_INPUT,
}


class Judgement(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reason: str
    benchmark: str
    source: str
    reference: Reference
    tolerance: float
    value: float | None
    delta: float | None
    metrics: dict[str, float]
    evaluations: list[Evaluation]

    @property
    def exit_code(self) -> int:
        return int(EXIT_CODES[self.verdict])


class Target(BaseModel):
    """What is being verified: parsed logs, the benchmark they belong to, what the run record says."""

    model_config = ConfigDict(frozen=True)

    log: ParsedLog
    benchmark: Benchmark
    expected_epochs: int | None
    run_failure: str | None = None


def load_target(path: Path | None, benchmark_name: str | None) -> Target:
    path = record.resolve_run(path)
    if record.is_run_dir(path):
        run = record.read_record(path)
        failure = None if run.status in ("succeeded", "running") else f"the run {run.status}"
        if run.error:
            failure = f"{failure}: {run.error}"
        return Target(log=logs.parse_path(path / run.work_dir), benchmark=spec.benchmark(benchmark_name or run.benchmark),
                      expected_epochs=run.epochs, run_failure=failure)
    log = logs.parse_path(path)
    return Target(log=log, benchmark=_benchmark_of(path, benchmark_name), expected_epochs=log.max_epochs)


def _benchmark_of(path: Path, name: str | None) -> Benchmark:
    """Named, or found by the config file name mmengine dumps into the work_dir."""
    if name:
        return spec.benchmark(name)
    start = path if path.is_dir() else path.parent
    for folder in [start, start / "work_dir", *list(start.parents)[:3]]:
        for dump in sorted(folder.glob("*.py")):
            found = spec.benchmark_for_config_name(dump.stem)
            if found:
                return found
    raise BadInput(f"cannot tell which benchmark {path} belongs to; pass --benchmark "
                   f"({', '.join(spec.benchmarks())})")


def judge(target: Target, reference_name: str | None = None, tolerance: float | None = None) -> Judgement:
    ref = target.benchmark.reference(reference_name)
    tol = ref.tolerance if tolerance is None else tolerance
    if tol < 0:
        raise BadInput(f"tolerance must be >= 0 AP points, got {tol}")
    final = target.log.final
    value = final.metrics.get(ref.metric) if final else None
    verdict, reason = _decide(target, ref, tol, value)
    return Judgement(
        verdict=verdict, reason=reason, benchmark=target.benchmark.name, source=target.log.source,
        reference=ref, tolerance=tol, value=value,
        delta=None if value is None else round(value - ref.value, 2),
        metrics=final.metrics if final else {}, evaluations=target.log.evaluations,
    )


def _decide(target: Target, ref: Reference, tol: float, value: float | None) -> tuple[Verdict, str]:
    log = target.log
    if not log.evaluations:
        step = log.last_step
        where = f" (stopped at epoch {step.epoch}, iteration {step.iter})" if step else ""
        return Verdict.INCOMPLETE, f"the log ended before any evaluation{where}"
    final = log.evaluations[-1]
    if target.run_failure:
        return Verdict.INCOMPLETE, f"{target.run_failure}; last evaluation at epoch {final.epoch}"
    if target.expected_epochs and final.epoch < target.expected_epochs:
        return Verdict.INCOMPLETE, f"last evaluation at epoch {final.epoch} of {target.expected_epochs}"
    if value is None:
        return Verdict.INCOMPLETE, f"the evaluation at epoch {final.epoch} produced no {ref.metric}"
    return _compare(value, ref, tol)


def _compare(value: float, ref: Reference, tol: float) -> tuple[Verdict, str]:
    delta = value - ref.value
    numbers = f"{ref.metric} {value:.2f} vs {ref.value:.2f} ({delta:+.2f} AP, tolerance {tol:.2f})"
    if delta < -tol:
        return Verdict.OUT_OF_TOLERANCE, f"{numbers}: below the reference"
    if delta > tol:
        return Verdict.IMPROVED, f"{numbers}: above the reference"
    return Verdict.PASS, f"{numbers}: within tolerance"


def to_json(result: Judgement) -> dict:
    """The `--json` document (schema version 1). All AP values are AP points (0-100)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "exit_code": result.exit_code,
        "benchmark": result.benchmark,
        "source": result.source,
        "unit": "AP points (0-100); mmengine's 0.432 is 43.2",
        "metrics": result.metrics,
        "value": result.value,
        "delta": result.delta,
        "tolerance": result.tolerance,
        "reference": result.reference.model_dump(mode="json"),
        "evaluations": [e.model_dump(mode="json") for e in result.evaluations],
    }
