"""The claims of the decay-schedules chapter, checked on its quick-profile execution."""

from __future__ import annotations

import math

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "decay_schedules"  # the `values` fixture (conftest.py) reads its glued numbers


def test_inverse_time_decay_is_the_closed_form_in_updates(values):
    assert values["decay_keras_gap"] < 1e-6  # float32 rounding only


def test_keras3_ignores_decay_argument_and_schedule_replaces_it(values):
    assert values["decay_trap_ignored"] == pytest.approx(values["decay_lr0"])
    expected = values["decay_lr0"] / (1 + 1e-2 * values["decay_trap_steps"])
    assert values["decay_trap_schedule"] == pytest.approx(expected, rel=1e-6)


def test_rate_after_200_epochs_depends_on_decay_and_batch_size(values):
    assert values["decay_question_updates"] == values["decay_question_epochs"] * values["decay_steps_32"]
    # decay 0.1 leaves a tiny fraction of decay 1e-4's rate
    assert values["decay_after_0_1"] < 0.01 * values["decay_after_1e_4"]
    assert values["decay_after_ratio"] > 100
    # fewer updates per epoch (larger batches): less decay after the same epochs
    assert values["decay_steps_other"] < values["decay_steps_32"]
    assert values["decay_after_other_0_1"] > values["decay_after_0_1"]
    assert values["decay_after_other_1e_4"] > values["decay_after_1e_4"]
    # reading t as epochs overestimates the rate by about the number of updates per epoch
    assert values["decay_after_epochs_factor"] > values["decay_steps_32"] / 2


def test_recursive_form_decays_faster_than_the_closed_form(values):
    assert values["decay_recursive_below_from"] <= 3
    assert values["decay_recursive_e10"] < values["decay_closed_e10"]
    # Keras counts updates: faster than the recursion early, slower later
    assert values["decay_keras_e10"] < values["decay_recursive_e10"]
    assert values["decay_recursive_e100"] < values["decay_keras_e100"] / 10
    assert values["decay_table_last"] < values["decay_recursion_overtakes"] < values["decay_far_epoch"]


def test_large_decay_starves_learning(values):
    assert values["decay_acc_0_1"] < values["decay_acc_1e_4"] - 0.03
    assert values["decay_acc_0_1"] < values["decay_acc_0_01"] < values["decay_acc_1e_4"]
    assert values["decay_train_0_1"] < values["decay_train_none"]  # underfitting, not regularising
    assert values["decay_final_rate_0_1"] < 0.05 * values["decay_final_rate_1e_4"]
    # the steps of decay 0.1 add up to a small fraction of the constant rate's
    assert values["decay_sum_0_1"] < 0.1 * values["decay_sum_none"]


def test_tiny_decay_behaves_like_no_decay(values):
    assert values["decay_gap_1e_4"] <= 0.02
    assert values["decay_final_rate_1e_4"] > 0.9 * values["decay_lr0"]


def test_starting_higher_rescues_the_starved_decay(values):
    assert values["decay_high_decayed_acc"] > values["decay_acc_0_01"] + 0.05
    assert values["decay_high_decayed_acc"] >= values["decay_high_constant_acc"] - 0.02


def test_rule_of_thumb_decays_per_update_not_per_epoch(values):
    assert values["decay_rule"] == pytest.approx(values["decay_iono_lr0"] / values["decay_iono_epochs"])
    assert values["decay_rule_end"] < values["decay_rule_end_epochs"] - 0.01
    assert values["decay_rule_per_update"] == pytest.approx(values["decay_rule"] / values["decay_iono_steps"])


def test_rule_of_thumb_gain_comes_from_momentum(values):
    # momentum fits the training data much faster, with or without the decay
    assert values["decay_rule_loss_momentum"] < 0.6 * values["decay_rule_loss_plain"]
    assert values["decay_rule_loss_both"] < 0.6 * values["decay_rule_loss_plain"]
    # the decay alone slows plain SGD down
    assert values["decay_rule_loss_decay"] > values["decay_rule_loss_plain"]
    # and momentum alone is as good on the test set as the rule (within two test examples)
    assert values["decay_rule_acc_momentum"] >= values["decay_rule_acc_both"] - 2 * values["decay_iono_example"]


def test_step_schedule_halves_every_10_epochs(values):
    assert values["decay_step_ratio"] == 0.5
    assert values["decay_step_first_ratio"] == 0.5
    assert values["decay_step_drop_spacing"] == values["decay_step_drop_spacing_max"] == 10
    assert values["decay_step_first_drop"] == 9  # the (1 + epoch) of the formula
    assert values["decay_step_last"] == pytest.approx(0.1 * 0.5**10)
    assert values["decay_step_rates_match"] is True


def test_exponential_callback_and_schedule_agree(values):
    assert values["decay_exp_gap"] < 1e-5  # float32 decay_rate raised to a power
    assert values["decay_exp_acc_gap"] <= values["decay_iono_example"] + 1e-9
    assert values["decay_exp_loss_gap"] < 1e-5
    assert values["decay_exp_within_epoch"] == pytest.approx(math.exp(-0.1 * 7 / 8))


def test_faster_decay_fits_the_training_data_less(values):
    assert values["decay_cmp_loss_constant"] < values["decay_cmp_loss_exp"]
    assert values["decay_cmp_loss_time"] < values["decay_cmp_loss_exp"]
    # ... while the test accuracies of the schedules stay close together
    assert values["decay_cmp_acc_range"] <= 0.05
