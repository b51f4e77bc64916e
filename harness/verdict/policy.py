"""Tolerance policies and multi-run statistics. Every decision names the numbers that made it.

Single value (or the mean of several runs) against a reference:
  absolute   |value - reference| <= tolerance (AP points); above by more is "improved"
  relative   the same with tolerance as a fraction of the reference (0.01 = 1 %)
  one-sided  only value < reference - tolerance fails; higher is fine (the mmdet zoo's comparator)
Several runs (MLPerf Training's rules): a run that did not finish counts as dropped, and more than one
such fails; with 5 or more runs the best and the worst are dropped (olympic; an unfinished run is the
worst). When the reference carries its own spread and run count, a one-sided Welch t-test at
alpha 0.05 decides whether the runs' mean is significantly below the reference.
"""

from __future__ import annotations

import math
import statistics
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput
from harness.spec.choices import Policy

ALPHA = 0.05
OLYMPIC_MIN_RUNS = 5


class Verdict(StrEnum):
    PASS = "pass"
    IMPROVED = "improved"  # above the reference by more than the tolerance: not a failure
    OUT_OF_TOLERANCE = "out_of_tolerance"
    DIVERGED = "diverged"  # a loss became NaN or infinite
    FAILED = "failed"  # more runs did not finish than the multi-run rule allows
    INCOMPLETE = "incomplete"  # never a pass: no final evaluation to judge


class Aggregate(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int
    used: list[float]
    dropped: list[str]
    mean: float
    std: float | None
    min: float
    max: float
    p_value: float | None = None


def checked_tolerance(tolerance: float) -> float:
    """NaN would make every comparison false, and so every run pass; infinity would pass anything."""
    if not tolerance >= 0 or tolerance == math.inf:
        raise BadInput(f"tolerance must be a finite number >= 0, got {tolerance}")
    return tolerance


def allowed_deviation(reference: float, tolerance: float, policy: Policy) -> float:
    return tolerance * reference if policy == "relative" else tolerance


def compare(value: float, reference: float, tolerance: float, policy: Policy, what: str) -> tuple[Verdict, str]:
    allowed = allowed_deviation(reference, tolerance, policy)
    delta = value - reference
    shown = f"{policy} tolerance {allowed:.2f} AP" + (f" ({tolerance:g} of the reference)" if policy == "relative" else "")
    numbers = f"{what} {value:.2f} vs {reference:.2f} ({delta:+.2f} AP, {shown})"
    if delta < -allowed:
        return Verdict.OUT_OF_TOLERANCE, f"{numbers}: below the reference"
    if delta > allowed and policy != "one-sided":
        return Verdict.IMPROVED, f"{numbers}: above the reference"
    return Verdict.PASS, f"{numbers}: within tolerance"


def aggregate(values: dict[str, float | None]) -> Aggregate:
    """values: run name -> final metric, None for a run that did not finish. Caller checks the DNF rule."""
    finished = sorted((v, name) for name, v in values.items() if v is not None)
    dropped = [f"{name} (did not finish)" for name, v in values.items() if v is None]
    if len(values) >= OLYMPIC_MIN_RUNS:
        if not dropped:
            dropped.append(f"{finished[0][1]} (worst, olympic)")
            finished = finished[1:]
        dropped.append(f"{finished[-1][1]} (best, olympic)")
        finished = finished[:-1]
    used = [v for v, _ in finished]
    return Aggregate(n=len(values), used=used, dropped=dropped, mean=round(statistics.fmean(used), 3),
                     std=round(statistics.stdev(used), 3) if len(used) > 1 else None, min=min(used), max=max(used))


def t_test_below(runs: Aggregate, reference: float, spread: float, reference_runs: int) -> float:
    """One-sided Welch t-test, H1: the runs' mean is below the reference's. Returns the p-value."""
    if runs.std is None or len(runs.used) < 2:
        return math.nan
    from scipy import stats  # here: importing scipy.stats costs a second, and most commands never test

    result = stats.ttest_ind_from_stats(runs.mean, runs.std, len(runs.used), reference, spread, reference_runs,
                                        equal_var=False, alternative="less")
    return float(result.pvalue)
