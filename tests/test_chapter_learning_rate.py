"""Claims of the learning-rate chapter, checked on its quick-profile execution."""

from __future__ import annotations

import math

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


def test_tiny_rates_learn_nothing_and_moderate_rates_learn(glued):
    values = glued("learning_rate")
    assert values["sgd_acc_1e_7"] < 0.5 and values["sgd_acc_1e_6"] < 0.5  # near chance (1/3)
    assert values["sgd_acc_0_1"] > 0.75
    assert values["sgd_acc_0_1"] > values["sgd_acc_0_001"] > values["sgd_acc_1e_7"]


def test_rate_one_oscillates(glued):
    values = glued("learning_rate")
    assert values["sgd_jitter_1"] > 2 * values["sgd_jitter_0_1"]
    assert values["sgd_acc_1"] < values["sgd_acc_0_1"]


def test_learning_slows_as_the_rate_shrinks(glued):
    values = glued("learning_rate")
    assert values["sgd_epochs_0_1"] < values["sgd_epochs_0_01"]
    slower = values["sgd_epochs_0_001"]
    assert (isinstance(slower, float) and math.isnan(slower)) or slower > values["sgd_epochs_0_01"]


def test_the_u_shape_has_its_top_in_the_middle(glued):
    values = glued("learning_rate")
    assert values["sgd_best_lr"] in (0.1, 0.01)
    assert values["adam_best_lr"] in (0.1, 0.01, 0.001)
    assert values["adam_acc_0_01"] > values["adam_acc_1e_4"]


def test_digits_low_rate_is_smooth_and_slow_high_rate_jumps(glued):
    values = glued("learning_rate")
    assert values["digits_loss_first_high"] > values["digits_loss_first_low"]
    assert values["digits_loss_final_mid"] < values["digits_loss_final_low"]
    assert values["digits_acc_mid"] > values["digits_acc_low"]
