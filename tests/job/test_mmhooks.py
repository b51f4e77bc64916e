"""The hooks the generated config adds to every training run, on their own (real training uses them in
test_long_runs.py)."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from harness.job.mmhooks import HarnessCurveHook, HarnessDivergenceHook, HarnessReseedHook, StoppedBelowCurve


def test_a_non_finite_loss_trips_at_once():
    hook = HarnessDivergenceHook()
    assert hook.verdict(math.nan) == "not finite" and hook.verdict(math.inf) == "not finite"


def test_growth_is_measured_against_the_first_loss():
    hook = HarnessDivergenceHook(growth=1000)
    assert [hook.verdict(v) for v in (2.2, 400.0, 2100.0)] == [None, None, None]
    assert hook.verdict(2300.0) == "above 1000 x its first value 2.2"


def test_reseeding_makes_an_epochs_randomness_a_function_of_seed_and_epoch():
    def draws(epoch):
        HarnessReseedHook().before_train_epoch(SimpleNamespace(seed=7, epoch=epoch))
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    assert draws(3) == draws(3) and draws(3) != draws(4)


class Logger:
    def __init__(self):
        self.lines = []

    def error(self, line):
        self.lines.append(line)


def test_two_evaluations_in_a_row_below_the_curve_stop_the_run():
    hook, logger = HarnessCurveHook(curve=[10.0, 20.0, 30.0, 40.0], margin=5), Logger()

    def evaluate(epoch, value):
        hook.after_val_epoch(SimpleNamespace(epoch=epoch, logger=logger), {"coco/bbox_mAP": value})

    evaluate(1, 0.01)  # 1.0 < 10 - 5: below once
    evaluate(2, 0.19)  # within the margin: the count starts again
    evaluate(3, 0.20)
    with pytest.raises(StoppedBelowCurve):
        evaluate(4, 0.30)
    assert logger.lines == ["harness: stopped below the reference curve at epoch 4: epoch 3 20.00 < 30.00 - 5; "
                            "epoch 4 30.00 < 40.00 - 5"]
