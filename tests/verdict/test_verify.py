"""Verdicts: decided by typed parsed logs against references; never a pass without a final evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import BadInput
from harness.logs import Evaluation, ParsedLog, TrainStep
from harness.spec import benchmarks
from harness.verdict.verify import Target, Verdict, judge

BENCH = benchmarks.benchmark("reppoints-r101-dcn-2x")


def target(*maps: float | None, max_epochs=24, failure=None) -> Target:
    evaluations = [Evaluation(epoch=i + 1, metrics={} if m is None else {"bbox_mAP": m}) for i, m in enumerate(maps)]
    log = ParsedLog(source="x", format="mmengine-scalars", evaluations=evaluations,
                    last_step=TrainStep(epoch=max(len(maps), 1), iter=10), max_epochs=max_epochs)
    return Target(log=log, benchmark=BENCH, expected_epochs=max_epochs, run_failure=failure)


def full(final: float | None) -> Target:
    return target(*([30.0] * 23), final)


@pytest.mark.parametrize("value, verdict, code", [
    (43.2, Verdict.PASS, 0), (42.7, Verdict.PASS, 0), (43.7, Verdict.PASS, 0),
    (42.69, Verdict.OUT_OF_TOLERANCE, 1), (43.71, Verdict.IMPROVED, 0),
])
def test_tolerance_edges(value, verdict, code):
    result = judge(full(value))
    assert (result.verdict, result.exit_code) == (verdict, code)
    assert result.reference.name == "deepsparkhub-bi-v100" and result.tolerance == 0.5


@given(st.floats(0, 100), st.floats(0, 10))
def test_verdict_follows_the_delta(value, tolerance):
    result = judge(full(value), tolerance=tolerance)
    delta = value - 43.2
    expected = Verdict.OUT_OF_TOLERANCE if delta < -tolerance else Verdict.IMPROVED if delta > tolerance else Verdict.PASS
    assert result.verdict == expected


def test_other_reference():
    assert judge(full(42.9), "mmdet-zoo-v100").delta == 0


def test_no_evaluation_is_incomplete_with_where_it_stopped():
    result = judge(target())
    assert result.verdict == Verdict.INCOMPLETE and result.exit_code == 2
    assert result.reason == "the log ended before any evaluation (stopped at iteration 10, epoch 1)"


def test_stopped_early_is_incomplete_even_with_a_good_map():
    result = judge(target(43.2, 44.0))
    assert result.verdict == Verdict.INCOMPLETE and "epoch 2 of 24" in result.reason


def test_evaluation_without_metrics_is_incomplete():
    assert judge(full(None)).verdict == Verdict.INCOMPLETE


def test_failed_run_is_incomplete():
    result = judge(full(43.2).model_copy(update={"run_failure": "the run failed"}))
    assert result.verdict == Verdict.INCOMPLETE and result.reason.startswith("the run failed")


def test_negative_tolerance_is_bad_input():
    with pytest.raises(BadInput, match="tolerance must be a finite number >= 0"):
        judge(full(43.2), tolerance=-1)


def test_relative_policy_scales_with_the_reference():
    assert judge(full(42.8), tolerance=0.01, policy_name="relative").verdict == Verdict.PASS  # 1 % of 43.2 = 0.432
    result = judge(full(42.7), tolerance=0.01, policy_name="relative")
    assert result.verdict == Verdict.OUT_OF_TOLERANCE and "relative tolerance 0.43 AP" in result.reason


def test_one_sided_policy_never_flags_higher():
    assert judge(full(50.0), policy_name="one-sided").verdict == Verdict.PASS
    assert judge(full(42.0), policy_name="one-sided").verdict == Verdict.OUT_OF_TOLERANCE


def test_diverged_names_the_first_nan_step():
    t = full(43.2)
    log = t.log.model_copy(update={"diverged_at": TrainStep(epoch=3, iter=1200, loss=float("nan"))})
    result = judge(t.model_copy(update={"log": log}))
    assert (result.verdict, result.exit_code) == (Verdict.DIVERGED, 1)
    assert result.reason == "the loss became nan at iteration 1200 (epoch 3)"


def named(t: Target, name: str) -> Target:
    return t.model_copy(update={"log": t.log.model_copy(update={"source": name})})


def test_several_runs_are_judged_on_their_mean():
    result = judge([named(full(v), f"r{i}") for i, v in enumerate((43.0, 43.4, 42.9))])
    assert result.verdict == Verdict.PASS and result.aggregate.n == 3 and result.value == pytest.approx(43.1)
    assert result.aggregate.min == 42.9 and result.aggregate.max == 43.4 and result.aggregate.dropped == []


def test_mlperf_rule_one_unfinished_run_is_dropped_two_fail():
    one = judge([named(full(43.2), "a"), named(target(43.2, max_epochs=24), "b"), named(full(43.0), "c")])
    assert one.verdict == Verdict.PASS and one.aggregate.dropped == ["b (did not finish)"]
    two = judge([named(full(43.2), "a"), named(target(), "b"), named(target(40.0), "c")])
    assert two.verdict == Verdict.FAILED and two.exit_code == 1 and two.reason.startswith("2 of 3 runs did not finish")


def test_olympic_drops_best_and_worst_from_five():
    result = judge([named(full(v), f"r{v}") for v in (10.0, 43.0, 43.2, 43.4, 90.0)])
    assert result.aggregate.used == [43.0, 43.2, 43.4] and result.verdict == Verdict.PASS
    assert result.aggregate.dropped == ["r10.0 (worst, olympic)", "r90.0 (best, olympic)"]


def test_olympic_with_an_unfinished_run_drops_it_as_the_worst():
    runs = [named(full(v), f"r{v}") for v in (43.0, 43.2, 43.4, 90.0)] + [named(target(), "dnf")]
    result = judge(runs)
    assert result.aggregate.dropped == ["dnf (did not finish)", "r90.0 (best, olympic)"]


def test_t_test_when_the_reference_has_a_spread():
    bench = benchmarks.benchmark("smoke")  # 75.7 AP, spread 1.45 over 3 runs
    def smoke(value, name):
        t = named(full(value), name)
        return t.model_copy(update={"benchmark": bench})
    close = judge([smoke(v, f"a{v}") for v in (75.0, 77.0, 76.0)])
    assert close.verdict == Verdict.PASS and close.aggregate.p_value > 0.05 and "t-test" in close.reason
    low = judge([smoke(v, f"b{v}") for v in (60.0, 61.0, 60.5, 60.2)])
    assert low.verdict == Verdict.OUT_OF_TOLERANCE and low.aggregate.p_value < 0.05


def test_the_best_evaluation_is_shown_beside_the_final_one_and_a_fall_is_a_warning():
    result = judge(target(*([30.0] * 20), 44.0, 43.9, 43.5, 43.1))
    assert result.verdict == Verdict.PASS and result.value == 43.1, "the verdict still judges the final evaluation"
    assert (result.best.epoch, result.best.metrics["bbox_mAP"]) == (21, 44.0)
    assert result.warnings == ["the final bbox_mAP 43.10 (epoch 24) is 0.90 AP below the best 44.00 (epoch 21), "
                               "more than the tolerance 0.5"]
    steady = judge(full(43.2))
    assert steady.best.epoch == 24 and steady.warnings == []


def test_the_best_evaluation_is_in_the_json():
    from harness.verdict.verify import to_json

    assert to_json(judge(target(*([30.0] * 22), 44.0, 43.6)))["best"] == {"epoch": 23, "value": 44.0}
