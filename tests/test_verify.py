"""Verdicts: decided by typed parsed logs against references; never a pass without a final evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import spec
from harness.errors import BadInput
from harness.logs import Evaluation, ParsedLog, TrainStep
from harness.verify import Target, Verdict, judge

BENCH = spec.benchmark("reppoints-r101-dcn-2x")


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
    assert result.reason == "the log ended before any evaluation (stopped at epoch 1, iteration 10)"


def test_stopped_early_is_incomplete_even_with_a_good_map():
    result = judge(target(43.2, 44.0))
    assert result.verdict == Verdict.INCOMPLETE and "epoch 2 of 24" in result.reason


def test_evaluation_without_metrics_is_incomplete():
    assert judge(full(None)).verdict == Verdict.INCOMPLETE


def test_failed_run_is_incomplete():
    result = judge(full(43.2).model_copy(update={"run_failure": "the run failed"}))
    assert result.verdict == Verdict.INCOMPLETE and result.reason.startswith("the run failed")


def test_negative_tolerance_is_bad_input():
    with pytest.raises(BadInput, match="tolerance must be >= 0"):
        judge(full(43.2), tolerance=-1)
