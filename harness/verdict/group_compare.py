"""Two repro groups side by side (two stacks, two cards, two SDK releases): the difference of their final
bbox mAP with Welch's t-test, the ratio of their training throughput, and the environment facts that differ.

B is "worse" when a one-sided Welch t-test finds its mean significantly (alpha 0.05) more than the
benchmark's tolerance below A's: H0 mean(B) - mean(A) >= -tolerance. The two-sided p-value of the plain
difference is reported beside it. Each group needs two finished runs (a t-test needs a spread)."""

from __future__ import annotations

import math
import statistics

from pydantic import BaseModel, ConfigDict

from harness.edges.host import revision_label
from harness.errors import BadInput
from harness.logs import ParsedLog
from harness.store import layout
from harness.store.record import GroupRecord, RunRecord
from harness.verdict import groups, verify
from harness.verdict.policy import ALPHA, allowed_deviation

FACTS = ("platform", "runtime", "gpus", "torch", "mmcv", "mmengine", "mmdet", "gpu model", "driver", "cuda", "sdk",
         "cpu", "image", "harness revision")
MIXED = "mixed: "


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupSide(Frozen):
    group_id: str
    values: list[float]  # the finished runs' final bbox mAP, in seed order
    unfinished: int  # runs that did not finish (not in values)
    mean: float | None
    std: float | None
    images_per_second: float | None  # training throughput: total batch / median iteration time, mean of runs
    facts: dict[str, str]


class FactDifference(Frozen):
    fact: str
    a: str
    b: str


class GroupComparison(Frozen):
    benchmark: str
    metric: str
    a: GroupSide
    b: GroupSide
    tolerance: float  # AP points B may be below A before it counts as worse
    difference: float | None  # mean(B) - mean(A), AP points
    p_value: float | None  # two-sided Welch t-test of the difference; None: no spread to test with
    p_worse: float | None  # one-sided, H1: mean(B) < mean(A) - tolerance
    worse: bool
    throughput_ratio: float | None  # B's images per second / A's
    differences: list[FactDifference]

    @property
    def exit_code(self) -> int:
        return 1 if self.worse else 0

    @property
    def finding(self) -> str:
        if self.difference is None:
            return "no difference to test"
        margin = f"more than {self.tolerance:g} AP below A"
        if self.p_worse is None:
            return f"B - A = {self.difference:+.2f} AP: {'B is ' + margin if self.worse else 'within the tolerance'} " \
                   "(no spread: not tested)"
        verdict = "B is significantly worse" if self.worse else "B is not significantly worse"
        return (f"B - A = {self.difference:+.2f} AP (Welch p={self.p_value:.3g}); {verdict} ({margin}: one-sided "
                f"p={self.p_worse:.3g}, alpha {ALPHA})")


def side(group: GroupRecord, found: dict[int, layout.Entry], load=None) -> GroupSide:
    """One group's values, throughput and facts; found and load as harness.verdict.groups.judge takes them."""
    return judged_side(group, found, *groups.judge(group, found, load))


def judged_side(group: GroupRecord, found: dict[int, layout.Entry], result: verify.Judgement,
                labelled: list[tuple[str, verify.Target]]) -> GroupSide:
    """side() of a group already judged."""
    values = [run.value for run in result.runs if run.value is not None]
    records = [found[seed].record for seed in group.seeds if seed in found]
    speeds = [speed for (_, target), run in zip(labelled, records)
              if (speed := images_per_second(run, target.log)) is not None]
    return GroupSide(group_id=group.group_id, values=values, unfinished=len(result.runs) - len(values),
                     mean=statistics.fmean(values) if values else None,
                     std=statistics.stdev(values) if len(values) > 1 else None,
                     images_per_second=statistics.fmean(speeds) if speeds else None, facts=group_facts(records))


def compare_sides(a: GroupSide, b: GroupSide, benchmark_name: str) -> GroupComparison:
    from harness.spec import benchmarks

    benchmark = benchmarks.benchmark(benchmark_name)
    ref = benchmark.reference()
    tolerance = allowed_deviation(ref.value, ref.tolerance, ref.policy)
    difference = None if a.mean is None or b.mean is None else round(b.mean - a.mean, 3)
    p_value, p_worse = welch(a, b, tolerance)
    worse = p_worse < ALPHA if p_worse is not None else difference is not None and difference < -tolerance
    ratio = b.images_per_second / a.images_per_second if a.images_per_second and b.images_per_second else None
    return GroupComparison(benchmark=benchmark.name, metric=ref.metric, a=a, b=b, tolerance=tolerance,
                           difference=difference, p_value=p_value, p_worse=p_worse, worse=worse,
                           throughput_ratio=None if ratio is None else round(ratio, 4),
                           differences=fact_differences(a.facts, b.facts))


def checked_pair(a: GroupRecord, b: GroupRecord) -> None:
    if a.spec.benchmark != b.spec.benchmark:
        raise BadInput(f"groups {a.group_id} ({a.spec.benchmark}) and {b.group_id} ({b.spec.benchmark}) ran "
                       "different benchmarks: their accuracy does not compare")


def welch(a: GroupSide, b: GroupSide, tolerance: float) -> tuple[float | None, float | None]:
    """(two-sided p of mean(B) != mean(A), one-sided p of mean(B) < mean(A) - tolerance); None without spread.

    From each side's mean, sd and n (what the side already holds): the site tests every pair of groups."""
    if len(a.values) < 2 or len(b.values) < 2 or (a.std == 0 and b.std == 0):
        return None, None
    from scipy import stats  # here: importing scipy.stats costs a second

    na, nb = len(a.values), len(b.values)
    two_sided = stats.ttest_ind_from_stats(b.mean, b.std, nb, a.mean, a.std, na, equal_var=False).pvalue
    shifted = stats.ttest_ind_from_stats(b.mean + tolerance, b.std, nb, a.mean, a.std, na, equal_var=False,
                                         alternative="less").pvalue
    return _rounded(two_sided), _rounded(shifted)


def _rounded(p: float) -> float | None:
    return None if math.isnan(p) else round(float(p), 6)


def images_per_second(run: RunRecord, log: ParsedLog) -> float | None:
    """Training throughput of one run: its total batch over the median logged iteration time."""
    times = [step.time for step in log.steps if step.time]
    return run.total_batch / statistics.median(times) if times else None


def run_facts(run: RunRecord) -> dict[str, str]:
    """What identifies a run's hardware stack, as text ('-' where not known)."""
    packages, machine = run.environment.stack.packages, run.environment.machine
    known = {"platform": run.platform, "runtime": run.runtime, "gpus": str(run.gpus),
             **{name: packages.get(name) for name in ("torch", "mmcv", "mmengine", "mmdet")},
             "gpu model": machine.gpu_model, "driver": machine.driver, "cuda": machine.cuda, "sdk": machine.sdk,
             "cpu": machine.cpu_model, "image": (run.image or {}).get("id"),
             "harness revision": revision_label(run.environment.source.revision, run.environment.source.dirty)}
    return {fact: str(known[fact]) if known[fact] is not None else "-" for fact in FACTS}


def group_facts(records: list[RunRecord]) -> dict[str, str]:
    """Each fact its runs agree on, or 'mixed: x, y'."""
    facts = {}
    for fact in FACTS:
        seen = sorted({run_facts(run)[fact] for run in records})
        facts[fact] = seen[0] if len(seen) == 1 else MIXED + ", ".join(seen) if seen else "-"
    return facts


def fact_differences(a: dict[str, str], b: dict[str, str]) -> list[FactDifference]:
    return [FactDifference(fact=fact, a=a.get(fact, "-"), b=b.get(fact, "-")) for fact in FACTS
            if a.get(fact, "-") != b.get(fact, "-")]
