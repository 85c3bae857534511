"""The claims of the decay-schedules chapter, checked on its full-profile execution.

Comparisons between settings are asserted on the glued per-seed values (the
runs of a sweep share seeds, so the differences are paired), with margins from
the seeds' own spread (tests/claims.py): "A is higher/lower than B" needs the
99 % interval of the paired difference to exclude zero; "no clear difference"
needs the 80 % interval to contain zero; "at least as high" / "no higher" need
the 80 % interval to reach past zero on that side. An "every seed" sentence
needs every seed's difference beyond a resolution: one test example for an
accuracy (1/500 on the testbed, 1/116 on Ionosphere, whose accuracies move in
those steps), and for a loss, a jitter or an epoch count a fifth of the seeds'
standard deviation of that measure (the larger of the two settings compared).
The step and exponential callbacks train through a real ``keras.Model``,
whose matrix products round by CPU; no claim rests on one seed's last bits.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from claims import (
    CLEAR,
    at_least_as_high,
    at_most_as_high,
    clearly_higher,
    clearly_lower,
    no_clear_difference,
)
from claims import spread_resolution as resolution

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "decay_schedules"  # the `values` fixture (conftest.py) reads its glued numbers

#: One of the testbed's 500 test (or training) points, in accuracy.
EXAMPLE = 1 / 500


def seeds(values, name, key, measure):
    """One setting's per-seed values of a measure, as an array (None, never reached, as NaN)."""
    return np.array(values[name][key][measure], dtype=float)


def every_seed_lower(a, b, res):
    """Whether every seed's a - b lies below -res."""
    return bool((np.asarray(a, dtype=float) - np.asarray(b, dtype=float) < -res).all())


def every_seed_higher(a, b, res):
    """Whether every seed's a - b lies above res."""
    return bool((np.asarray(a, dtype=float) - np.asarray(b, dtype=float) > res).all())


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
        assert every_seed_lower(acc, none, EXAMPLE), decay  # "far below the baseline's ... in every seed"
        assert clearly_lower(acc, none), decay
    # "far": decay 0.1 ends more than 25 test points below the baseline in every seed
    assert every_seed_lower(seeds(values, "decay_seeds", 0.1, "test_accuracy"), none, 25 * EXAMPLE)
    # underfitting, not generalising better: the training accuracy is lower in every seed too
    train_none = seeds(values, "decay_seeds", 0.0, "train_accuracy")
    assert every_seed_lower(seeds(values, "decay_seeds", 0.1, "train_accuracy"), train_none, 25 * EXAMPLE)


def test_tiny_decay_behaves_like_no_decay(values):
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    tiny = seeds(values, "decay_seeds", 1e-4, "test_accuracy")
    assert no_clear_difference(tiny, none)  # "no clear difference"
    # both reach the threshold after about the same number of epochs: the medians within the seeds'
    # standard deviation of that epoch (one seed's crossing of a noisy curve can move by several epochs)
    reach_none = seeds(values, "decay_seeds", 0.0, "reach")
    reach_tiny = seeds(values, "decay_seeds", 1e-4, "reach")
    assert np.isfinite(reach_none).all() and np.isfinite(reach_tiny).all()
    assert abs(np.median(reach_tiny) - np.median(reach_none)) <= 5 * resolution(reach_none, reach_tiny)


def test_mild_decay_ends_like_the_constant_rate_but_quieter(values):
    none = values["decay_seeds"][0.0]
    mild = values["decay_seeds"][1e-3]
    assert no_clear_difference(mild["test_accuracy"], none["test_accuracy"])  # "no clear difference"
    assert no_clear_difference(mild["reach"], none["reach"])  # "the seeds cannot tell ... later"
    # "more quietly ... lower in every seed"
    assert every_seed_lower(mild["jitter"], none["jitter"], resolution(mild["jitter"], none["jitter"]))
    assert clearly_lower(mild["jitter"], none["jitter"])


def test_the_constant_rates_seed_spread_is_one_run_ending_on_a_dip(values):
    final = np.sort(seeds(values, "decay_seeds", 0.0, "test_accuracy"))
    # one run ends more than ten test points below all others, which lie closer to each other
    # than to it (by more than twice): the standard deviation is that one run
    assert final[1] - final[0] > 10 * EXAMPLE
    assert final[1] - final[0] > 2 * (final[-1] - final[1])


def test_no_decay_ends_higher_than_the_constant_rate_on_the_testbed(values):
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    for decay in (0.1, 0.01, 1e-3, 1e-4):  # "None of the decays ends with a higher test accuracy"
        assert at_most_as_high(seeds(values, "decay_seeds", decay, "test_accuracy"), none), decay


def test_a_strong_decay_needs_a_higher_start(values):
    high_decayed, _, low_decayed = values["decay_start_keys"]
    start = values["decay_start_seeds"]
    acc = {key: np.array(start[key]["test_accuracy"]) for key in start}
    # from the higher start the same decay no longer starves the model, higher in every seed
    assert every_seed_higher(acc[high_decayed], acc[low_decayed], EXAMPLE)
    assert clearly_higher(acc[high_decayed], acc[low_decayed])
    # the milder decays lose nothing from the low start (practical advice)
    none = seeds(values, "decay_seeds", 0.0, "test_accuracy")
    for decay in (1e-3, 1e-4):
        assert at_least_as_high(seeds(values, "decay_seeds", decay, "test_accuracy"), none), decay


def test_at_the_same_start_a_decay_slows_the_fit(values):
    high_decayed, high_constant, _ = values["decay_start_keys"]
    start = values["decay_start_seeds"]
    decayed, constant = start[high_decayed], start[high_constant]
    # a higher training loss in every seed, and the threshold no sooner
    res = resolution(decayed["train_loss"], constant["train_loss"])
    assert every_seed_higher(decayed["train_loss"], constant["train_loss"], res)
    assert clearly_higher(decayed["train_loss"], constant["train_loss"])
    assert at_least_as_high(decayed["reach"], constant["reach"])
    # Ionosphere without momentum: decay alone raises the training loss in every seed
    plain, decay_only, _, _ = values["decay_rule_keys"]
    rule = values["decay_rule_seeds"]
    res = resolution(rule[decay_only]["train_loss"], rule[plain]["train_loss"])
    assert every_seed_higher(rule[decay_only]["train_loss"], rule[plain]["train_loss"], res)
    assert clearly_higher(rule[decay_only]["train_loss"], rule[plain]["train_loss"])


def test_from_the_higher_start_the_decay_costs_no_accuracy_and_ends_quieter(values):
    high_decayed, high_constant, _ = values["decay_start_keys"]
    start = values["decay_start_seeds"]
    decayed, constant = start[high_decayed], start[high_constant]
    assert at_least_as_high(decayed["test_accuracy"], constant["test_accuracy"])  # "at least as high"
    assert clearly_lower(decayed["test_loss"], constant["test_loss"])  # "a lower test loss"
    # "a quieter end (jitter lower in every seed)"
    assert every_seed_lower(decayed["jitter"], constant["jitter"], resolution(decayed["jitter"], constant["jitter"]))
    # "every run of both ends within 0.03 of the Bayes-optimal rule", by more than one test point
    for runs in (decayed, constant):
        assert min(runs["test_accuracy"]) > values["decay_bayes_test"] - 0.03 + EXAMPLE


# --- Ionosphere: the rule of thumb ---------------------------------------------------------------


def test_keras_decays_the_rule_per_update(values):
    # the rate recorded in the last epoch is the closed form at the last update, in every run
    # (float32 storage of the rate: relative rounding below 1e-6)
    assert values["decay_rule_recorded_ends"] == pytest.approx(
        [values["decay_rule_end"]] * len(values["decay_rule_recorded_ends"]), rel=1e-6)
    assert values["decay_rule_end"] < values["decay_rule_end_epochs"]


def test_the_tutorials_single_run_gain_shrinks_far_below_itself(values):
    plain, decay_only, momentum_only, the_rule = values["decay_rule_keys"]
    rule = values["decay_rule_seeds"]
    tutorial_gap = values["decay_tutorial_rule"] - values["decay_tutorial_plain"]
    # "far below the tutorial's gain": even the 99 % interval of the seeds' gain stays under half of it
    gain = difference(rule[the_rule]["test_accuracy"], rule[plain]["test_accuracy"], confidence=CLEAR)
    assert gain.high < tutorial_gap / 2
    # "neither ingredient alone beats plain SGD on the test set"
    for alone in (momentum_only, decay_only):
        assert at_most_as_high(rule[alone]["test_accuracy"], rule[plain]["test_accuracy"]), alone


def test_momentum_speeds_the_fit_and_raises_the_test_loss(values):
    plain, _, momentum_only, _ = values["decay_rule_keys"]
    rule = values["decay_rule_seeds"]
    momentum, baseline = rule[momentum_only], rule[plain]
    # a training loss below half of plain SGD's in every seed, by more than the resolution
    half = 0.5 * np.array(baseline["train_loss"])
    assert every_seed_lower(momentum["train_loss"], half, resolution(momentum["train_loss"], half))
    # "higher in every seed"
    res = resolution(momentum["test_loss"], baseline["test_loss"])
    assert every_seed_higher(momentum["test_loss"], baseline["test_loss"], res)
    assert clearly_higher(momentum["test_loss"], baseline["test_loss"])


# --- step and exponential decay --------------------------------------------------------------------


def test_step_schedule_is_applied_as_the_formula(values):
    assert values["decay_step_rates_match"] is True  # the records against the formula
    assert values["decay_step_first_drop"] == values["decay_step_every"] - 1  # the (1 + e) of the formula


def test_exponential_callback_and_schedule_agree(values):
    assert values["decay_exp_gap"] < 1e-5  # float32 decay_rate raised to a power
    assert values["decay_exp_continuous_between"] is True
    # The two ways train the same model: the callback run (a keras.Model) and the schedule run (the
    # stacked engine) differ only by float32 rounding, a few 1e-8 in the training loss; at most a
    # test point whose output sits within that rounding of the boundary can flip (1/116).
    assert values["decay_exp_acc_gap"] <= values["decay_iono_example"] + 1e-12
    assert values["decay_exp_loss_gap"] < 1e-6


# --- the schedules compared ------------------------------------------------------------------------


def test_schedules_fit_the_training_data_in_the_order_their_rates_shrink(values):
    cmp = values["decay_cmp_seeds"]
    losses = [cmp[key]["train_loss"] for key in values["decay_cmp_keys"]]
    for faster, slower in itertools.pairwise(losses):
        assert every_seed_lower(faster, slower, resolution(faster, slower))  # "in that order in every seed"


def test_every_schedule_ends_quieter_and_with_a_lower_test_loss(values):
    constant, time_based, step, exponential = values["decay_cmp_keys"]
    cmp = values["decay_cmp_seeds"]
    for key in (time_based, step, exponential):  # "All three end more quietly"
        assert clearly_lower(cmp[key]["jitter"], cmp[constant]["jitter"]), key
    for key in (step, exponential):  # "step and exponential lower in every seed"
        res = resolution(cmp[key]["jitter"], cmp[constant]["jitter"])
        assert every_seed_lower(cmp[key]["jitter"], cmp[constant]["jitter"], res), key
    # "time-based lower or equal": no seed's jitter above the constant rate's by more than the resolution
    res = resolution(cmp[time_based]["jitter"], cmp[constant]["jitter"])
    assert (np.subtract(cmp[time_based]["jitter"], cmp[constant]["jitter"]) <= res).all()
    for key in (time_based, step, exponential):  # "every schedule lower in every seed"
        res = resolution(cmp[key]["test_loss"], cmp[constant]["test_loss"])
        assert every_seed_lower(cmp[key]["test_loss"], cmp[constant]["test_loss"], res), key


def test_schedules_hardly_move_the_test_accuracy(values):
    constant, *decayed = values["decay_cmp_keys"]
    cmp = values["decay_cmp_seeds"]
    example = values["decay_iono_example"]
    base = np.array(cmp[constant]["test_accuracy"])
    for key in decayed:
        acc = np.array(cmp[key]["test_accuracy"])
        # "no schedule ends more than one test example above the constant rate on average"
        assert at_most_as_high(acc - example, base), key
        # "by under one test example in mean test accuracy" (takeaways): nor more than one below
        assert at_least_as_high(acc + example, base), key
