"""Claims of the learning-rate chapter, checked on its full-profile execution (the published book).

Comparisons are asserted seed by seed or with the paired bootstrap interval of ``ln.difference``
on the glued per-seed values; a glued interval string must be the one the test recomputes.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrnotes as ln

pytestmark = [pytest.mark.book, pytest.mark.claims]

CHAPTER = "learning_rate"


def paired(values, name, a, b, *, glued=None):
    """``ln.difference`` of the glued per-seed values ``values[name][a]`` minus ``[b]``."""
    result = ln.difference(values[name][a], values[name][b])
    if glued is not None:
        assert str(result) == values[glued], (glued, str(result))
    return result


def increasing_then_decreasing(means):
    """The means (ordered by rate) rise to their maximum and fall after it: an inverted U."""
    top = int(np.argmax(means))
    return 0 < top < len(means) - 1 and all(np.diff(means[: top + 1]) >= 0) and all(np.diff(means[top:]) <= 0)


# --- SGD sweep -------------------------------------------------------------------------------------


def test_rate_one_jumps_at_least_twice_as_much_as_0_1_in_every_seed(values):
    jitter = values["sgd_jitter_by_seed"]
    assert all(j1 > 2 * j01 for j1, j01 in zip(jitter[1.0], jitter[0.1]))
    assert ln.difference(jitter[1.0], jitter[0.1]).low > 0
    assert values["sgd_jitter_1"] == pytest.approx(np.mean(jitter[1.0]))


def test_learning_slows_as_the_rate_shrinks(values):
    reach = values["sgd_reach_by_seed"]
    assert all(fast is not None and slow is not None and fast < slow for fast, slow in zip(reach[0.1], reach[0.01]))
    assert all(epoch is None for epoch in reach[0.001])  # "never at 0.001"
    acc = values["sgd_test_acc_by_seed"]
    assert max(acc[0.001]) < min(acc[0.1] + acc[0.01])  # "below every run at the two larger rates"


def test_the_top_rates_are_not_steady_either(values):
    # "at 0.01 the jitter is ..., more than at 0.1 (paired difference ...)"
    result = paired(values, "sgd_jitter_by_seed", 0.01, 0.1, glued="sgd_jitter_0_01_vs_0_1")
    assert result.real and result.mean > 0


def test_tiny_rates_barely_leave_the_initial_accuracy(values):
    start = np.array(values["lr_acc_epoch0_seeds"])
    assert abs(start.mean() - 1 / 3) < 0.05  # "about chance for three balanced classes"
    n_seeds = values["lr_n_seeds"]
    for rate, name in ((1e-6, "sgd_still_1e_6"), (1e-7, "sgd_still_1e_7")):
        final = np.array(values["sgd_test_acc_by_seed"][rate])
        assert values[name] == int((np.abs(final - start) <= 0.02).sum())
        assert values[name] >= n_seeds - 1  # "within 2 points of its start" in all but at most one seed
        assert abs(final.mean() - start.mean()) < 0.05


# --- Adam as in the tutorial -----------------------------------------------------------------------


def test_budgets_differ_by_the_printed_ratio(values):
    assert values["sgd_updates"] == values["sgd_updates_per_epoch"] * values["lr_epochs"]
    assert values["adam_updates"] == values["adam_updates_per_epoch"] * values["adam_epochs"]
    assert values["update_ratio"] == pytest.approx(values["sgd_updates"] / values["adam_updates"])
    assert values["update_ratio"] > 10  # the sweeps are not comparable budgets: the prose says so


def test_adam_learns_well_at_0_01_and_stays_far_from_it_at_1e_4(values):
    acc = values["adam_test_acc_by_seed"]
    assert min(acc[0.01]) >= 0.80  # "every seed at least 0.80"
    assert all(top - small > 0.1 for top, small in zip(acc[0.01], acc[1e-4]))
    assert ln.difference(acc[0.01], acc[1e-4]).low > 0.1


def test_adams_loss_spikes_at_rate_one_dwarf_sgds_but_it_does_not_end_worse(values):
    spikes, sgd_peaks = values["adam_spike_seeds_1"], values["sgd_loss_peak_seeds_1"]
    assert min(spikes) > 2 * max(sgd_peaks)
    assert min(spikes) > 5 * max(values["lr_loss_epoch0_seeds"])  # "throws the loss up"
    assert all(last < spike / 10 for last, spike in zip(values["adam_last_loss_seeds_1"], spikes))  # comes back down
    result = ln.difference(values["adam_test_acc_by_seed"][1.0], values["sgd_test_acc_by_seed"][1.0])
    assert str(result) == values["adam_vs_sgd_1"]
    assert not result.real  # "no clear difference"


# --- Adam at SGD's budget --------------------------------------------------------------------------


def test_equal_budgets_are_equal(values):
    assert values["adam32_updates"] == values["sgd_updates"]


@pytest.mark.parametrize(("rate", "name", "sign"), [(1e-4, "1e_4", 1), (1e-3, "1e_3", 1), (0.1, "0_1", -1),
                                                    (1.0, "1", -1)])
def test_at_equal_budgets_adam_gains_at_small_rates_and_pays_at_large_ones(values, rate, name, sign):
    result = ln.difference(values["adam32_test_acc_by_seed"][rate], values["sgd_test_acc_by_seed"][rate])
    assert str(result) == values[f"adam32_vs_sgd_{name}"]
    assert result.real and np.sign(result.mean) == sign


def test_adam_at_rate_one_with_equal_budget_ends_near_chance(values):
    assert values["adam32_acc_1"] < 1 / 3 + 0.1


# --- Where to look ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sweep", ["sgd", "adam", "adam32"])
def test_final_validation_accuracy_is_an_inverted_u(values, sweep):
    by_rate = values[f"{sweep}_val_acc_by_seed"]
    rates = sorted(by_rate)
    means = [np.mean(by_rate[rate]) for rate in rates]
    assert increasing_then_decreasing(means)
    best = values[f"{sweep}_best_lr"]
    assert ln.difference(by_rate[best], by_rate[rates[0]]).low > 0  # too small: not learned yet
    assert ln.difference(by_rate[best], by_rate[rates[-1]]).low > 0  # too large: cannot settle


@pytest.mark.parametrize("sweep", ["sgd", "adam", "adam32"])
def test_the_best_rate_is_chosen_on_validation_and_reported_on_test(values, sweep):
    val, test = values[f"{sweep}_val_acc_by_seed"], values[f"{sweep}_test_acc_by_seed"]
    means = {rate: np.mean(scores) for rate, scores in val.items()}
    ranked = sorted(means, key=means.get, reverse=True)
    assert values[f"{sweep}_best_lr"] == ranked[0] and values[f"{sweep}_runner_up_lr"] == ranked[1]
    assert values[f"{sweep}_best_lr_by_median"] == values[f"{sweep}_best_lr"]  # the caption: mean and median agree
    assert values[f"{sweep}_best_acc"] == pytest.approx(np.mean(test[ranked[0]]))


@pytest.mark.parametrize(("sweep", "tie"), [("sgd", True), ("adam", True), ("adam32", False)])
def test_flat_tops_tie_and_adams_equal_budget_top_does_not(values, sweep, tie):
    best, runner_up = values[f"{sweep}_best_lr"], values[f"{sweep}_runner_up_lr"]
    result = paired(values, f"{sweep}_val_acc_by_seed", best, runner_up, glued=f"{sweep}_top_difference")
    assert result.real is not tie
    assert {best, runner_up} == ({0.01, 0.1} if tie else {1e-3, 1e-2})  # the rates the prose names


def test_adams_top_is_a_decade_lower_at_equal_budget(values):
    assert values["adam32_best_lr"] == pytest.approx(values["sgd_best_lr"] / 10)
    adam_val = values["adam_val_acc_by_seed"]  # in the tutorial's configuration 10^-3 is clearly below the top
    assert ln.difference(adam_val[values["adam_best_lr"]], adam_val[1e-3]).low > 0


def test_at_their_chosen_rates_the_sweeps_tie_on_test(values):
    for name in ("adam", "adam32"):
        result = ln.difference(values[f"{name}_best_acc_seeds"], values["sgd_best_acc_seeds"])
        assert str(result) == values[f"{name}_vs_sgd_best"]
        assert not result.real


# --- Digits ----------------------------------------------------------------------------------------


def test_digits_low_rate_falls_at_every_epoch_in_every_seed(values):
    assert all(change < 0 for change in values["digits_loss_max_change_low_seeds"])


def test_digits_high_rate_throws_the_loss_uphill_in_every_seed(values):
    start, first = values["digits_loss_epoch0_seeds"], values["digits_loss_epoch1_high_seeds"]
    assert all(after > 5 * before for before, after in zip(start, first))


def test_digits_high_rate_stays_above_the_middle_rate_at_every_epoch(values):
    mid, high = np.array(values["digits_median_loss_mid"]), np.array(values["digits_median_loss_high"])
    assert (high[1:] > mid[1:]).all()


def test_digits_middle_rate_is_fastest_and_lowest(values):
    below = values["digits_below_by_seed"]
    assert all(m is not None and h is not None and m < h for m, h in zip(below[0.01], below[0.1]))
    assert all(epoch is None for epoch in below[0.0001])
    loss = values["digits_train_loss_by_seed"]
    assert all(m < h < low for m, h, low in zip(loss[0.01], loss[0.1], loss[0.0001]))


def test_digits_middle_rate_is_best_on_validation(values):
    assert values["digits_best_lr"] == 0.01
    result = paired(values, "digits_val_acc_by_seed", 0.01, 0.1, glued="digits_mid_vs_high")
    assert result.real and result.mean > 0


# --- Takeaways -------------------------------------------------------------------------------------


def test_too_small_a_rate_is_still_rising_at_the_end(values):
    gains = values["sgd_gain_0_001_seeds"]
    assert all(gain > 0 for gain in gains)
    assert values["sgd_gain_0_001_low"] == min(gains) and values["sgd_gain_0_001_high"] == max(gains)
