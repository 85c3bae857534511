"""The claims of the decay-schedules chapter, checked on its full-profile execution.

Comparisons between settings are asserted on the glued per-seed values (the
runs of a sweep share seeds, so the differences are paired), with the book's
one bootstrap interval, ``lrnotes.difference``.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "decay_schedules"  # the `values` fixture (conftest.py) reads its glued numbers


def seeds(values, name, key, measure):
    """One setting's per-seed values of a measure, as an array (None, never reached, as NaN)."""
    return np.array(values[name][key][measure], dtype=float)


# --- Keras facts -------------------------------------------------------------------------------


def test_inverse_time_decay_is_the_closed_form_in_updates(values):
    assert values["decay_keras_gap"] < 1e-6  # float32 rounding only


def test_keras3_ignores_decay_argument_and_schedule_replaces_it(values):
    assert values["decay_trap_ignored"] == pytest.approx(values["decay_lr0"])
    expected = values["decay_lr0"] / (1 + 1e-2 * values["decay_trap_steps"])
    assert values["decay_trap_schedule"] == pytest.approx(expected, rel=1e-6)


def test_the_rate_after_epochs_is_counted_in_updates(values):
    # the table's rate is the closed form at (epochs x updates per epoch), not at the epochs
    updates = values["decay_question_epochs"] * values["decay_steps_32"]
    assert values["decay_after_0_1"] == pytest.approx(values["decay_lr0"] / (1 + 0.1 * updates), rel=1e-12)


def test_recursive_form_decays_faster_than_the_closed_form(values):
    assert values["decay_recursive_e10"] < values["decay_closed_e10"]
    # Keras counts updates: faster than the recursion early, slower later
    assert values["decay_keras_e10"] < values["decay_recursive_e10"]
    assert values["decay_recursive_e100"] < values["decay_keras_e100"]
    assert values["decay_table_last"] < values["decay_recursion_overtakes"] < values["decay_far_epoch"]


# --- the testbed -------------------------------------------------------------------------------


def test_large_decays_starve_learning(values):
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    for decay in (0.1, 0.01):
        acc = seeds(values, "decay_seeds", decay, "test_accuracy")
        assert (acc < none).all(), decay  # "far below the baseline's ... in every seed"
        assert difference(acc, none).high < 0
    assert (seeds(values, "decay_seeds", 0.1, "test_accuracy") < none - 0.05).all()
    # underfitting, not generalising better: the training accuracy is lower in every seed too
    train_none = seeds(values, "decay_seeds", 0.0, "train_accuracy")
    assert (seeds(values, "decay_seeds", 0.1, "train_accuracy") < train_none - 0.05).all()


def test_tiny_decay_behaves_like_no_decay(values):
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    tiny = seeds(values, "decay_seeds", 1e-4, "test_accuracy")
    gap = difference(tiny, none)
    assert not gap.real  # "no clear difference"
    assert abs(gap.mean) < none.std(ddof=1)
    # both reach the threshold after about the same number of epochs, seed by seed
    reach_gap = seeds(values, "decay_seeds", 1e-4, "reach") - seeds(values, "decay_seeds", 0.0, "reach")
    assert np.isfinite(reach_gap).all() and (np.abs(reach_gap) <= 3).all()


def test_mild_decay_ends_like_the_constant_rate_but_quieter(values):
    none = values["decay_seeds"][0.0]
    mild = values["decay_seeds"][1e-3]
    assert not difference(mild["test_accuracy"], none["test_accuracy"]).real  # "no clear difference"
    assert not difference(mild["reach"], none["reach"]).real  # "the seeds cannot tell ... later"
    # "much more quietly ... lower in every seed"
    assert (np.array(mild["jitter"]) < np.array(none["jitter"])).all()
    assert np.mean(mild["jitter"]) < 0.5 * np.mean(none["jitter"])


def test_the_constant_rates_seed_spread_is_one_run_ending_on_a_dip(values):
    final = np.sort(seeds(values, "decay_seeds", 0.0, "test_accuracy"))
    assert final[0] < final[1] - 0.02  # one run well below the others
    assert final[-1] - final[1] <= 0.01  # the others close together


def test_no_decay_beats_the_constant_rate_on_the_testbed(values):
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    for decay in (0.1, 0.01, 1e-3, 1e-4):
        assert not difference(seeds(values, "decay_seeds", decay, "test_accuracy"), none).low > 0, decay


def test_a_strong_decay_needs_a_higher_start(values):
    high_decayed, high_constant, low_decayed = values["decay_start_keys"]
    start = values["decay_start_seeds"]
    acc = {key: np.array(start[key]["test_accuracy"]) for key in start}
    # from the higher start the same decay no longer starves the model, in every seed
    assert (acc[high_decayed] > acc[low_decayed] + 0.05).all()
    # the milder decays lose nothing from the low start (practical advice)
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    for decay in (1e-3, 1e-4):
        assert not difference(seeds(values, "decay_seeds", decay, "test_accuracy"), none).high < 0


def test_at_the_same_start_a_decay_slows_the_fit(values):
    high_decayed, high_constant, _ = values["decay_start_keys"]
    start = values["decay_start_seeds"]
    decayed, constant = start[high_decayed], start[high_constant]
    # a higher training loss in every seed, and the threshold later (median)
    assert (np.array(decayed["train_loss"]) > np.array(constant["train_loss"])).all()
    assert difference(decayed["train_loss"], constant["train_loss"]).low > 0
    assert np.median(decayed["reach"]) > np.median(constant["reach"])
    # Ionosphere without momentum: decay alone raises the training loss in every seed
    plain, decay_only, _, _ = values["decay_rule_keys"]
    rule = values["decay_rule_seeds"]
    assert (np.array(rule[decay_only]["train_loss"]) > np.array(rule[plain]["train_loss"])).all()


def test_from_the_higher_start_the_decay_costs_no_accuracy_and_ends_quieter(values):
    high_decayed, high_constant, _ = values["decay_start_keys"]
    start = values["decay_start_seeds"]
    decayed, constant = start[high_decayed], start[high_constant]
    gap = difference(decayed["test_accuracy"], constant["test_accuracy"])
    assert gap.mean >= 0 and gap.low > -0.005  # "at least as high" (a few of 500 test points)
    assert (np.array(decayed["test_loss"]) < np.array(constant["test_loss"])).all()
    assert (np.array(decayed["jitter"]) < np.array(constant["jitter"])).all()
    # both within 0.02 of the Bayes-optimal rule on the same test points
    for runs in (decayed, constant):
        assert np.mean(runs["test_accuracy"]) > values["decay_bayes_test"] - 0.02


# --- Ionosphere: the rule of thumb ---------------------------------------------------------------


def test_keras_decays_the_rule_per_update(values):
    # the rate recorded in the last epoch is the closed form at the last update, in every run
    assert values["decay_rule_recorded_ends"] == pytest.approx(
        [values["decay_rule_end"]] * len(values["decay_rule_recorded_ends"]), rel=1e-6)
    assert values["decay_rule_end"] < values["decay_rule_end_epochs"]


def test_the_tutorials_single_run_gain_shrinks_to_under_one_test_example(values):
    plain, decay_only, momentum_only, the_rule = values["decay_rule_keys"]
    rule = values["decay_rule_seeds"]
    gap = difference(rule[the_rule]["test_accuracy"], rule[plain]["test_accuracy"])
    example = values["decay_iono_example"]
    assert gap.mean < example  # under one test example on average
    tutorial_gap = values["decay_tutorial_rule"] - values["decay_tutorial_plain"]
    assert gap.high < tutorial_gap  # the tutorial's single-run gain lies outside the seeds' interval
    # "about as much as the spread between seeds of plain SGD"
    assert 0.5 * values["decay_rule_std_plain"] < gap.mean < 2 * values["decay_rule_std_plain"]
    # neither ingredient alone separates from plain SGD on the test set
    for alone in (momentum_only, decay_only):
        assert not difference(rule[alone]["test_accuracy"], rule[plain]["test_accuracy"]).real, alone


def test_momentum_speeds_the_fit_and_raises_the_test_loss(values):
    plain, _, momentum_only, _ = values["decay_rule_keys"]
    rule = values["decay_rule_seeds"]
    momentum, baseline = rule[momentum_only], rule[plain]
    assert (np.array(momentum["train_loss"]) < 0.5 * np.array(baseline["train_loss"])).all()
    assert (np.array(momentum["test_loss"]) > np.array(baseline["test_loss"])).all()


# --- step and exponential decay --------------------------------------------------------------------


def test_step_schedule_is_applied_as_the_formula(values):
    assert values["decay_step_rates_match"] is True  # the records against the formula
    assert values["decay_step_first_drop"] == values["decay_step_every"] - 1  # the (1 + e) of the formula


def test_exponential_callback_and_schedule_agree(values):
    assert values["decay_exp_gap"] < 1e-5  # float32 decay_rate raised to a power
    assert values["decay_exp_continuous_between"] is True
    assert values["decay_exp_acc_gap"] == 0  # identical test accuracies at every epoch
    assert values["decay_exp_loss_gap"] < 1e-6


# --- the schedules compared ------------------------------------------------------------------------


def test_schedules_fit_the_training_data_in_the_order_their_rates_shrink(values):
    cmp = values["decay_cmp_seeds"]
    losses = [np.array(cmp[key]["train_loss"]) for key in values["decay_cmp_keys"]]
    for faster, slower in zip(losses, losses[1:]):
        assert (faster < slower).all()  # in every seed


def test_every_schedule_ends_quieter_and_with_a_lower_test_loss(values):
    constant, time_based, step, exponential = values["decay_cmp_keys"]
    cmp = values["decay_cmp_seeds"]
    for key in (step, exponential):
        assert (np.array(cmp[key]["jitter"]) < np.array(cmp[constant]["jitter"])).all(), key
    assert (np.array(cmp[time_based]["jitter"]) <= np.array(cmp[constant]["jitter"])).all()
    assert difference(cmp[time_based]["jitter"], cmp[constant]["jitter"]).high < 0
    for key in (time_based, step, exponential):
        assert (np.array(cmp[key]["test_loss"]) < np.array(cmp[constant]["test_loss"])).all(), key


def test_schedules_hardly_move_the_test_accuracy(values):
    constant, *decayed = values["decay_cmp_keys"]
    cmp = values["decay_cmp_seeds"]
    example = values["decay_iono_example"]
    means = [np.mean(cmp[key]["test_accuracy"]) for key in values["decay_cmp_keys"]]
    assert max(means) - min(means) < 1.5 * example  # "about one test example"
    for key in decayed:  # "no schedule ends more than one test example above the constant rate"
        assert difference(cmp[key]["test_accuracy"], cmp[constant]["test_accuracy"]).mean < example, key
