"""Claims of the chapter "Warmup, cosine decay and one-cycle", checked on its full-profile execution.

Comparisons between schedules are per seed (the same seed gives the same
initial weights and batch order under every schedule) or paired bootstrap
intervals (``ln.difference``) over the seeds. Margins: the test set has 500
points, so one example is 0.002 of accuracy; within a schedule, final test
accuracies spread by about 0.003-0.007 (standard deviation over seeds), final
training losses of the decaying schedules by about 0.002, and epochs to reach
0.8 by about 5 epochs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "modern_schedules"  # the `values` fixture (conftest.py) reads its glued numbers

PEAK = ["constant 0.1", "step decay", "cosine with warmup", "one-cycle"]
DECAYED = ["step decay", "cosine with warmup", "one-cycle"]


def _seeds(values, name, column):
    return np.asarray(values["modern_seeds"][name][column], dtype=float)


def _large(values, name, column):
    return np.asarray(values["modern_large_seeds"][name][column], dtype=float)


def _contains_zero(d) -> bool:
    return d.low <= 0 <= d.high


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
    # "varies little": within 10 test points of each other
    assert max(means) - min(means) <= 10 / values["modern_n_test"]
    # "just below the Bayes rule on the same points": below it, and within 15 test points
    assert all(values["modern_ceiling"] - 0.03 < mean < values["modern_ceiling"] for mean in means)


def test_step_decay_ends_with_the_highest_test_accuracy_in_every_seed(values):
    step = _seeds(values, "step decay", "test_accuracy")
    for other in ("cosine with warmup", "one-cycle"):
        assert (step > _seeds(values, other, "test_accuracy")).all(), other
        assert difference(step, _seeds(values, other, "test_accuracy")).low > 0
    # "the validation split ranks it the same way"
    result = difference(_seeds(values, "step decay", "val_accuracy"), _seeds(values, "cosine with warmup", "val_accuracy"))
    assert result.low > 0


def test_the_test_loss_ranks_the_schedules_the_other_way(values):
    step = _seeds(values, "step decay", "test_loss")
    for other in ("cosine with warmup", "one-cycle"):
        assert (_seeds(values, other, "test_loss") < step).all(), other
    # "step decay's test loss shows no clear difference from the constant 0.1's"
    assert _contains_zero(difference(step, _seeds(values, "constant 0.1", "test_loss")))


def test_the_training_loss_follows_the_sum_of_the_rates(values):
    sums = values["modern_rate_sums"]
    low, high = ["constant 0.01", "step decay"], ["constant 0.1", "cosine with warmup", "one-cycle"]
    # "add up to about 30" and "160 to 320"
    assert all(25 < sums[name] < 35 for name in low)
    assert all(150 < sums[name] < 330 for name in high)
    # "lower in every seed": every high-sum schedule below every low-sum one, by more than the
    # seeds' spread of training loss (about 0.007 for the constant 0.1)
    for seed in range(len(values["modern_seeds"]["step decay"]["train_loss"])):
        worst_high = max(values["modern_seeds"][name]["train_loss"][seed] for name in high)
        best_low = min(values["modern_seeds"][name]["train_loss"][seed] for name in low)
        assert best_low > worst_high + 0.02, seed
    # "the constant 0.1, whose rate never comes down, shows no clear difference from cosine"
    assert _contains_zero(difference(_seeds(values, "cosine with warmup", "train_loss"),
                                     _seeds(values, "constant 0.1", "train_loss")))


def test_one_seed_of_the_constant_0_01_ends_far_from_the_others(values):
    losses = np.sort(_seeds(values, "constant 0.01", "train_loss"))
    accuracies = np.sort(_seeds(values, "constant 0.01", "test_accuracy"))
    assert values["modern_spike_seed_loss"] == pytest.approx(losses[-1])
    seed = int(np.argmax(_seeds(values, "constant 0.01", "train_loss")))
    assert seed == int(np.argmin(_seeds(values, "constant 0.01", "test_accuracy")))  # the same seed
    # far from the others: more than five times the other seeds' spread of training loss away
    assert losses[-1] - losses[-2] > 5 * (losses[-2] - losses[0])
    assert values["modern_spike_seed_acc"] == pytest.approx(accuracies[0])
    assert accuracies[1] - accuracies[0] > 0.02  # ten test points below the next seed


def test_step_decay_stalls_after_its_rate_has_fallen(values):
    # "from epoch 50 to the end its training loss changes by at most 0.0024": less than a tenth
    # of its gap to cosine, so the stall is not a slow approach to cosine's loss
    gap = float(np.min(_seeds(values, "step decay", "train_loss") - _seeds(values, "cosine with warmup", "train_loss")))
    assert values["modern_step_stall"] < gap / 10


def test_decay_to_zero_settles_the_test_accuracy_in_every_seed(values):
    constant = _seeds(values, "constant 0.1", "jitter")
    for name in DECAYED:
        assert (_seeds(values, name, "jitter") < constant / 5).all(), name
    assert values["modern_jitter_decayed"] < values["modern_jitter_constant_low"] / 5


def test_one_cycle_starts_slowly_in_every_seed(values):
    cycle = _seeds(values, "one-cycle", "reach")
    assert np.isfinite(cycle).all()
    for name in ("constant 0.1", "step decay", "cosine with warmup"):
        # later in every seed, by more than twice the spread of a schedule's epochs to reach 0.8
        assert (cycle > _seeds(values, name, "reach") + 10).all(), name


def test_one_cycle_ends_where_cosine_ends_at_a_moderate_peak(values):
    for column in ("test_accuracy", "test_loss", "train_loss"):
        result = difference(_seeds(values, "one-cycle", column), _seeds(values, "cosine with warmup", column))
        assert _contains_zero(result), (column, str(result))


def test_a_large_constant_rate_never_learns(values):
    constant = _large(values, "constant 2", "test_accuracy")
    assert (constant < 0.7).all()
    assert values["modern_large_best_constant"] == pytest.approx(constant.max())
    assert np.isnan(_large(values, "constant 2", "reach")).all()  # never reaches the threshold


def test_every_decaying_schedule_ends_higher_in_every_seed(values):
    constant = _large(values, "constant 2", "test_accuracy")
    for name in ("cosine, no warmup", "cosine with warmup"):
        assert (_large(values, name, "test_accuracy") > constant + 0.1).all(), name
    cycle = _large(values, "one-cycle", "test_accuracy")
    assert (cycle > constant).all()
    assert difference(cycle, constant).low > 0


def test_without_warmup_the_first_epochs_loss_is_larger_in_every_seed(values):
    nowarm = _large(values, "cosine, no warmup", "early_peak_loss")
    warm = _large(values, "cosine with warmup", "early_peak_loss")
    assert (nowarm > warm).all()
    assert difference(np.log10(nowarm), np.log10(warm)).low > 0
    # "far larger": the median run's spike is more than ten times larger
    assert values["modern_spike_nowarm"] > 10 * values["modern_spike_warm"]
    # one-cycle "reaches 15 in one seed": its ramp does not prevent every spike
    assert values["modern_spike_cycle_high"] > 3 * values["modern_spike_warm"]


def test_warmup_does_not_make_the_large_rate_usable(values):
    nowarm = _large(values, "cosine, no warmup", "middle_test_accuracy")
    warm = _large(values, "cosine with warmup", "middle_test_accuracy")
    assert (nowarm < 0.6).all() and (warm < 0.6).all()
    assert _contains_zero(difference(warm, nowarm))
    # "both learn only as the cosine brings the rate down": every run ends far above its middle stretch
    for name, middle in (("cosine, no warmup", nowarm), ("cosine with warmup", warm)):
        assert (_large(values, name, "test_accuracy") > middle + 0.2).all(), name


def test_the_early_spike_costs_nothing_measurable_at_the_end(values):
    result = difference(_large(values, "cosine with warmup", "test_accuracy"),
                        _large(values, "cosine, no warmup", "test_accuracy"))
    assert _contains_zero(result)


def test_one_cycle_climbs_loses_ground_at_its_peak_and_climbs_back_in_every_seed(values):
    early = _large(values, "one-cycle", "accuracy_early")
    peak = _large(values, "one-cycle", "accuracy_peak")
    end = _large(values, "one-cycle", "test_accuracy")
    assert (early > peak + 0.2).all()
    assert (end > peak).all()
    assert not any(math.isnan(v) for v in end)
