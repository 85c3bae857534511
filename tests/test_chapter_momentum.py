"""The claims of the momentum chapter, checked against its full-profile execution.

Comparisons between settings are paired over seeds (every setting shares the
seeds, so the same initial weights and batch order). The page prints the 95 %
interval of :func:`lrnotes.difference`; these tests check each sentence with
the stricter margins of ``tests/claims.py`` (99 % for a difference, 80 % for
"no clear difference" or "no better"), so that a change of CPU, which moves a
long run's path much as another seed would, cannot flip it.

"In every seed" is checked seed by seed against a resolution: a fifth of the
largest standard deviation over the seeds of the measure compared (epochs,
jitter, losses), and for a test accuracy at least one of the 500 test points.
A threshold on a mean holds by the seeds' standard error. The update rules,
limits and matrices involve no training: their tolerances come from float32
rounding or the grids they are computed on, as the comments say.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrnotes as ln
from claims import at_most_as_high, clearly_higher, clearly_lower, no_clear_difference
from claims import in_every_seed as clearly_above_in_every_seed, spread_resolution as resolution, standard_error

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "momentum"  # the `values` fixture (conftest.py) reads its glued numbers

#: One of the 500 test points, the smallest change of a test accuracy.
ONE_TEST_POINT = 1 / 500


def accuracy_resolution(*per_seed):
    """The resolution of a test accuracy: at least one test point."""
    return resolution(*per_seed, floor=ONE_TEST_POINT)


def seeds(values, name):
    return np.asarray(values[name], dtype=float)


# --- the update rule and the effective step --------------------------------------------------


def test_keras_sgd_matches_the_written_update_rule(values):
    # float32 rounding of steps up to 10 * lr: a few ulps of 0.1
    assert values["momentum_formula_error"] < 1e-5
    # after 200 updates beta^200 = 7e-10: only float32 rounding is left between Keras and the limits
    assert values["momentum_final_step_0_9"] == pytest.approx(1 / (1 - 0.9), rel=1e-4)
    assert values["momentum_flip_step_0_9"] == pytest.approx(1 / (1 + 0.9), rel=1e-4)


# --- momentum on the testbed at the same rate -------------------------------------------------


def test_momentum_reaches_the_threshold_sooner_in_every_seed(values):
    plain, half, nine, high = (seeds(values, f"momentum_reach_seeds_{name}") for name in ("0", "0_5", "0_9", "0_99"))
    margin = resolution(plain, half, nine, high)  # epochs: a fifth of the largest seed SD (6 epochs for 0.5)
    # "in every seed 0.9 is faster than 0.5 and 0.5 faster than plain SGD"
    assert clearly_above_in_every_seed(half, nine, margin)
    assert clearly_above_in_every_seed(plain, half, margin)
    # "Momentum 0.99 is faster than plain SGD in every seed too"
    assert clearly_above_in_every_seed(plain, high, margin)
    # "several times faster": every seed's ratio, not only the medians'
    assert np.all(plain / nine > 3)


def test_momentum_0_99_settles_later_than_0_9_although_single_epochs_get_there_sooner(values):
    # "slower than 0.9 (paired difference)"
    assert clearly_higher(values["momentum_reach_seeds_0_99"], values["momentum_reach_seeds_0_9"])
    # "a single epoch reaches the threshold sooner (median epoch ...; paired difference ...)"
    assert clearly_lower(values["momentum_touch_seeds_0_99"], values["momentum_touch_seeds_0_9"])
    assert values["momentum_touch_0_99"] < values["momentum_touch_0_9"]


def test_momentum_steadies_the_test_accuracy(values):
    for name in ("0_5", "0_9", "0_99"):
        # "plain SGD minus momentum": steadier with every momentum (the takeaway: 0.9 is steadier)
        assert clearly_higher(values["momentum_jitter_seeds_0"], values[f"momentum_jitter_seeds_{name}"]), name
    # "The largest momentum is a little less steady than 0.9, in every seed"
    high, nine = seeds(values, "momentum_jitter_seeds_0_99"), seeds(values, "momentum_jitter_seeds_0_9")
    assert clearly_above_in_every_seed(high, nine, resolution(high, nine))
    assert clearly_higher(high, nine)


def test_no_better_final_accuracy_all_below_the_bayes_rule_on_the_test_points(values):
    for name in ("0_9", "0_99"):
        # "the paired differences from plain SGD show no gain"
        assert at_most_as_high(values[f"momentum_test_acc_seeds_{name}"], values["momentum_test_acc_seeds_0"]), name
    for name in ("0", "0_9", "0_99"):
        # "all three [mean test accuracies] lie below the Bayes rule's score on these test points":
        # by more than the seeds' standard error
        accuracy = seeds(values, f"momentum_test_acc_seeds_{name}")
        assert accuracy.mean() + standard_error(accuracy) < values["momentum_bayes_test"], name


def test_momentum_ends_at_a_lower_training_loss_and_0_99_at_a_higher_test_loss(values):
    for name in ("0_9", "0_99"):
        assert clearly_lower(values[f"momentum_train_loss_seeds_{name}"], values["momentum_train_loss_seeds_0"]), name
    # "0.99 at a training accuracy of ..., above the Bayes rule's ... on the same training points":
    # the mean, by more than its standard error
    fitted = seeds(values, "momentum_train_acc_seeds_0_99")
    assert values["momentum_train_acc_0_99"] == pytest.approx(fitted.mean())
    assert fitted.mean() - standard_error(fitted) > values["momentum_bayes_train"]
    # "Its test loss is higher in every seed"
    high, plain = seeds(values, "momentum_test_loss_seeds_0_99"), seeds(values, "momentum_test_loss_seeds_0")
    assert clearly_above_in_every_seed(high, plain, resolution(high, plain))
    assert clearly_higher(high, plain)


# --- momentum or a larger learning rate? -----------------------------------------------------


def test_the_control_at_0_1_is_as_fast_ends_a_little_higher_and_is_jumpier(values):
    # "reaches the threshold in ... epochs (momentum 0.9: ...)": as fast, no clear difference
    assert no_clear_difference(values["momentum_control_reach_seeds_0_1"], values["momentum_reach_seeds_0_9"])
    # "ends a little higher" (the takeaway: momentum "ends a little below it"): the 99 % interval
    # lies below zero and above -0.02, less than two points
    momentum, control = values["momentum_test_acc_seeds_0_9"], values["momentum_control_acc_seeds_0_1"]
    assert clearly_lower(momentum, control)
    assert ln.difference(momentum, control, confidence=0.99).low > -0.02
    # "jumpier in every seed" (the takeaway: momentum "is steadier in every seed")
    jumpy, steady = seeds(values, "momentum_control_jitter_seeds_0_1"), seeds(values, "momentum_jitter_seeds_0_9")
    assert clearly_above_in_every_seed(jumpy, steady, resolution(jumpy, steady))


def test_momentum_0_99_at_0_01_beats_plain_sgd_at_its_effective_rate_in_every_seed(values):
    # "its worst seed beats the control's best by ...": by more than the resolution of the unstable
    # control, whose seeds spread widely (a fifth of its SD, 0.015)
    heavy, control = seeds(values, "momentum_test_acc_seeds_0_99"), seeds(values, "momentum_control_acc_seeds_1")
    assert values["momentum_control_gap_1"] == pytest.approx(heavy.min() - control.max())
    assert values["momentum_control_gap_1"] > accuracy_resolution(heavy, control)
    assert clearly_higher(heavy, control)
    # the curvature limits the prose quotes: plain SGD at 1 and the heavy ball at 0.01
    assert values["momentum_limit_curvature_0_99"] > 100 * values["momentum_limit_curvature_sgd_1"]


# --- too much momentum for the rate ----------------------------------------------------------


def test_both_momenta_learn_well_at_the_base_rate(values):
    # "every run ends at ... test accuracy or more": above the chapter's threshold of good accuracy,
    # every run by more than a test point
    runs = np.concatenate([seeds(values, "momentum_high_acc_seeds_0_9_at_0_01"),
                           seeds(values, "momentum_high_acc_seeds_0_99_at_0_01")])
    assert values["momentum_high_min_at_0_01"] == runs.min()
    assert runs.min() - ONE_TEST_POINT > values["momentum_threshold"]


def test_tripling_the_rate_breaks_0_99_far_more_than_0_9(values):
    nine_01, nine_03 = seeds(values, "momentum_high_acc_seeds_0_9_at_0_01"), seeds(values, "momentum_high_acc_seeds_0_9_at_0_03")
    good, broken = seeds(values, "momentum_high_acc_seeds_0_99_at_0_01"), seeds(values, "momentum_high_acc_seeds_0_99_at_0_03")
    # "but breaks beta = 0.99": lower in every seed, by more than the resolution of the broken runs
    assert clearly_above_in_every_seed(good, broken, accuracy_resolution(good, broken))
    assert clearly_lower(broken, good)
    # "leaves beta = 0.9 at ... but breaks beta = 0.99": 0.9 loses clearly less than 0.99
    assert clearly_higher(nine_03 - nine_01, broken - good)
    # "its seeds spread": an F-test of the two variances (4 and 4 degrees of freedom) rejects equal
    # spreads at 1 % for a ratio of standard deviations above sqrt(15.98) = 4.0
    assert np.std(broken, ddof=1) > 5 * np.std(good, ddof=1)


def test_at_0_1_momentum_0_9_ends_no_higher_and_jumpier_and_0_99_fails(values):
    # "At 0.1, beta = 0.9 ends no higher"
    assert at_most_as_high(values["momentum_high_acc_seeds_0_9_at_0_1"], values["momentum_high_acc_seeds_0_9_at_0_01"])
    # "and jumpier: in every seed its jitter is at least ... times its jitter at 0.01"
    fast, base = seeds(values, "momentum_high_jitter_seeds_0_9_at_0_1"), seeds(values, "momentum_high_jitter_seeds_0_9_at_0_01")
    assert clearly_above_in_every_seed(fast, base, resolution(fast, base))
    assert values["momentum_high_jitter_ratio_0_9_at_0_1"] == pytest.approx((fast / base).min())
    # beta = 0.99 fails outright: the training loss of each run swings far above its start (ln 3) ...
    assert min(values["momentum_high_peak_seeds"]) > 3 * math.log(3)
    # ... early in the run (in its first half), "and it never recovers": every run ends below 0.5, far
    # from the chapter's threshold, and clearly below beta = 0.9 at the same rate
    assert values["momentum_high_peak_last_epoch"] < values["momentum_epochs"] / 2
    failed = seeds(values, "momentum_high_acc_seeds_0_99_at_0_1")
    assert failed.max() + accuracy_resolution(failed) < 0.5
    assert clearly_lower(failed, values["momentum_high_acc_seeds_0_9_at_0_1"])


def test_the_failed_runs_end_near_a_constant_guess_but_are_no_constant_guess(values):
    # "a training loss of ..., close to the ln 3 of a constant guess": every run within a tenth of ln 3
    # (the trained runs end near 0.4), by more than the resolution of these losses
    losses = seeds(values, "momentum_high_loss_seeds_0_99_at_0_1")
    assert np.all(np.abs(losses - math.log(3)) + resolution(losses) < 0.1 * math.log(3))
    # "yet it is no constant guess: N of the runs end with a test loss above 10": at least one, and
    # every run clearly on its side of 10 (the resolution: a fifth of these losses' SD)
    test_losses = seeds(values, "momentum_high_test_loss_seeds_0_99_at_0_1")
    assert np.all(np.abs(test_losses - 10) > resolution(test_losses))
    assert values["momentum_high_test_loss_large"] == np.sum(test_losses > 10) >= 1
    assert values["momentum_high_test_loss_max"] == test_losses.max()
    assert values["momentum_high_diverged_0_99_at_0_1"] == 0


def test_at_rate_1_every_0_99_run_diverges_and_no_0_9_run_does(values):
    assert values["momentum_high_diverged_0_99_top"] == values["momentum_n_seeds"]
    assert values["momentum_high_diverged_0_9_top"] == 0
    # "near chance": three classes; every run below 0.5 by more than its resolution
    top = seeds(values, "momentum_high_acc_seeds_0_9_top")
    assert values["momentum_high_acc_high_0_9_top"] == top.max()
    assert top.max() + accuracy_resolution(top) < 0.5


# --- the two scales (the box) ------------------------------------------------------------------


def test_keras_update_matrices_are_the_written_ones_and_their_limits_the_formulas(values):
    # float32: entries up to 1 + 5 * 1.99 = 11, a few roundings of 1.2e-7 each
    assert values["momentum_matrix_error"] < 1e-5
    assert values["momentum_one_interval"] is True
    for name in ("sgd", "heavy_0_9", "heavy_0_99", "nesterov_0_9", "nesterov_0_99"):
        # the grid of h is spaced 0.001 and avoids the limits: the crossing is found to half a step
        assert values[f"momentum_limit_keras_{name}"] == pytest.approx(values[f"momentum_limit_{name}"], abs=6e-4)
    for beta in ("0_9", "0_99"):
        assert values[f"momentum_limit_keras_nesterov_{beta}"] < values["momentum_limit_keras_sgd"]
        assert values["momentum_limit_keras_sgd"] < values[f"momentum_limit_keras_heavy_{beta}"]
    assert values["momentum_damping_nesterov_0_9"] < values["momentum_damping_heavy_0_9"] - 0.2
    assert values["momentum_damping_heavy_0_9"] == pytest.approx(math.sqrt(0.9), rel=1e-5)


def test_noise_on_flat_directions_is_that_of_plain_sgd_at_the_effective_rate(values):
    assert values["momentum_noise_error"] < 1e-4
    for beta in ("0_9", "0_99"):
        # at eta * lambda = (1 - beta) / 100 the exact ratio is 1 - 0.005 + O(1e-4)
        assert values[f"momentum_noise_ratio_{beta}"] == pytest.approx(1.0, abs=0.01)


def test_where_training_breaks_down_follows_the_effective_rate(values):
    good = values["momentum_threshold"]  # the chapter's mark of good accuracy
    # "at effective rates from 0.01 to 0.3 every momentum trains well": every setting's mean test
    # accuracy lies above the threshold by more than its standard error
    working = {setting: np.asarray(runs, dtype=float) for setting, runs in values["momentum_working_seeds"].items()}
    assert {setting.split(" at ")[0] for setting in working} == {"0", "0.9", "0.99"}
    for setting, runs in working.items():
        assert runs.mean() - standard_error(runs) > good, setting
    assert values["momentum_working_low"] == pytest.approx(min(runs.mean() for runs in working.values()))
    # "and at 3 or more none does (no run ends above ...)": every run below it by more than a test point
    assert values["momentum_too_large_best_run"] + ONE_TEST_POINT < good
    # "plain SGD at 0.001 is too slow": every run below the threshold
    slowest = seeds(values, "momentum_slowest_seeds")
    assert slowest.max() + accuracy_resolution(slowest) < good
    # "at an effective rate of 1 a larger beta goes further"
    assert clearly_higher(values["momentum_eff1_seeds_0_9"], values["momentum_eff1_seeds_0"])
    assert clearly_higher(values["momentum_eff1_seeds_0_99"], values["momentum_eff1_seeds_0_9"])
    # the box's rule: "beta = 0.99 at 1, where plain SGD fails" (means, by their standard errors)
    plain, heavy = seeds(values, "momentum_eff1_seeds_0"), seeds(values, "momentum_eff1_seeds_0_99")
    assert plain.mean() + standard_error(plain) < good < heavy.mean() - standard_error(heavy)


def test_tuned_on_validation_momentum_ends_no_better_than_plain_sgd(values):
    for name in ("0_9", "0_99"):
        assert at_most_as_high(values[f"momentum_chosen_acc_seeds_{name}"], values["momentum_chosen_acc_seeds_0"]), name
    # "well below where each row breaks down" (at effective rates of 3 and more)
    assert 0.01 <= values["momentum_chosen_effective_low"] <= values["momentum_chosen_effective_high"] <= 0.3 + 1e-9
    # the choices at the grid's edge are named from the choices themselves (they follow validation
    # scores that can be close), so the sentence names them all
    chosen = {0.0: values["momentum_chosen_0"], 0.9: values["momentum_chosen_0_9"], 0.99: values["momentum_chosen_0_99"]}
    edge = [beta for beta, rate in chosen.items() if rate == 0.001]
    assert values["momentum_chosen_at_grid_edge"] == edge
    for beta in edge:
        assert f"β = {beta:g}" in values["momentum_chosen_edge_text"]


# --- Nesterov ----------------------------------------------------------------------------------


def test_nesterov_ends_within_a_point_of_classical_at_0_9(values):
    # "the two variants end within a point of each other": the 99 % interval lies within +-0.01
    same = ln.difference(values["momentum_nesterov_acc_seeds_0_9_at_0_01"],
                         values["momentum_classical_acc_seeds_0_9_at_0_01"], confidence=0.99)
    assert -0.01 < same.low and same.high < 0.01
    # "looking ahead changes little": the median epochs to the threshold differ by at most 3, over twice
    # the seeds' standard deviation of that measure for beta = 0.9 (1.3 epochs)
    assert abs(values["momentum_nesterov_reach_0_9"] - values["momentum_classical_reach_0_9"]) <= 3


def test_nesterov_rescues_0_99_at_0_03_despite_its_narrower_limit(values):
    nesterov, classical = seeds(values, "momentum_nesterov_acc_seeds_0_99_at_0_03"), seeds(values, "momentum_classical_acc_seeds_0_99_at_0_03")
    # "every seed above classical momentum's best"
    assert nesterov.min() - classical.max() > accuracy_resolution(nesterov, classical)
    assert clearly_higher(nesterov, classical)
    assert values["momentum_nesterov_limit_ratio_0_99"] > 2.5
    # "At rate 0.01 the two end alike"
    assert no_clear_difference(values["momentum_nesterov_acc_seeds_0_99_at_0_01"],
                               values["momentum_classical_acc_seeds_0_99_at_0_01"])


def test_nesterov_is_no_cure_all(values):
    fails = seeds(values, "momentum_nesterov_acc_seeds_0_99_at_0_1")
    # "at rate 0.1 ... Nesterov momentum ends at ...": below the chapter's threshold by more than its
    # standard error, and clearly below what it reached at 0.03
    assert fails.mean() + standard_error(fails) < values["momentum_threshold"]
    assert clearly_lower(fails, values["momentum_nesterov_acc_seeds_0_99_at_0_03"])
    # "no clear difference from classical momentum"
    assert no_clear_difference(fails, values["momentum_classical_acc_seeds_0_99_at_0_1"])
