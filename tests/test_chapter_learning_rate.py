"""Claims of the learning-rate chapter, checked on its full-profile execution (the published book).

Comparisons are asserted on the glued per-seed values with the margins of ``tests/claims.py``: a
difference the page calls real must clear the 99 % interval, "no clear difference" needs zero
inside the 80 % interval, "at least as high" needs the 80 % interval to reach above zero. A glued
interval string must be the one the test recomputes.

Claims about every seed must exceed a resolution, so that a change of CPU, which moves
a run's path as another seed would, cannot flip them:

- an accuracy on the testbed's 500 test (or validation) points moves in steps of one point, 1/500;
  a jitter is a mean of such steps, so one point is a conservative resolution for it too;
- epochs to reach a level: a fifth of the seeds' standard deviation of that count;
- losses: a fifth of the seeds' standard deviation of the measure compared.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrnotes as ln
from claims import CLEAR, at_least_as_high, at_most_as_high, clearly_higher, clearly_lower, no_clear_difference
from claims import spread_resolution

pytestmark = [pytest.mark.book, pytest.mark.claims]

CHAPTER = "learning_rate"

#: One of the testbed's 500 test (or validation) points.
ONE_POINT = 1 / 500
#: Float slack, so that a difference of exactly one point does not count as more than one.
EPS = 1e-9


def paired(values, name, a, b, *, glued=None):
    """``ln.difference`` of the glued per-seed values ``values[name][a]`` minus ``[b]``."""
    result = ln.difference(values[name][a], values[name][b])
    if glued is not None:
        assert str(result) == values[glued], (glued, str(result))
    return result


def ranked(by_rate):
    """The rates ordered by mean over seeds, best first."""
    return sorted(by_rate, key=lambda rate: np.mean(by_rate[rate]), reverse=True)


def inverted_u(by_rate, best):
    """Rates ordered by size: every step up to ``best`` at least as high, every step after it at most as high."""
    rates = sorted(by_rate)
    top = rates.index(best)
    rising = all(at_least_as_high(by_rate[b], by_rate[a]) for a, b in zip(rates[:top], rates[1 : top + 1]))
    falling = all(at_most_as_high(by_rate[b], by_rate[a]) for a, b in zip(rates[top:], rates[top + 1 :]))
    return 0 < top < len(rates) - 1 and rising and falling


# --- SGD sweep -------------------------------------------------------------------------------------


def test_rate_one_jumps_at_least_twice_as_much_as_0_1_in_every_seed(values):
    jitter = values["sgd_jitter_by_seed"]
    assert all(j1 - 2 * j01 > ONE_POINT for j1, j01 in zip(jitter[1.0], jitter[0.1])), jitter
    assert clearly_higher(jitter[1.0], jitter[0.1])
    assert values["sgd_jitter_1"] == pytest.approx(np.mean(jitter[1.0]))
    assert values["sgd_jitter_0_1"] == pytest.approx(np.mean(jitter[0.1]))


def test_learning_slows_as_the_rate_shrinks(values):
    reach = values["sgd_reach_by_seed"]
    fast, slow = reach[0.1], reach[0.01]
    assert None not in fast + slow
    assert values["sgd_epochs_0_1"] == np.median(fast) and values["sgd_epochs_0_01"] == np.median(slow)
    margin = spread_resolution(fast, slow)
    assert all(s - f > margin for f, s in zip(fast, slow)), (fast, slow)  # "every seed gets there sooner at 0.1"
    # "never at 0.001": no seed's 5-epoch mean comes within one test point of the threshold
    assert all(epoch is None for epoch in reach[0.001])
    assert max(values["sgd_peak_rolling_0_001_seeds"]) < values["lr_threshold"] - ONE_POINT - EPS
    acc = values["sgd_test_acc_by_seed"]
    assert max(acc[0.001]) < min(acc[0.1] + acc[0.01]) - ONE_POINT - EPS  # "below every run at the two larger rates"


def test_the_top_rates_are_not_steady_either(values):
    # "at 0.01 the jitter is ..., more than at 0.1 (paired difference ...)"
    paired(values, "sgd_jitter_by_seed", 0.01, 0.1, glued="sgd_jitter_0_01_vs_0_1")
    assert clearly_higher(values["sgd_jitter_by_seed"][0.01], values["sgd_jitter_by_seed"][0.1])


def test_tiny_rates_barely_leave_the_initial_accuracy(values):
    start = np.array(values["lr_acc_epoch0_seeds"])
    # "about chance for three balanced classes": 1/3 lies within one standard error (over seeds) of the mean
    assert abs(start.mean() - 1 / 3) < start.std(ddof=1) / np.sqrt(start.size)
    n_seeds = values["lr_n_seeds"]
    for rate, name in ((1e-6, "sgd_still_1e_6"), (1e-7, "sgd_still_1e_7")):
        change = np.abs(np.array(values["sgd_test_acc_by_seed"][rate]) - start)
        assert values[name] == int((change <= 0.02).sum())
        # the count does not hinge on a seed at the edge: every seed more than a test point from 2 points
        assert (np.abs(change - 0.02) > ONE_POINT + EPS).all(), (rate, change)
        assert values[name] >= n_seeds - 1  # "barely leaves": all but at most one seed within 2 points


# --- Adam as in the tutorial -----------------------------------------------------------------------


def test_budgets_differ_by_the_printed_ratio(values):
    # deterministic: updates are batches per epoch times epochs
    assert values["sgd_updates"] == values["sgd_updates_per_epoch"] * values["lr_epochs"]
    assert values["adam_updates"] == values["adam_updates_per_epoch"] * values["adam_epochs"]
    assert values["update_ratio"] == pytest.approx(values["sgd_updates"] / values["adam_updates"])
    assert values["update_ratio"] > 10  # the sweeps are not comparable budgets: the prose says so


def test_adam_learns_well_at_0_01_and_stays_far_from_it_at_1e_4(values):
    acc = values["adam_test_acc_by_seed"]
    assert min(acc[0.01]) > 0.80 + ONE_POINT + EPS  # "every seed at least 0.80", by more than a test point
    # "stays far from that": more than 0.1 (50 test points) lower in every seed and by the 99 % interval
    assert all(top - small > 0.1 + ONE_POINT + EPS for top, small in zip(acc[0.01], acc[1e-4]))
    assert ln.difference(acc[0.01], acc[1e-4], confidence=CLEAR).low > 0.1


def test_adams_loss_spikes_at_rate_one_dwarf_sgds_but_it_does_not_end_lower(values):
    spikes, sgd_peaks = values["adam_spike_seeds_1"], values["sgd_loss_peak_seeds_1"]
    margin = spread_resolution(spikes)
    assert min(spikes) - 2 * max(sgd_peaks) > margin  # SGD "never measures above" a fraction of it
    assert min(spikes) - 5 * max(values["lr_loss_epoch0_seeds"]) > margin  # "throws the loss up"
    last = values["adam_last_loss_seeds_1"]  # "comes back down": below a tenth of its spike in every seed
    assert all(spike / 10 - end > spread_resolution(last) for end, spike in zip(last, spikes))
    adam, sgd = values["adam_test_acc_by_seed"][1.0], values["sgd_test_acc_by_seed"][1.0]
    assert str(ln.difference(adam, sgd)) == values["adam_vs_sgd_1"]
    assert at_least_as_high(adam, sgd)  # "it ends at least as high as SGD"


# --- Adam at SGD's budget --------------------------------------------------------------------------


def test_equal_budgets_are_equal(values):
    assert values["adam32_updates"] == values["sgd_updates"]


@pytest.mark.parametrize(("rate", "name", "gains"), [(1e-4, "1e_4", True), (1e-3, "1e_3", True),
                                                     (0.1, "0_1", False), (1.0, "1", False)])
def test_at_equal_budgets_adam_gains_at_small_rates_and_pays_at_large_ones(values, rate, name, gains):
    # "All four differences are real": each clears the 99 % interval, in the stated direction
    adam, sgd = values["adam32_test_acc_by_seed"][rate], values["sgd_test_acc_by_seed"][rate]
    assert str(ln.difference(adam, sgd)) == values[f"adam32_vs_sgd_{name}"]
    assert clearly_higher(adam, sgd) if gains else clearly_lower(adam, sgd)


def test_adam_at_rate_one_with_equal_budget_ends_near_chance(values):
    # "ends within 0.1 of chance (1/3)": every seed, by a test point
    acc = np.array(values["adam32_test_acc_by_seed"][1.0])
    assert values["adam32_acc_1"] == pytest.approx(acc.mean())
    assert (np.abs(acc - 1 / 3) < 0.1 - ONE_POINT).all(), acc


# --- Where to look ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sweep", ["sgd", "adam", "adam32"])
def test_final_validation_accuracy_is_an_inverted_u(values, sweep):
    by_rate = values[f"{sweep}_val_acc_by_seed"]
    rates, best = sorted(by_rate), values[f"{sweep}_best_lr"]
    assert inverted_u(by_rate, best)
    assert clearly_higher(by_rate[best], by_rate[rates[0]])  # too small: not learned yet
    assert clearly_higher(by_rate[best], by_rate[rates[-1]])  # too large: cannot settle


@pytest.mark.parametrize("sweep", ["sgd", "adam", "adam32"])
def test_the_best_rate_is_chosen_on_validation_and_reported_on_test(values, sweep):
    val, test = values[f"{sweep}_val_acc_by_seed"], values[f"{sweep}_test_acc_by_seed"]
    order = ranked(val)
    assert values[f"{sweep}_best_lr"] == order[0] and values[f"{sweep}_runner_up_lr"] == order[1]
    assert values[f"{sweep}_best_acc"] == pytest.approx(np.mean(test[order[0]]))
    # the caption: the best rate by mean has the highest median too, by more than a validation point
    medians = {rate: np.median(scores) for rate, scores in val.items()}
    assert values[f"{sweep}_best_lr_by_median"] == values[f"{sweep}_best_lr"]
    assert medians[order[0]] - max(m for rate, m in medians.items() if rate != order[0]) > ONE_POINT + EPS


@pytest.mark.parametrize("sweep", ["sgd", "adam"])
def test_flat_tops_lead_only_a_little_and_both_rates_clearly_lead_0_001(values, sweep):
    # "its best rate, 0.01, leads the runner-up 0.1 on validation by only ..., while both lead 0.001 clearly"
    val = values[f"{sweep}_val_acc_by_seed"]
    best, runner_up = values[f"{sweep}_best_lr"], values[f"{sweep}_runner_up_lr"]
    assert {best, runner_up} == {0.01, 0.1}  # the rates the prose names
    assert ranked(val)[2] == 0.001
    paired(values, f"{sweep}_val_acc_by_seed", best, runner_up, glued=f"{sweep}_top_difference")
    assert clearly_higher(val[best], val[0.001]) and clearly_higher(val[runner_up], val[0.001])
    # "only": the lead over the runner-up is clearly smaller than the runner-up's lead over 0.001
    # (their 99 % intervals do not overlap)
    lead = ln.difference(val[best], val[runner_up], confidence=CLEAR)
    assert lead.high < ln.difference(val[runner_up], val[0.001], confidence=CLEAR).low


def test_adams_equal_budget_top_is_clear(values):
    # "At SGD's budget Adam's top is clearly 0.001 (... over 0.01)"
    val = values["adam32_val_acc_by_seed"]
    assert values["adam32_best_lr"] == 1e-3 and values["adam32_runner_up_lr"] == 1e-2
    paired(values, "adam32_val_acc_by_seed", 1e-3, 1e-2, glued="adam32_top_difference")
    assert all(clearly_higher(val[1e-3], val[rate]) for rate in val if rate != 1e-3)


def test_adams_top_is_a_decade_lower_at_equal_budget(values):
    # "Adam's sweep sits about a decade lower than SGD's" at equal budgets: its top (0.001) is a decade
    # below the lower of SGD's two top rates, whichever of the two leads
    sgd_top = {values["sgd_best_lr"], values["sgd_runner_up_lr"]}
    assert values["adam32_best_lr"] == pytest.approx(min(sgd_top) / 10)
    # "in the tutorial's own configuration Adam's top moves up to SGD's": the same two top rates,
    # and 10^-3 clearly below them
    assert {values["adam_best_lr"], values["adam_runner_up_lr"]} == sgd_top
    adam_val = values["adam_val_acc_by_seed"]
    assert all(clearly_higher(adam_val[rate], adam_val[1e-3]) for rate in sgd_top)


def test_at_their_chosen_rates_the_sweeps_tie_on_test(values):
    for name in ("adam", "adam32"):
        a, b = values[f"{name}_best_acc_seeds"], values["sgd_best_acc_seeds"]
        assert str(ln.difference(a, b)) == values[f"{name}_vs_sgd_best"]
        assert no_clear_difference(a, b), name


# --- Digits ----------------------------------------------------------------------------------------


def test_digits_low_rate_falls_at_every_epoch_in_every_seed(values):
    # each seed's largest epoch-to-epoch change of the training loss is a fall, by the resolution
    changes = values["digits_loss_max_change_low_seeds"]
    assert all(change < -spread_resolution(changes) for change in changes), changes


def test_digits_high_rate_throws_the_loss_uphill_in_every_seed(values):
    start, first = values["digits_loss_epoch0_seeds"], values["digits_loss_epoch1_high_seeds"]
    assert all(after - 5 * before > spread_resolution(first) for before, after in zip(start, first))


def test_digits_high_rate_stays_above_the_middle_rate_at_every_epoch(values):
    mid, high = np.array(values["digits_median_loss_mid"]), np.array(values["digits_median_loss_high"])
    # the gap is smallest late in training: the resolution is that of the final losses at 10^-1
    margin = spread_resolution(values["digits_train_loss_by_seed"][0.1])
    assert (high[1:] - mid[1:] > margin).all()


def test_digits_middle_rate_is_fastest_and_lowest(values):
    below = values["digits_below_by_seed"]
    mid, high = below[0.01], below[0.1]
    assert None not in mid + high
    assert all(h - m > spread_resolution(mid, high) for m, h in zip(mid, high))  # "sooner in every seed"
    assert all(epoch is None for epoch in below[0.0001])
    loss = values["digits_train_loss_by_seed"]
    mid, high, low = loss[0.01], loss[0.1], loss[0.0001]
    # "the lowest in every seed": below 10^-1, which is below 10^-4, each by the resolution of the pair
    assert all(h - m > spread_resolution(mid, high) for m, h in zip(mid, high)), (mid, high)
    assert all(lo - h > spread_resolution(high, low) for h, lo in zip(high, low)), (high, low)


def test_digits_middle_rate_scores_at_least_as_high_on_validation(values):
    # "On validation data it scores at least as high as 10^-1"
    val = values["digits_val_acc_by_seed"]
    paired(values, "digits_val_acc_by_seed", 0.01, 0.1, glued="digits_mid_vs_high")
    assert at_least_as_high(val[0.01], val[0.1])


# --- Takeaways -------------------------------------------------------------------------------------


def test_too_small_a_rate_is_still_rising_at_the_end(values):
    # "up ... to ... over the second half, in every seed": every gain more than a test point
    gains = values["sgd_gain_0_001_seeds"]
    assert all(gain > ONE_POINT + EPS for gain in gains), gains
    assert values["sgd_gain_0_001_low"] == min(gains) and values["sgd_gain_0_001_high"] == max(gains)


# --- Gradient clipping at rate 1 -------------------------------------------------------------------

CLIPPING_MODES = ("clipvalue", "clipnorm", "global_clipnorm")


def test_clipping_thresholds_are_the_rounded_first_epoch_medians(values):
    medians, thresholds = values["clip_first_epoch_medians"], values["clip_thresholds"]
    assert set(thresholds) == set(CLIPPING_MODES)
    for mode in CLIPPING_MODES:
        assert thresholds[mode] == float(f"{medians[mode]:.2g}")
        # "half of those batches exceed it": rounding to two digits may move a batch or two across
        assert abs(values["clip_share_above"][mode] - 0.5) <= 2 / values["clip_first_epoch_batches"], mode


def test_the_runs_without_clipping_are_the_sweeps_rate_one_runs(values):
    acc = values["clip_acc_by_seed"]
    assert acc["no clipping"] == values["clip_sgd_rate_one_acc_by_seed"]
    assert values["clip_jitter_by_seed"]["no clipping"] == values["clip_sgd_rate_one_jitter_by_seed"]


def test_clipping_raises_the_final_test_accuracy(values):
    acc = values["clip_acc_by_seed"]
    for mode in CLIPPING_MODES:
        assert str(ln.difference(acc[mode], acc["no clipping"])) == values[f"clip_acc_diff_{mode}"]
        assert values[f"clip_acc_{mode}"] == pytest.approx(np.mean(acc[mode]))
    # "with clipvalue ... and with global_clipnorm ..., both clearly higher, and with clipnorm ..., at least as high"
    assert clearly_higher(acc["clipvalue"], acc["no clipping"])
    assert clearly_higher(acc["global_clipnorm"], acc["no clipping"])
    assert at_least_as_high(acc["clipnorm"], acc["no clipping"])


def test_clipping_does_not_steady_the_runs(values):
    jitter, rise = values["clip_jitter_by_seed"], values["clip_rise_by_seed"]
    for mode in CLIPPING_MODES:  # "jitters at least as much as without clipping, in all three modes"
        assert at_least_as_high(jitter[mode], jitter["no clipping"]), mode
    for mode in ("clipnorm", "global_clipnorm"):  # "the largest rise of each run shows no clear difference"
        assert no_clear_difference(rise[mode], rise["no clipping"]), mode


def test_clipping_is_no_substitute_for_a_good_rate(values):
    acc, best = values["clip_acc_by_seed"], values["sgd_best_acc_seeds"]
    for mode in CLIPPING_MODES:  # "None of the three ends above SGD at the rate chosen above"
        assert at_most_as_high(acc[mode], best), mode
        assert str(ln.difference(acc[mode], best)) == values[f"clip_vs_best_{mode}"]
    for mode in ("clipnorm", "global_clipnorm"):  # "the two norm modes end clearly below it"
        assert clearly_lower(acc[mode], best), mode
