"""Claims of the chapter "Warmup, cosine decay and one-cycle", checked on its full-profile execution.

Comparisons between schedules are paired over seeds (the same seed gives the
same initial weights and batch order under every schedule), with margins from
the seeds' own spread (tests/claims.py): "A is higher/lower than B" needs the
99 % interval of the paired difference (``lrnotes.difference``) to exclude
zero; "no clear difference" needs the 80 % interval to contain zero; "at least
as high" / "no lower" need the 80 % interval to reach past zero on that side.
An "every seed" sentence needs every seed's difference beyond a resolution:
one test example (1/500) for an accuracy, and for a loss, a jitter or an epoch
count a fifth of the seeds' standard deviation of that measure (the larger of
the two schedules compared). At the peak rate of 2 the runs are erratic: a
change in the last bits of the arithmetic (another CPU) sends a run down
another path and can change where it ends by 0.3 in accuracy (as initial
weights moved by one part in a million do), so the claims of that section
are only those that such a change leaves standing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from claims import (
    at_least_as_high,
    at_most_as_high,
    clearly_higher,
    clearly_lower,
    in_every_seed,
    no_clear_difference,
)
from claims import spread_resolution as resolution

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "modern_schedules"  # the `values` fixture (conftest.py) reads its glued numbers

PEAK = ["constant 0.1", "step decay", "cosine with warmup", "one-cycle"]
DECAYED = ["step decay", "cosine with warmup", "one-cycle"]
#: One of the testbed's 500 test points, in accuracy.
EXAMPLE = 1 / 500


def _seeds(values, name, column):
    return np.asarray(values["modern_seeds"][name][column], dtype=float)


def _large(values, name, column):
    return np.asarray(values["modern_large_seeds"][name][column], dtype=float)


def test_written_formulas_match_the_keras_objects(values):
    assert values["modern_formula_error"] < 1e-5
    assert values["modern_step_error"] < 1e-6
    assert values["modern_first_rate"] == 0.0  # warmup from 0: the first update changes nothing


def test_the_schedules_shapes_as_described(values):
    # "from epoch 50 on [step decay] runs at 0.031 of the peak or less"
    assert values["modern_step_late_fraction"] < 0.05
    # one-cycle "comes down more slowly than cosine decay (at or above it over the whole second half)"
    assert values["modern_cycle_above_cosine"] == 1.0
    # "... and ends at 4e-06 of the peak": far below where it started (1/25)
    assert values["modern_cycle_last_fraction"] < (1 / 25) / 1e3


def test_final_accuracy_varies_little_and_ends_just_below_the_bayes_rule(values):
    means = [float(np.mean(_seeds(values, name, "test_accuracy"))) for name in PEAK]
    assert values["modern_acc_low"] == pytest.approx(min(means)) and values["modern_acc_high"] == pytest.approx(max(means))
    for name in PEAK:
        acc = _seeds(values, name, "test_accuracy")
        # "varies little ... just below the Bayes rule": every run within 15 test points of it,
        # by more than one test point, and every mean below it by more than two standard errors
        assert acc.min() > values["modern_ceiling"] - 15 * EXAMPLE + EXAMPLE, name
        assert acc.mean() + 2 * acc.std(ddof=1) / math.sqrt(len(acc)) < values["modern_ceiling"], name


def test_step_decay_ends_at_least_as_high_as_every_schedule_and_above_cosine_and_one_cycle(values):
    step = _seeds(values, "step decay", "test_accuracy")
    for other in ("cosine with warmup", "one-cycle"):  # "higher ... in every seed"
        acc = _seeds(values, other, "test_accuracy")
        assert (step - acc > EXAMPLE).all(), other
        assert clearly_higher(step, acc), other
    for other in ("constant 0.1", "constant 0.01"):  # "at least as high as every other schedule"
        assert at_least_as_high(step, _seeds(values, other, "test_accuracy")), other
    # "the validation split ranks it above cosine too"
    assert clearly_higher(_seeds(values, "step decay", "val_accuracy"), _seeds(values, "cosine with warmup", "val_accuracy"))


def test_the_test_loss_ranks_the_schedules_the_other_way(values):
    step = _seeds(values, "step decay", "test_loss")
    constant = _seeds(values, "constant 0.1", "test_loss")
    for name in ("cosine with warmup", "one-cycle"):
        loss = _seeds(values, name, "test_loss")
        assert (loss - step < -resolution(loss, step)).all(), name  # "lower than step decay in every seed"
        assert clearly_lower(loss, step) and clearly_lower(loss, constant), name  # "the lowest ... of the four"
    # "step decay's test loss is no lower than the constant 0.1's"
    assert at_least_as_high(step, constant)


def test_the_training_loss_follows_the_sum_of_the_rates(values):
    sums = values["modern_rate_sums"]
    low, high = ["constant 0.01", "step decay"], ["constant 0.1", "cosine with warmup", "one-cycle"]
    # "add up to about 30" and "160 to 320" (deterministic sums of the schedules' rates)
    assert all(25 < sums[name] < 35 for name in low)
    assert all(150 < sums[name] < 330 for name in high)
    # "lower in every seed": every high-sum schedule below every low-sum one, by more than 0.02, ten
    # times the largest resolution of these training losses (a fifth of a standard deviation <= 0.002,
    # leaving out the one far-off seed of the constant 0.01)
    for seed in range(len(values["modern_seeds"]["step decay"]["train_loss"])):
        worst_high = max(values["modern_seeds"][name]["train_loss"][seed] for name in high)
        best_low = min(values["modern_seeds"][name]["train_loss"][seed] for name in low)
        assert best_low > worst_high + 0.02, seed
    # "the constant 0.1, whose rate never comes down, ends no lower than cosine"
    assert at_least_as_high(_seeds(values, "constant 0.1", "train_loss"), _seeds(values, "cosine with warmup", "train_loss"))


def test_one_seed_of_the_constant_0_01_ends_far_from_the_others(values):
    losses = np.sort(_seeds(values, "constant 0.01", "train_loss"))
    accuracies = np.sort(_seeds(values, "constant 0.01", "test_accuracy"))
    assert values["modern_spike_seed_loss"] == pytest.approx(losses[-1])
    seed = int(np.argmax(_seeds(values, "constant 0.01", "train_loss")))
    assert seed == int(np.argmin(_seeds(values, "constant 0.01", "test_accuracy")))  # the same seed
    # far from the others: more than five times the other seeds' spread of training loss away
    assert losses[-1] - losses[-2] > 5 * (losses[-2] - losses[0])
    assert values["modern_spike_seed_acc"] == pytest.approx(accuracies[0])
    assert accuracies[1] - accuracies[0] > 10 * EXAMPLE  # ten test points below the next seed


def test_step_decay_stalls_after_its_rate_has_fallen(values):
    # "from epoch 50 to the end its training loss changes by at most 0.0024": less than a tenth
    # of its gap to cosine in every seed, so the stall is not a slow approach to cosine's loss
    gap = float(np.min(_seeds(values, "step decay", "train_loss") - _seeds(values, "cosine with warmup", "train_loss")))
    assert values["modern_step_stall"] < gap / 10


def test_decay_to_zero_settles_the_test_accuracy_in_every_seed(values):
    constant = _seeds(values, "constant 0.1", "jitter")
    for name in DECAYED:
        jitter = _seeds(values, name, "jitter")
        # quieter than the constant 0.1 in every seed, by more than a fifth of its seeds' spread
        assert (jitter - constant < -resolution(constant)).all(), name
        assert clearly_lower(jitter, constant), name
    assert values["modern_jitter_decayed"] == pytest.approx(max(max(_seeds(values, n, "jitter")) for n in DECAYED))


def test_one_cycle_starts_slowly_in_every_seed(values):
    cycle = _seeds(values, "one-cycle", "reach")
    assert np.isfinite(cycle).all()
    for name in ("constant 0.1", "step decay", "cosine with warmup"):
        # later in every seed, by more than ten epochs: more than twice the seeds' standard deviation of
        # a schedule's epochs to reach 0.8 (at most 6), far beyond the resolution of a fifth of it
        assert (cycle > _seeds(values, name, "reach") + 10).all(), name
        assert clearly_higher(cycle, _seeds(values, name, "reach")), name


def test_one_cycle_ends_where_cosine_ends_at_a_moderate_peak(values):
    cycle, cosine = _seeds(values, "one-cycle", "test_accuracy"), _seeds(values, "cosine with warmup", "test_accuracy")
    # "within one test point on average in test accuracy"
    assert at_least_as_high(cycle + EXAMPLE, cosine) and at_most_as_high(cycle - EXAMPLE, cosine)
    for column in ("test_loss", "train_loss"):  # "no clear difference"
        assert no_clear_difference(_seeds(values, "one-cycle", column), _seeds(values, "cosine with warmup", column)), column


def test_a_large_constant_rate_never_learns(values):
    constant = _large(values, "constant 2", "test_accuracy")
    assert (constant < 0.7).all()  # every seed 30 test points or more below 0.8, far from learning the problem
    assert values["modern_large_best_constant"] == pytest.approx(constant.max())
    assert np.isnan(_large(values, "constant 2", "reach")).all()  # never reaches the threshold


def test_every_decaying_schedule_ends_higher_on_average(values):
    constant = _large(values, "constant 2", "test_accuracy")
    for name in ("cosine, no warmup", "cosine with warmup", "one-cycle"):
        assert clearly_higher(_large(values, name, "test_accuracy"), constant), name


def test_without_warmup_the_first_epochs_loss_is_larger_in_4_of_5_seeds(values):
    nowarm = np.log10(_large(values, "cosine, no warmup", "early_peak_loss"))
    warm = np.log10(_large(values, "cosine with warmup", "early_peak_loss"))
    # "larger without warmup in 4 of 5 seeds": at least four seeds clear the resolution (a fifth of the
    # seeds' standard deviation of the logarithm, here a factor of about 1.6)
    assert (nowarm - warm > resolution(nowarm, warm)).sum() >= 4
    assert clearly_higher(nowarm, warm)
    # "far larger": the median run's spike is more than ten times larger
    assert values["modern_spike_nowarm"] > 10 * values["modern_spike_warm"]
    # one-cycle "reaches 15 in one seed": its ramp does not prevent every spike
    assert values["modern_spike_cycle_high"] > 3 * values["modern_spike_warm"]


def test_warmup_does_not_make_the_large_rate_usable(values):
    # while the rate is still large, the median test accuracy of every run of either cosine stays
    # more than 100 test points below the 0.8 that every schedule at a peak of 0.1 reaches within
    # 20 epochs, with or without warmup: whatever they learn, they learn as the cosine brings the
    # rate down
    for name in ("cosine, no warmup", "cosine with warmup"):
        assert (_large(values, name, "middle_test_accuracy") < values["modern_threshold"] - 100 * EXAMPLE).all(), name


def test_warmup_ends_at_least_as_high_as_no_warmup(values):
    assert at_least_as_high(_large(values, "cosine with warmup", "test_accuracy"),
                            _large(values, "cosine, no warmup", "test_accuracy"))


def test_one_cycle_climbs_loses_ground_at_its_peak_and_climbs_back_in_every_seed(values):
    early = _large(values, "one-cycle", "accuracy_early")
    peak = _large(values, "one-cycle", "accuracy_peak")
    end = _large(values, "one-cycle", "test_accuracy")
    assert not any(math.isnan(v) for v in end)
    assert (early - peak > EXAMPLE).all()  # loses ground at the peak, in every seed
    assert (end - peak > EXAMPLE).all()  # and climbs back


# Warmup-stable-decay ----------------------------------------------------------------------------------------


def _wsd(values, schedule, epochs, column):
    return np.asarray(values["modern_wsd_seeds"][f"{schedule} {epochs}"][column], dtype=float)


def test_wsd_schedule_matches_its_formula_and_is_the_stable_run_until_its_decay(values):
    # WarmupStableDecay (float32) against wsd_rate (float64): a few float32 roundings of the peak
    # (2**-23 each) over the handful of operations of the schedule
    assert values["modern_wsd_formula_error"] < 8 * 2**-23
    assert values["modern_wsd_prefix_rate_gap"] == 0.0  # the same float32 operations on the same steps
    # "the cosines of the shortest and the longest budget part at update 81": the first update after the
    # warmup is the peak for every budget, the next one already depends on the budget
    assert values["modern_wsd_cosine_split"] == values["modern_warmup_steps"] + 1


def test_wsd_ends_with_the_lower_training_loss_in_every_seed_at_every_budget(values):
    for epochs in values["modern_wsd_budgets"]:
        wsd, cosine = _wsd(values, "WSD", epochs, "train_loss"), _wsd(values, "cosine", epochs, "train_loss")
        assert in_every_seed(cosine, wsd, resolution(wsd, cosine)), epochs
        assert clearly_lower(wsd, cosine), epochs
    # "its rates add up to 284 ... against 160 for cosine" (sums of the schedules, not of runs)
    assert values["modern_wsd_rate_sum"] > values["modern_wsd_cosine_sum"]
    assert values["modern_wsd_cosine_sum"] == pytest.approx(values["modern_rate_sums"]["cosine with warmup"])


def test_wsd_ends_with_the_higher_test_loss_at_the_chapters_budget_and_the_validation_split_agrees(values):
    long = values["modern_wsd_long"]
    for column in ("test_loss", "val_loss"):
        assert clearly_higher(_wsd(values, "WSD", long, column), _wsd(values, "cosine", long, column)), column


def test_wsd_and_cosine_end_within_two_test_points_and_with_no_clear_difference_at_the_longest_budget(values):
    long = values["modern_wsd_long"]
    assert no_clear_difference(_wsd(values, "WSD", long, "test_accuracy"), _wsd(values, "cosine", long, "test_accuracy"))
    for epochs in values["modern_wsd_budgets"]:
        wsd, cosine = _wsd(values, "WSD", epochs, "test_accuracy"), _wsd(values, "cosine", epochs, "test_accuracy")
        # "within two test points": the 80 % interval of the difference reaches inside +-2 test points on both sides
        assert at_least_as_high(wsd + 2 * EXAMPLE, cosine) and at_most_as_high(wsd - 2 * EXAMPLE, cosine), epochs
    assert values["modern_wsd_acc_gap_points"] < 2


def test_in_test_loss_wsd_wins_at_the_shortest_budget_and_loses_at_the_longer_ones(values):
    budgets = values["modern_wsd_budgets"]
    short = budgets[0]
    assert clearly_lower(_wsd(values, "WSD", short, "test_loss"), _wsd(values, "cosine", short, "test_loss"))
    for epochs in budgets[1:]:
        assert clearly_higher(_wsd(values, "WSD", epochs, "test_loss"), _wsd(values, "cosine", epochs, "test_loss")), epochs
    # cosine's own test loss "falls from 50 to 100 epochs and rises from 100 to 200"
    cosine = [_wsd(values, "cosine", epochs, "test_loss") for epochs in budgets]
    assert clearly_lower(cosine[1], cosine[0])
    assert clearly_higher(cosine[2], cosine[1])


def test_every_branch_is_the_stable_run_until_its_decay_bit_for_bit(values):
    # the same arithmetic on the same machine: identical records, not merely close ones
    assert values["modern_wsd_prefix_max_diff"] == 0.0
    assert values["modern_wsd_prefix_identical"] is True
    assert values["modern_wsd_prefix_rows"] > 0


def test_branching_saves_updates(values):
    budgets = values["modern_wsd_budgets"]
    steps = values["modern_wsd_cost_longest"] // budgets[-1]  # updates per epoch
    share = values["modern_wsd_decay_share"]
    decays = [round(share * epochs) * steps for epochs in budgets]
    # the stable run to the last decay start, plus every decay, against a whole cosine run per budget
    assert values["modern_wsd_cost_stable"] == budgets[-1] * steps - decays[-1]
    assert values["modern_wsd_cost_decays"] == sum(decays)
    assert values["modern_wsd_cost_branched"] == values["modern_wsd_cost_stable"] + values["modern_wsd_cost_decays"]
    assert values["modern_wsd_cost_scratch"] == sum(budgets) * steps
    assert values["modern_wsd_cost_saved"] == pytest.approx(
        1 - values["modern_wsd_cost_branched"] / values["modern_wsd_cost_scratch"])
    assert values["modern_wsd_cost_saved"] > 0


def test_every_decay_brings_both_losses_down_in_every_seed(values):
    for epochs, seeds in values["modern_wsd_drop_seeds"].items():
        for metric in ("train_loss", "test_loss"):
            level, end = np.asarray(seeds[f"{metric}_level"]), np.asarray(seeds[f"{metric}_end"])
            assert in_every_seed(level, end, resolution(level, end)), (epochs, metric)
            assert clearly_higher(level, end), (epochs, metric)


def test_a_branch_lands_nearer_its_cosine_than_what_the_decay_takes_off(values):
    differences = values["modern_wsd_differences"]
    gap = max(abs(row["test loss"][0]) for row in differences.values())
    assert values["modern_wsd_largest_test_gap"] == pytest.approx(gap)
    falls = []
    margin = 0.0
    for seeds in values["modern_wsd_drop_seeds"].values():
        level, end = np.asarray(seeds["test_loss_level"]), np.asarray(seeds["test_loss_end"])
        falls.extend(level - end)
        margin = max(margin, resolution(level, end))
    assert values["modern_wsd_smallest_test_fall"] == pytest.approx(min(falls))
    # "smaller than what the decay took off in any seed at any budget", beyond the resolution of the falls
    assert gap + margin < min(falls)
