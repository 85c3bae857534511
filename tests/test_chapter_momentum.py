"""The claims of the momentum chapter, checked against its full-profile execution.

Comparisons between settings are paired over seeds (every setting shares the
seeds, so the same initial weights and batch order) and use the book's one
interval, :func:`lrnotes.difference`; a sentence calls a difference real only
when its interval excludes zero, and "no clear difference" when it does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrnotes as ln

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "momentum"  # the `values` fixture (conftest.py) reads its glued numbers


def diff(values, a, b):
    return ln.difference(values[a], values[b])


# --- the update rule and the effective step --------------------------------------------------


def test_keras_sgd_matches_the_written_update_rule(values):
    # float32 rounding of steps up to 10 * lr: a few ulps of 0.1
    assert values["momentum_formula_error"] < 1e-5
    # after 200 updates beta^200 = 7e-10: only float32 rounding is left between Keras and the limits
    assert values["momentum_final_step_0_9"] == pytest.approx(1 / (1 - 0.9), rel=1e-4)
    assert values["momentum_flip_step_0_9"] == pytest.approx(1 / (1 + 0.9), rel=1e-4)


# --- momentum on the testbed at the same rate -------------------------------------------------


def test_momentum_reaches_the_threshold_sooner_in_every_seed(values):
    plain, half, nine, high = (values[f"momentum_reach_seeds_{name}"] for name in ("0", "0_5", "0_9", "0_99"))
    for seed in range(len(plain)):
        assert nine[seed] < half[seed] < plain[seed]
        assert high[seed] < plain[seed]
        # "several times faster": every seed's ratio, not only the medians'
        assert plain[seed] / nine[seed] > 3


def test_momentum_0_99_settles_later_than_0_9_although_single_epochs_get_there_as_early(values):
    slower = diff(values, "momentum_reach_seeds_0_99", "momentum_reach_seeds_0_9")
    assert slower.real and slower.mean > 0
    for touch_99, touch_9 in zip(values["momentum_touch_seeds_0_99"], values["momentum_touch_seeds_0_9"]):
        assert touch_99 <= touch_9


def test_momentum_steadies_the_test_accuracy(values):
    for name in ("0_5", "0_9", "0_99"):
        steadier = diff(values, "momentum_jitter_seeds_0", f"momentum_jitter_seeds_{name}")
        assert steadier.real and steadier.mean > 0, name
    # the takeaway: momentum 0.9 is steadier than plain SGD at the same rate in every seed
    assert all(a < b for a, b in zip(values["momentum_jitter_seeds_0_9"], values["momentum_jitter_seeds_0"]))
    # the largest momentum is a little less steady than 0.9, in every seed
    assert all(a > b for a, b in zip(values["momentum_jitter_seeds_0_99"], values["momentum_jitter_seeds_0_9"]))
    assert diff(values, "momentum_jitter_seeds_0_99", "momentum_jitter_seeds_0_9").real


def test_no_better_final_accuracy_all_below_the_bayes_rule_on_the_test_points(values):
    for name in ("0_9", "0_99"):
        assert not diff(values, f"momentum_test_acc_seeds_{name}", "momentum_test_acc_seeds_0").real, name
    for name in ("0", "0_9", "0_99"):
        assert max(values[f"momentum_test_acc_seeds_{name}"]) < values["momentum_bayes_test"]


def test_momentum_ends_at_a_lower_training_loss_and_0_99_at_a_higher_test_loss(values):
    for name in ("0_9", "0_99"):
        lower = diff(values, f"momentum_train_loss_seeds_{name}", "momentum_train_loss_seeds_0")
        assert lower.real and lower.mean < 0, name
    # beta = 0.99 fits its training sample beyond the Bayes rule's accuracy on it
    assert values["momentum_train_acc_0_99"] > values["momentum_bayes_train"]
    # a higher test loss in every seed
    assert min(values["momentum_test_loss_seeds_0_99"]) > max(values["momentum_test_loss_seeds_0"])
    assert diff(values, "momentum_test_loss_seeds_0_99", "momentum_test_loss_seeds_0").real


# --- momentum or a larger learning rate? -----------------------------------------------------


def test_the_control_at_0_1_is_as_fast_ends_slightly_higher_and_is_jumpier(values):
    as_fast = diff(values, "momentum_control_reach_seeds_0_1", "momentum_reach_seeds_0_9")
    assert not as_fast.real
    higher = diff(values, "momentum_test_acc_seeds_0_9", "momentum_control_acc_seeds_0_1")
    assert higher.real and higher.mean < 0
    assert higher.low > -0.02  # "a little"
    jumpier = zip(values["momentum_control_jitter_seeds_0_1"], values["momentum_jitter_seeds_0_9"])
    assert all(control > momentum for control, momentum in jumpier)


def test_momentum_0_99_at_0_01_beats_plain_sgd_at_its_effective_rate_in_every_seed(values):
    assert min(values["momentum_test_acc_seeds_0_99"]) > max(values["momentum_control_acc_seeds_1"]) + 0.05
    assert values["momentum_control_gap_1"] > 0.05
    # the curvature limits the prose quotes: plain SGD at 1 and the heavy ball at 0.01
    assert values["momentum_limit_curvature_0_99"] > 100 * values["momentum_limit_curvature_sgd_1"]


# --- too much momentum for the rate ----------------------------------------------------------


def test_both_momenta_learn_well_at_the_base_rate(values):
    assert values["momentum_high_min_at_0_01"] >= 0.80


def test_tripling_the_rate_costs_0_9_nothing_clear_and_breaks_0_99(values):
    nine = diff(values, "momentum_high_acc_seeds_0_9_at_0_03", "momentum_high_acc_seeds_0_9_at_0_01")
    assert not nine.real
    broken, good = values["momentum_high_acc_seeds_0_99_at_0_03"], values["momentum_high_acc_seeds_0_99_at_0_01"]
    assert max(broken) < min(good) - 0.05
    assert np.std(broken) > 5 * np.std(good)  # "its seeds spread"


def test_at_0_1_momentum_0_9_ends_lower_and_jumpier_and_0_99_fails(values):
    lower = diff(values, "momentum_high_acc_seeds_0_9_at_0_1", "momentum_high_acc_seeds_0_9_at_0_01")
    assert lower.real and lower.mean < 0
    ratios = np.divide(values["momentum_high_jitter_seeds_0_9_at_0_1"], values["momentum_high_jitter_seeds_0_9_at_0_01"])
    assert ratios.min() > 1.5
    assert values["momentum_high_jitter_ratio_0_9_at_0_1"] == pytest.approx(ratios.min())
    # beta = 0.99 fails outright: the loss swings far above its start (ln 3), and never recovers
    assert min(values["momentum_high_peak_seeds"]) > 3 * math.log(3)
    assert values["momentum_high_peak_last_epoch"] <= 35
    assert max(values["momentum_high_acc_seeds_0_99_at_0_1"]) < 0.5
    assert ln.difference(values["momentum_high_acc_seeds_0_99_at_0_1"], values["momentum_high_acc_seeds_0_9_at_0_1"]).high < 0


def test_the_failed_runs_end_near_a_constant_guess_but_are_no_constant_guess(values):
    for loss in values["momentum_high_loss_seeds_0_99_at_0_1"]:
        assert abs(loss - math.log(3)) < 0.1 * math.log(3)
    assert values["momentum_high_test_loss_large"] >= 2
    assert max(values["momentum_high_test_loss_seeds_0_99_at_0_1"]) > 10
    assert values["momentum_high_diverged_0_99_at_0_1"] == 0


def test_at_rate_1_every_0_99_run_diverges_and_no_0_9_run_does(values):
    assert values["momentum_high_diverged_0_99_top"] == values["momentum_n_seeds"]
    assert values["momentum_high_diverged_0_9_top"] == 0
    # "near chance": three classes
    assert values["momentum_high_acc_high_0_9_top"] < 0.5


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
    # working: every momentum from 0.01 to 0.3; broken: every run at 3 or more, far below
    assert values["momentum_working_low"] > 0.78
    assert values["momentum_too_large_best_run"] < 0.75
    assert max(values["momentum_too_large_means"]) < 0.65
    # at an effective rate of 1 a larger beta goes further
    for a, b in (("momentum_eff1_seeds_0_9", "momentum_eff1_seeds_0"), ("momentum_eff1_seeds_0_99", "momentum_eff1_seeds_0_9")):
        further = diff(values, a, b)
        assert further.real and further.mean > 0, a
    assert values["momentum_eff_0_at_1_0"] < 0.7 < values["momentum_eff_0_99_at_1_0"]
    assert values["momentum_slowest"] < values["momentum_working_low"]


def test_tuned_on_validation_momentum_ends_no_better_than_plain_sgd(values):
    for name in ("0_9", "0_99"):
        assert not diff(values, f"momentum_chosen_acc_seeds_{name}", "momentum_chosen_acc_seeds_0").real, name
    assert 0.01 <= values["momentum_chosen_effective_low"] <= values["momentum_chosen_effective_high"] <= 0.3 + 1e-9
    assert values["momentum_chosen_at_grid_edge"] == [0.9]  # the prose names the one choice at the grid's edge


# --- Nesterov ----------------------------------------------------------------------------------


def test_nesterov_matches_classical_at_0_9(values):
    same = diff(values, "momentum_nesterov_acc_seeds_0_9_at_0_01", "momentum_classical_acc_seeds_0_9_at_0_01")
    assert not same.real and abs(same.mean) < 0.01
    assert abs(values["momentum_nesterov_reach_0_9"] - values["momentum_classical_reach_0_9"]) <= 3


def test_nesterov_rescues_0_99_at_0_03_despite_its_narrower_limit(values):
    nesterov, classical = values["momentum_nesterov_acc_seeds_0_99_at_0_03"], values["momentum_classical_acc_seeds_0_99_at_0_03"]
    assert min(nesterov) > max(classical) + 0.05
    assert values["momentum_nesterov_limit_ratio_0_99"] > 2.5
    alike = diff(values, "momentum_nesterov_acc_seeds_0_99_at_0_01", "momentum_classical_acc_seeds_0_99_at_0_01")
    assert not alike.real


def test_nesterov_is_no_cure_all(values):
    assert values["momentum_nesterov_acc_0_99_at_0_1"] < 0.6
    assert not diff(values, "momentum_nesterov_acc_seeds_0_99_at_0_1", "momentum_classical_acc_seeds_0_99_at_0_1").real
