"""Claims of the chapter "Weight decay is not learning-rate decay", checked on its full-profile execution.

The first half checks an identity of Keras' arithmetic: plain SGD with L2 in
the loss and with decoupled weight decay (wd = 2 lambda, biases excluded)
make the same updates, so their weights may differ only by float32 rounding.
The allowance is four units in the last place of the largest weight per
update (each update rounds a handful of products and sums, each within half
a unit), and "far more" means more than a hundred times that allowance.

The second half compares settings seed by seed (the same seed gives the same
initial weights and batch order everywhere), with margins from the seeds'
own spread (tests/claims.py): "clearly" needs the 99 % interval of the
paired difference to exclude zero; "not clearly different" needs the 80 %
interval to contain it; "no lower" / "at least as high" needs the 80 %
interval to reach past zero on that side. An "every seed" sentence needs
every seed's difference beyond a fifth of the seeds' standard deviation.
The runs at the largest rates are erratic (Adam at 0.1 on a tiny data set),
so no sentence rests on which cell of the grid the validation split picks:
the claims about the chosen cells hold for any of the cells near the top.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from claims import (
    at_least_as_high,
    clearly_higher,
    clearly_lower,
    no_clear_difference,
)
from claims import spread_resolution as resolution

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "weight_decay"  # the `values` fixture (conftest.py) reads its glued numbers

#: float32 machine epsilon: one unit in the last place at 1.
EPS32 = 2.0 ** -23
METHODS = ("Adam + L2", "AdamW")


def _rates(values):
    return sorted(float(rate) for rate in values["wd_overfit"])


def _per_rate(values, method, rate, column="test_ce"):
    return np.asarray(values["wd_per_rate"][method][str(rate)][column], dtype=float)


def _slopes(values, name):
    return np.asarray(values["wd_slopes"][name], dtype=float)


def test_keras_3_ignores_decay_and_the_defaults_are_as_shown(values):
    # "Keras 3 still accepts decay= and drops it with the warning ..."
    assert "decay" in values["wd_decay_warning"] and "ignored" in values["wd_decay_warning"]
    assert values["wd_default_sgd"] == "None" and values["wd_default_adam"] == "None"
    assert values["wd_default_adamw"] > 0 and values["wd_default_l2"] > 0


def test_plain_sgd_with_l2_and_with_weight_decay_end_with_the_same_weights(values):
    sgd = values["wd_check"]["SGD"]
    updates = values["wd_check_updates"]
    assert updates == values["wd_check_epochs"] * math.ceil(values["wd_n_train"] / values["wd_batch_size"])
    # the allowance is the one the page states: 4 N eps max|w|
    assert sgd["tolerance"] == pytest.approx(4 * updates * EPS32 * sgd["largest"])
    assert sgd["gap"] <= sgd["tolerance"]
    assert values["wd_check_wd"] == pytest.approx(2 * values["wd_check_l2"])


def test_under_momentum_and_adam_the_same_pair_differs_far_beyond_rounding(values):
    for name in (f"SGD, momentum {values['wd_check_momentum']:g}", "Adam / AdamW"):
        row = values["wd_check"][name]
        assert row["gap"] > 100 * row["tolerance"], name  # "far more than the tolerance"
        # "L2 shrinks the kernels far more": its kernels end more than 10 % smaller
        assert row["norm_l2"] < 0.9 * row["norm_decoupled"], name
        assert row["norm_l2"] < values["wd_start_norm"], name


def test_adam_pulls_unevenly_and_far_harder_with_l2(values):
    low, median, high = values["wd_pull_low"], values["wd_pull_median"], values["wd_pull_high"]
    assert low < median < high
    assert values["wd_pull_spread"] == pytest.approx(high / low)
    # "weights with large gradients are decayed less": the deciles differ by a factor of several
    assert values["wd_pull_spread"] > 2
    # "a far stronger regulariser as L2 under Adam": more than ten times AdamW's decay per update
    assert values["wd_pull_adamw"] == pytest.approx(values["wd_check_adam_lr"] * values["wd_check_wd"])
    assert values["wd_pull_factor"] > 10


def test_keras_reported_losses_include_the_penalty(values):
    # the two models' weights agree to ~1e-6, so their cross-entropies agree far better than 1e-4;
    # the reported losses differ by the penalty
    assert abs(values["wd_reported_gap"] - values["wd_penalty"]) < 1e-4
    assert values["wd_penalty"] > 100 * 1e-4  # a gap that matters, not rounding


def test_without_regularisation_every_rate_overfits_in_every_seed(values):
    for rate, row in values["wd_overfit"].items():
        final, lowest = np.asarray(row["val_final"]), np.asarray(row["val_min"])
        # "ends above that minimum": by more than a fifth of the seeds' spread of the final value
        assert (final - lowest > resolution(final)).all(), rate
        # "... with a lower training loss than it had there"
        assert (np.asarray(row["train_final"]) < np.asarray(row["train_at_min"])).all(), rate


def test_the_best_epoch_comes_latest_at_the_smallest_rate(values):
    rates = _rates(values)
    medians = {rate: np.median(values["wd_overfit"][str(rate)]["epoch_min"]) for rate in rates}
    # "between epoch 3 (large rates) and 56 (the smallest)"
    assert values["wd_overfit_epoch_high"] == medians[rates[0]] == max(medians.values())
    assert values["wd_overfit_epoch_low"] == min(medians.values())
    assert min(medians, key=medians.get) in rates[len(rates) // 2:]


def test_without_regularisation_the_test_loss_grows_with_the_rate(values):
    rates = _rates(values)
    tests = [np.asarray(values["wd_overfit"][str(rate)]["test_final"]) for rate in rates]
    for smaller, larger in itertools.pairwise(tests):
        assert np.median(larger) > np.median(smaller)
        assert clearly_higher(larger, smaller)
    assert values["wd_none_test_low"] == pytest.approx(np.median(tests[0]))
    assert values["wd_none_test_high"] == pytest.approx(np.median(tests[-1]))


def test_both_regularisers_rescue_every_rate_above_the_smallest_in_every_seed(values):
    rates = _rates(values)
    for rate in rates[1:]:
        none = _per_rate(values, "no regularisation", rate)
        for method in METHODS:
            tuned = _per_rate(values, method, rate)
            assert (tuned - none < -resolution(tuned, none)).all(), (method, rate)
            assert clearly_lower(tuned, none), (method, rate)
    for method, name in (("Adam + L2", "wd_rescued_l2_high"), ("AdamW", "wd_rescued_adamw_high")):
        assert values[name] == pytest.approx(max(np.median(_per_rate(values, method, r)) for r in rates))
        # "far below ... against up to": the worst regularised median is below the best unregularised
        # median of the rates above the smallest
        assert values[name] < min(np.median(_per_rate(values, "no regularisation", r)) for r in rates[1:])


def test_at_the_smallest_rate_neither_regulariser_ends_below_no_regularisation(values):
    smallest = _rates(values)[0]
    none = _per_rate(values, "no regularisation", smallest)
    for method in METHODS:
        assert at_least_as_high(_per_rate(values, method, smallest), none), method


def test_adamw_never_ends_clearly_below_adam_with_l2_and_clearly_above_at_the_two_smallest_rates(values):
    rates = _rates(values)
    for rate in rates:
        assert at_least_as_high(_per_rate(values, "AdamW", rate), _per_rate(values, "Adam + L2", rate)), rate
    # "... and clearly above it at the two smallest, 0.001 and 0.003"
    assert [values["wd_rate_low"], values["wd_second_rate"]] == pytest.approx(rates[:2])
    for rate in rates[:2]:
        assert clearly_higher(_per_rate(values, "AdamW", rate), _per_rate(values, "Adam + L2", rate)), rate


def test_the_per_rate_choices_are_the_validation_argmins(values):
    for method in METHODS:
        for rate in _rates(values):
            medians = {strength: np.median(row[str(rate)]["val_ce"])
                       for strength, row in values["wd_cells"][method].items()}
            best = min(medians, key=medians.get)
            assert float(best) == values["wd_per_rate"][method][str(rate)]["strength"], (method, rate)


def test_neither_method_shows_a_valley(values):
    n = len(_slopes(values, "AdamW"))
    for method in METHODS:
        slopes = _slopes(values, method)
        # "both slopes are far from +-1 (their 99 % intervals exclude it)"
        assert clearly_lower(slopes, np.ones(n)) and clearly_higher(slopes, -np.ones(n)), method
    # "AdamW's is not clearly different from 0"
    assert no_clear_difference(_slopes(values, "AdamW"), np.zeros(n))
    # the paper's lambda: "grows about in proportion to the rate (slope near 1, clearly above 0)"
    per_update = _slopes(values, "AdamW, per update")
    assert clearly_higher(per_update, np.zeros(n))
    assert no_clear_difference(per_update, np.ones(n))


def test_adam_with_l2_leans_positive_only_because_of_the_smallest_rate(values):
    assert np.mean(_slopes(values, "Adam + L2")) > 0
    best = values["wd_median_best"]["Adam + L2"]
    assert best[0] < best[1] and len(set(best[1:])) == 1  # one value at every larger rate, a weaker one first
    assert values["wd_l2_best_low"] == best[0] and values["wd_l2_best_rest"] == best[1]
    # that common value wins at every larger rate by more than a fifth of the seeds' spread
    rates = _rates(values)
    cells = values["wd_cells"]["Adam + L2"]
    for rate in rates[1:]:
        winner = np.asarray(cells[f"{best[1]:g}"][str(rate)]["val_ce"])
        for strength, row in cells.items():
            if float(strength) == best[1]:
                continue
            other = np.asarray(row[str(rate)]["val_ce"])
            assert np.median(other) - np.median(winner) > resolution(other, winner), (rate, strength)


def test_the_grid_steps_are_those_of_the_median_runs(values):
    grids = {method: sorted(float(s) for s in values["wd_cells"][method]) for method in METHODS}
    for method, key in (("Adam + L2", "wd_steps_l2"), ("AdamW", "wd_steps_adamw")):
        positions = [grids[method].index(v) for v in values["wd_median_best"][method]]
        assert values[key] == max(positions) - min(positions)
        # "moves by one or two grid steps over two decades of rate" (takeaways: "by no more than two")
        assert values[key] <= 2
    assert max(_rates(values)) / min(_rates(values)) == pytest.approx(100)  # "two decades of rate"


def test_no_regularised_choice_ends_below_no_regularisation(values):
    chosen = values["wd_selected"]
    none = np.asarray(chosen["no regularisation"]["test_ce"])
    for method in METHODS:
        assert at_least_as_high(np.asarray(chosen[method]["test_ce"]), none), method
    # the choices are the validation argmins of the median run
    for method in METHODS:
        cells = values["wd_cells"][method]
        medians = {(float(s), float(r)): np.median(row["val_ce"]) for s, rates in cells.items()
                   for r, row in rates.items()}
        assert min(medians, key=medians.get) == (chosen[method]["strength"], chosen[method]["lr"]), method
    adamw = chosen["AdamW"]["test_ce"]
    assert values["wd_adamw_test_low"] == pytest.approx(min(adamw))
    assert values["wd_adamw_test_high"] == pytest.approx(max(adamw))
