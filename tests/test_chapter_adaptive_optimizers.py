"""Claims of the chapter on adaptive optimizers, checked on its quick-profile execution.

The margins are chosen to hold with the quick profile's two seeds and short
runs; the full profile shows the same orderings with wider gaps.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]

CHAPTER = "adaptive_optimizers"  # the `values` fixture (conftest.py) reads its glued numbers


def number(values: dict, name: str) -> float:
    """A glued number (a run that never reached a threshold is glued as inf)."""
    return float(values[name])


def test_numpy_update_rules_match_keras(values):
    # The formulas of the chapter, transcribed to NumPy, reproduce Keras' own optimizers.
    assert number(values, "adaptive_rule_deviation") < 1e-4


def test_default_table_shows_changed_rates(values):
    # Computed from the installed Keras: Adagrad, Adadelta, Adamax and Nadam got smaller defaults.
    for name in ("adagrad", "adadelta", "adamax", "nadam"):
        assert number(values, f"adaptive_default_{name}") < number(values, f"adaptive_keras2_{name}")
    for name in ("sgd", "rmsprop", "adam"):
        assert number(values, f"adaptive_default_{name}") == number(values, f"adaptive_keras2_{name}")
    assert values["adaptive_n_changed"] == 4
    assert number(values, "adaptive_default_adadelta") == pytest.approx(1e-3)
    assert number(values, "adaptive_keras2_adadelta") == pytest.approx(1.0)
    assert number(values, "adaptive_default_adagrad") == pytest.approx(1e-3)
    assert number(values, "adaptive_keras2_adagrad") == pytest.approx(1e-2)


def test_adam_and_rmsprop_reach_threshold_before_sgd_at_defaults(values):
    sgd = number(values, "adaptive_default_epochs_sgd")
    assert number(values, "adaptive_default_epochs_adam") < sgd
    assert number(values, "adaptive_default_epochs_rmsprop") < sgd


def test_adaptive_defaults_are_steadier_than_sgd(values):
    sgd = number(values, "adaptive_default_jitter_sgd")
    assert 2 * number(values, "adaptive_default_jitter_adam") < sgd
    assert 2 * number(values, "adaptive_default_jitter_rmsprop") < sgd


def test_adagrad_at_its_keras3_default_is_slow(values):
    assert number(values, "adaptive_default_acc_adagrad") < number(values, "adaptive_default_acc_adam") - 0.05


def test_old_keras2_rates_learn_where_keras3_defaults_do_not(values):
    assert number(values, "adaptive_adadelta_acc_2") > number(values, "adaptive_adadelta_acc_3") + 0.2
    assert number(values, "adaptive_adagrad_acc_2") > number(values, "adaptive_adagrad_acc_3") + 0.05


def test_adadelta_barely_moves_at_the_shared_rate(values):
    adadelta = number(values, "adaptive_shared_acc_adadelta")
    assert adadelta < number(values, "adaptive_shared_acc_adam") - 0.2
    assert adadelta < number(values, "adaptive_initial_acc") + 0.1
    # with a constant gradient its steps add up to a tiny fraction of Adam's
    assert number(values, "adaptive_adadelta_total") < 0.01 * number(values, "adaptive_adam_total")


def test_tuning_the_rate_closes_the_gap(values):
    tuned = number(values, "adaptive_tuned_spread")
    assert tuned < 0.08
    assert tuned < number(values, "adaptive_shared_score_spread") / 4
    # Adadelta's best rate sits far above Adam's, near the paper's rate of 1
    assert number(values, "adaptive_best_rate_adadelta") >= 1.0
    assert number(values, "adaptive_best_rate_adadelta") >= 100 * number(values, "adaptive_best_rate_adam")
