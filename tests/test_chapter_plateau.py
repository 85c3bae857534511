"""The claims of the ReduceLROnPlateau chapter, checked against its full-profile execution.

The claims are asserted on the glued per-seed values: ``plateau_seeds[p]``
holds, for patience ``p`` (and for the patience as long as the run, which
never cuts), one value per seed of every measure in the chapter's table. The
runs of all patiences share seeds, so comparisons are paired.

Margins (tests/claims.py): a sentence "A is higher/lower than B" needs the
99 % interval of the paired difference to exclude zero, "at least as high"
its 80 % interval to reach above zero. An "every seed" sentence needs every
seed's difference beyond a resolution: one example (1/500) for an accuracy
on the testbed's 500 test or training points, and for an epoch a fifth of the
seeds' standard deviation of that epoch. These runs train through a real
``keras.Model``, whose matrix products round by CPU: a chaotic seed can
follow another path on another machine and move a first cut by a few epochs
(seed 2 does when its initial weights change by one part in a million), so
no claim below rests on where one seed's first cut lands.
"""

from __future__ import annotations

import numpy as np
import pytest
from claims import at_least_as_high, clearly_higher, clearly_lower
from claims import spread_resolution as epoch_resolution

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "plateau"  # the `values` fixture (conftest.py) reads its glued numbers

#: One of the testbed's 500 test (or training) points, in accuracy.
EXAMPLE = 1 / 500


def per_seed(values, patience, measure):
    """One patience's per-seed values of a measure (None, never happened, as NaN)."""
    return np.array(values["plateau_seeds"][patience][measure], dtype=float)


def test_each_patience_first_cuts_where_the_uncut_run_first_stalls_that_long(values):
    # Deterministic: until its first cut a run computes exactly what the run without cuts of the
    # same seed computes (same weights, batches and rate, on the same machine), so the callback,
    # which sees the validation loss, cuts at the end of the first stall of `patience` epochs.
    for patience in values["plateau_patiences"]:
        stalls = np.array(values["plateau_first_stall"][str(values["plateau_min_delta"])][patience], dtype=float)
        np.testing.assert_array_equal(per_seed(values, patience, "first_cut"), stalls, err_msg=str(patience))


def test_small_patience_cuts_early_and_reaches_the_bottom_within_about_25_epochs(values):
    small, never = values["plateau_small"], values["plateau_never"]
    frozen = per_seed(values, small, "frozen")
    # every run, within about 25 epochs, by more than the resolution of that epoch
    assert np.isfinite(frozen).all() and (frozen + epoch_resolution(frozen) <= 25).all()
    # long before learning is over: the runs without cuts reach their best validation loss in the
    # last quarter of the run, more than ten times later than the smallest patience first cuts
    best = per_seed(values, never, "best_validation_epoch")
    first = per_seed(values, small, "first_cut")
    margin = epoch_resolution(best)
    assert (best > 0.75 * values["plateau_epochs"] + margin).all()
    assert (10 * first < best - margin).all()


def test_without_min_lr_the_rate_falls_until_it_underflows_or_min_delta_holds_it(values):
    small = values["plateau_small"]
    cuts = per_seed(values, small, "cuts")
    zero = per_seed(values, small, "zero")
    final_rate = per_seed(values, small, "final_rate")
    improvement = per_seed(values, small, "improvement_at_the_final_rate")
    reached = np.isfinite(zero)
    assert reached.sum() == values["plateau_small_zero_runs"] >= len(zero) / 2  # "in N of 5 runs", most runs
    # every run that reaches zero does so after exactly the cuts float32 allows (the simulation in the notebook)
    assert (cuts[reached] == values["plateau_zero_cuts"]).all() and (final_rate[reached] == 0).all()
    # a run that stops short of zero is held by improvements larger than min_delta, by more than the
    # float32 rounding of two validation losses near 0.65 (one unit in the last place: 6e-8 each)
    rounding = 2 * float(np.spacing(np.float32(0.65)))
    assert (improvement[~reached] > values["plateau_min_delta"] + rounding).all()


def test_too_little_patience_freezes_the_model_at_a_worse_accuracy(values):
    small, second, never = values["plateau_small"], values["plateau_second"], values["plateau_never"]
    # nothing learned after the freeze: training accuracy gains at most 2 of 500 points (at rates of
    # 1e-4 or less a point near the boundary can still flip)
    change = per_seed(values, small, "train_accuracy") - per_seed(values, small, "train_accuracy_at_freeze")
    assert (change <= 2 * EXAMPLE).all()
    constant = per_seed(values, never, "test_accuracy")
    for patience in (small, second):
        acc = per_seed(values, patience, "test_accuracy")
        # "every run ... ends below its seed's run without cuts": by more than one test point in each seed
        assert (acc < constant - EXAMPLE).all(), patience
        assert clearly_lower(acc, constant), patience
    # "Patience 5 fares better"
    assert clearly_higher(per_seed(values, second, "test_accuracy"), per_seed(values, small, "test_accuracy"))


def test_the_seed_decides_when_a_patience_first_cuts(values):
    mid = values["plateau_mid"]
    first = per_seed(values, mid, "first_cut")
    assert values["plateau_mid_first_cut_min"] == first.min() and values["plateau_mid_first_cut_max"] == first.max()
    # the seeds' first cuts lie more than three patiences apart: moving one seed's cut by an epoch or
    # two (or one chaotic seed's by a few dozen) leaves the sentence true
    assert first.max() - first.min() > 3 * mid


def test_min_delta_does_not_decide_the_first_cut(values):
    same = values["plateau_same_first_cut"]
    patiences = values["plateau_patiences"]
    assert values["plateau_small"] in same and len(same) >= len(patiences) - 1
    band = values["plateau_first_stall_band"]
    for patience in same:  # the same epoch in every seed, for every min_delta from 1e-7 up to twice 1e-4
        stalls = values["plateau_first_stall"]["1e-07"][patience]
        assert band[patience]["earliest"] == band[patience]["latest"] == stalls, patience
        assert values["plateau_first_stall"]["0.0001"][patience] == stalls, patience
    assert values["plateau_min_delta_band"] >= 2e-4


def test_large_patience_cuts_late(values):
    large, never = values["plateau_large"], values["plateau_never"]
    first = per_seed(values, large, "first_cut")
    assert np.isfinite(first).all() and (first > values["plateau_epochs"] / 2 + epoch_resolution(first)).all()
    # near the Bayes-optimal rule on the same test points: every seed within ten test points
    assert per_seed(values, large, "test_accuracy").min() > values["plateau_bayes_test"] - 10 * EXAMPLE
    # harmless: no loss of test accuracy against the runs without cuts
    assert at_least_as_high(per_seed(values, large, "test_accuracy"), per_seed(values, never, "test_accuracy"))


def test_the_patience_chosen_on_validation_cuts_late_and_costs_nothing(values):
    chosen, runner_up, never = values["plateau_chosen"], values["plateau_runner_up"], values["plateau_never"]
    assert chosen in values["plateau_patiences"] and runner_up in values["plateau_patiences"]
    # "the lowest of the four": clearly below the next best patience, so the choice does not rest on one seed
    assert clearly_lower(per_seed(values, chosen, "validation_loss"), per_seed(values, runner_up, "validation_loss"))
    assert values["plateau_chosen_first_cut"] > values["plateau_epochs"] / 2  # "whose first cut comes late"
    # on the test split: at least as high as the runs without cuts, and quieter
    assert at_least_as_high(per_seed(values, chosen, "test_accuracy"), per_seed(values, never, "test_accuracy"))
    assert clearly_lower(per_seed(values, chosen, "jitter"), per_seed(values, never, "jitter"))


def test_a_schedule_with_the_callback_fails_with_the_error_keras_raises(values):
    import keras

    # the error of Keras' learning_rate setter, the assignment ReduceLROnPlateau makes to cut the rate
    optimizer = keras.optimizers.SGD(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=16, decay_rate=0.9))
    with pytest.raises(TypeError) as setter:
        optimizer.learning_rate = 0.001
    assert values["plateau_schedule_error_type"] == "TypeError"
    assert values["plateau_schedule_error_message"] == str(setter.value)
    assert "its learning rate is not settable" in values["plateau_schedule_error_message"]


def test_decay_and_cuts_compound_and_every_run_learns(values):
    # Each epoch's rate over the one before is the decay, or the decay times the factor after a cut. The
    # record holds each rate as the shortest decimal of its float32 value (half an epsilon off at most),
    # and the scheduler's product and the callback's cut are each rounded to float32 once: four roundings
    # of half an epsilon in a ratio of two recorded rates.
    assert values["plateau_schedule_step_deviation"] < 4 * 0.5 * float(np.finfo(np.float32).eps)
    cuts = np.array(values["plateau_schedule_cuts_by_seed"])
    assert values["plateau_schedule_runs_cut"] == int((cuts > 0).sum()) >= 1  # "the callback cut the rate in N runs"
    start = np.array(values["plateau_schedule_start_acc_by_seed"])
    end = np.array(values["plateau_schedule_end_acc_by_seed"])
    assert values["plateau_schedule_start_acc"] == pytest.approx(start.mean())
    assert values["plateau_schedule_end_acc_low"] == end.min() and values["plateau_schedule_end_acc_high"] == end.max()
    # "each at least 0.2 above its start", by more than the resolution of the gains
    gains = end - start
    assert (gains > 0.2 + epoch_resolution(gains, floor=EXAMPLE)).all(), gains
