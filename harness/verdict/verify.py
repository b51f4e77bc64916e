"""A verdict with a reason: the final bbox mAP of one run, or of several, against a reference."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harness import logs
from harness.errors import BadInput, ExitCode
from harness.logs import Evaluation, ParsedLog
from harness.spec import benchmarks
from harness.spec.benchmarks import Benchmark, Reference
from harness.spec.choices import Policy
from harness.store import layout
from harness.verdict import policy
from harness.verdict.policy import ALPHA, Aggregate, Verdict

EXIT_CODES = {
    Verdict.PASS: ExitCode.PASS,
    Verdict.IMPROVED: ExitCode.PASS,
    Verdict.OUT_OF_TOLERANCE: ExitCode.OUT_OF_TOLERANCE,
    Verdict.DIVERGED: ExitCode.OUT_OF_TOLERANCE,
    Verdict.FAILED: ExitCode.OUT_OF_TOLERANCE,
    Verdict.INCOMPLETE: ExitCode.BAD_INPUT,
}


class UnknownBenchmark(BadInput):
    """A log outside any harness run, with no config dump naming its benchmark."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Target(Frozen):
    """What is being verified: parsed logs, the benchmark they belong to, what the run record says."""

    log: ParsedLog
    benchmark: Benchmark
    expected_epochs: int | None
    run_failure: str | None = None
    overrides: tuple[str, ...] = ()  # --cfg-option values the run was started with: not the benchmark as specified
    run_id: str | None = None  # set when the target is a harness run


class RunOutcome(Frozen):
    source: str
    status: Literal["finished", "incomplete", "diverged", "stopped"]
    reason: str
    value: float | None
    metrics: dict[str, float]


class Judgement(Frozen):
    verdict: Verdict
    reason: str
    benchmark: str
    reference: Reference
    policy: Policy
    tolerance: float
    value: float | None  # one run's final value, or the mean the verdict was decided on
    delta: float | None
    runs: list[RunOutcome]
    aggregate: Aggregate | None
    evaluations: list[Evaluation]  # the single run's curve (empty when several runs are judged)
    warnings: list[str]
    overrides: list[str] = []  # --cfg-option values of the runs judged
    best: Evaluation | None = None  # a single run's best evaluation (the verdict still judges the final one)
    unit: str = "epoch"  # what an evaluation's position counts: epoch, or iteration

    @property
    def exit_code(self) -> int:
        return int(EXIT_CODES[self.verdict])

    @property
    def source(self) -> str:
        return ", ".join(run.source for run in self.runs)

    @property
    def metrics(self) -> dict[str, float]:
        return self.runs[0].metrics if len(self.runs) == 1 else {}


def expand(paths: list[Path] | None) -> list[Path | None]:
    """Paths as given; a quoted glob is expanded here; none means the latest run."""
    if not paths:
        return [None]
    expanded: list[Path | None] = []
    for path in paths:
        matches = sorted(glob.glob(str(path))) if not Path(path).exists() and glob.has_magic(str(path)) else []
        if glob.has_magic(str(path)) and not Path(path).exists() and not matches:
            raise BadInput(f"no run matches {path}")
        expanded += [Path(m) for m in matches] or [path]
    return expanded


def load_target(path: Path | None, benchmark_name: str | None) -> Target:
    path = layout.resolve(path)
    if layout.is_run(path):
        run = layout.read(path)
        if run.kind == "bench":
            raise BadInput(f"{run.run_id} is a bench run: it measures speed, not accuracy (its evaluation is of a "
                           "slice); compare bench runs with `harness compare A B`, judge a training run")
        failure = None if run.status in ("succeeded", "running") else f"the run {run.status}"
        if failure and run.error:
            failure = f"{failure}: {run.error}"
        return Target(log=_run_log(path / run.work_dir, failure), expected_epochs=run.epochs, run_failure=failure,
                      benchmark=benchmarks.benchmark(benchmark_name or run.benchmark), overrides=run.spec.cfg_options,
                      run_id=run.run_id)
    log = logs.parse_path(path, layout.WORK_DIR)
    return Target(log=log, benchmark=_benchmark_of(path, benchmark_name), expected_epochs=log.max_epochs)


def _run_log(work_dir: Path, failure: str | None) -> ParsedLog:
    """A run that ended before mmengine logged a line is judged too (as incomplete), when its record says why."""
    try:
        return logs.parse_path(work_dir)
    except BadInput:
        if failure is None:
            raise
        return ParsedLog(source=str(work_dir.parent), format="none", evaluations=[], last_step=None, max_epochs=None)


def load_log(path: Path | None, benchmark_name: str | None) -> tuple[ParsedLog, Benchmark | None]:
    """For comparisons, where a log need not name its benchmark."""
    try:
        target = load_target(path, benchmark_name)
        return target.log, target.benchmark
    except UnknownBenchmark:
        return logs.parse_path(path, layout.WORK_DIR), None


def load_targets(paths: list[Path] | None, benchmark_name: str | None) -> list[Target]:
    targets = [load_target(path, benchmark_name) for path in expand(paths)]
    names = sorted({t.benchmark.name for t in targets})
    if len(names) > 1:
        raise BadInput(f"runs of different benchmarks ({', '.join(names)}) cannot be judged together")
    return targets


def _benchmark_of(path: Path, name: str | None) -> Benchmark:
    """Named, or found by the config file name mmengine dumps into the work_dir."""
    if name:
        return benchmarks.benchmark(name)
    start = path if path.is_dir() else path.parent
    for folder in [start, start / layout.WORK_DIR, *list(start.parents)[:3]]:
        for dump in sorted(folder.glob("*.py")):
            found = benchmarks.benchmark_for_config_name(dump.stem)
            if found:
                return found
    raise UnknownBenchmark(f"cannot tell which benchmark {path} belongs to; pass --benchmark "
                   f"({', '.join(benchmarks.benchmarks())})")


def assess(target: Target, ref: Reference) -> RunOutcome:
    """One run: finished with a final value, diverged, or incomplete (and why)."""
    log, source = target.log, target.log.source
    final = log.final
    metrics = final.metrics if final else {}
    if log.diverged_at:
        return RunOutcome(source=source, status="diverged", value=None, metrics=metrics,
                          reason=logs.divergence_reason(log))
    if log.stopped_early:
        return RunOutcome(source=source, status="stopped", value=None, metrics=metrics,
                          reason=f"stopped below the reference curve: {log.stopped_early}")
    problem = _incompleteness(target, ref)
    if problem:
        return RunOutcome(source=source, status="incomplete", reason=problem, value=None, metrics=metrics)
    return RunOutcome(source=source, status="finished", reason="finished", value=metrics[ref.metric], metrics=metrics)


def _incompleteness(target: Target, ref: Reference) -> str | None:
    log = target.log
    if not log.evaluations:
        step = log.last_step
        where = f" (stopped at iteration {step.iter}, epoch {step.epoch})" if step else ""
        ended = f"{target.run_failure}, " if target.run_failure else "the log ended "
        return f"{ended}before any evaluation{where}"
    final, unit = log.evaluations[-1], log.unit
    if target.run_failure:
        return f"{target.run_failure}; last evaluation at {unit} {final.epoch}"
    if target.expected_epochs and final.epoch < target.expected_epochs:
        return f"last evaluation at {unit} {final.epoch} of {target.expected_epochs}"
    if final.empty:
        return (f"the last evaluation ({unit} {final.epoch}) was empty: no box scored above the score threshold "
                "(mmengine: 'The testing results of the whole dataset is empty')")
    if ref.metric in final.off_scale:
        return (f"the evaluation at {unit} {final.epoch} reports {ref.metric} {final.off_scale[ref.metric]:g}, outside "
                "the 0-1 scale mmengine and mmdet write (a damaged log, or another tool's)")
    if ref.metric not in final.metrics:
        return f"the evaluation at {unit} {final.epoch} produced no {ref.metric}"
    return None


def judge(targets: Target | list[Target], reference_name: str | None = None, tolerance: float | None = None,
          policy_name: Policy | None = None) -> Judgement:
    targets = targets if isinstance(targets, list) else [targets]
    ref = targets[0].benchmark.reference(reference_name)
    tol = policy.checked_tolerance(ref.tolerance if tolerance is None else tolerance)
    chosen = policy_name or ref.policy
    outcomes = [assess(t, ref) for t in targets]
    if len(outcomes) == 1:
        verdict, reason, value, summary = *_judge_one(outcomes[0], ref, tol, chosen), None
    else:
        verdict, reason, value, summary = _judge_many(outcomes, ref, tol, chosen)
    overrides = sorted({o for t in targets for o in t.overrides})
    best = best_evaluation(targets[0].log, ref.metric) if len(targets) == 1 else None
    if overrides:
        reason += f" (overridden with --cfg-option {' '.join(overrides)}: not the benchmark as specified)"
    return Judgement(
        overrides=overrides, unit=targets[0].log.unit,
        verdict=verdict, reason=reason, benchmark=targets[0].benchmark.name, reference=ref, policy=chosen,
        tolerance=tol, value=value, delta=None if value is None else round(value - ref.value, 2), runs=outcomes,
        aggregate=summary, evaluations=targets[0].log.evaluations if len(targets) == 1 else [],
        warnings=[w for t in targets for w in t.log.warnings] + _fell_from_best(targets[0].log, best, ref.metric, tol),
        best=best,
    )


def best_evaluation(log: ParsedLog, metric: str) -> Evaluation | None:
    """The highest evaluation (the first of equals), as the mmdet zoo's regression scripts report beside the last."""
    scored = [e for e in log.evaluations if metric in e.metrics]
    return max(scored, key=lambda e: e.metrics[metric]) if scored else None


def _fell_from_best(log: ParsedLog, best: Evaluation | None, metric: str, tolerance: float) -> list[str]:
    final = log.final
    if best is None or final is None or metric not in final.metrics:
        return []
    drop = best.metrics[metric] - final.metrics[metric]
    if drop <= tolerance:
        return []
    return [f"the final {metric} {final.metrics[metric]:.2f} ({log.unit} {final.epoch}) is {drop:.2f} AP below the "
            f"best {best.metrics[metric]:.2f} ({log.unit} {best.epoch}), more than the tolerance {tolerance:g}"]


def _judge_one(run: RunOutcome, ref: Reference, tol: float, chosen: Policy) -> tuple[Verdict, str, float | None]:
    if run.status == "stopped":  # judged hopeless in flight: below the reference's own curve
        return Verdict.OUT_OF_TOLERANCE, run.reason, run.value
    if run.status != "finished":
        return Verdict(run.status), run.reason, run.value
    return *policy.compare(run.value, ref.value, tol, chosen, ref.metric), run.value


def _judge_many(runs: list[RunOutcome], ref: Reference, tol: float, chosen: Policy):
    unfinished = [r for r in runs if r.status != "finished"]
    if len(unfinished) > 1:
        why = "; ".join(f"{r.source}: {r.reason}" for r in unfinished)
        return Verdict.FAILED, f"{len(unfinished)} of {len(runs)} runs did not finish (at most one may): {why}", None, None
    summary = policy.aggregate({r.source: r.value for r in runs})
    what = f"mean {ref.metric} of {len(summary.used)} runs"
    if ref.spread is not None and len(summary.used) >= 2:
        p_value = policy.t_test_below(summary, ref.value, ref.spread, ref.spread_runs)
        summary = summary.model_copy(update={"p_value": round(p_value, 4)})
        test = f"{what} {summary.mean:.2f} vs {ref.value:.2f} (one-sided Welch t-test p={p_value:.3f}"
        if p_value < ALPHA:
            return Verdict.OUT_OF_TOLERANCE, f"{test} < {ALPHA}): significantly below", summary.mean, summary
        return Verdict.PASS, f"{test} >= {ALPHA}): not significantly below", summary.mean, summary
    verdict, reason = policy.compare(summary.mean, ref.value, tol, chosen, what)
    return verdict, reason, summary.mean, summary


def to_json(result: Judgement) -> dict:
    """The `--json` document, schema version 1 (documented in README.md). AP values are AP points."""
    return {
        "schema_version": 1,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "exit_code": result.exit_code,
        "benchmark": result.benchmark,
        "unit": "AP points (0-100); mmengine's 0.432 is 43.2",
        "metrics": result.metrics,
        "value": result.value,
        "delta": result.delta,
        "policy": result.policy,
        "tolerance": result.tolerance,
        "reference": result.reference.model_dump(mode="json"),
        "runs": [run.model_dump(mode="json") for run in result.runs],
        "aggregate": result.aggregate.model_dump(mode="json") if result.aggregate else None,
        "evaluations": [e.model_dump(mode="json") for e in result.evaluations],
        "warnings": result.warnings,
        "overrides": result.overrides,
        "best": None if result.best is None else {"epoch": result.best.epoch,
                                                  "value": result.best.metrics[result.reference.metric]},
        "evaluated_by": result.unit,
        "source": result.source,
    }
