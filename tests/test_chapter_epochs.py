"""The claims of the epochs chapter, checked on its full-profile execution (the published book).

Comparisons use the per-seed values the chapter glues; values of one seed at
two budgets (or two epochs) are paired (``lrnotes.difference``).
"""

from __future__ import annotations

import math

import pytest

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "epochs"  # the `values` fixture (conftest.py) reads its glued numbers


def test_a_short_run_is_exactly_the_prefix_of_a_long_one(values):
    # Every column of the record, NaN included, bit for bit.
    assert values["epochs_prefix_identical"] is True


def test_too_few_epochs_underfit_on_every_seed(values):
    # "on every seed more than 0.1 below what the Bayes-optimal rule scores on the same points"
    shortest = values["epochs_shortest"]
    assert max(values["epochs_seed_train_at"][shortest]) < values["epochs_bayes_train"] - 0.1
    assert max(values["epochs_seed_test_at"][shortest]) < values["epochs_bayes_test"] - 0.1


def test_more_epochs_converge(values):
    # "With more epochs both rise": by more than 0.1 from the shortest to the longest budget.
    shortest, longest = values["epochs_shortest"], values["epochs_longest"]
    for name in ("epochs_seed_train_at", "epochs_seed_test_at"):
        assert difference(values[name][longest], values[name][shortest]).low > 0.1


def test_past_the_chosen_budget_extra_epochs_change_little(values):
    # Equivalence: the paired intervals from the budget chosen on validation to the longest lie
    # within +-0.02 of accuracy (10 test points, about three times the seed spread at these budgets)
    # and +-0.03 of test loss (about 7% of it, five times its seed spread).
    best, longest = values["epochs_best_budget"], values["epochs_longest"]
    assert best < longest
    accuracy = difference(values["epochs_seed_test_at"][longest], values["epochs_seed_test_at"][best])
    loss = difference(values["epochs_seed_test_loss_at"][longest], values["epochs_seed_test_loss_at"][best])
    assert -0.02 < accuracy.low and accuracy.high < 0.02
    assert -0.03 < loss.low and loss.high < 0.03


def test_the_network_overfits_a_little(values):
    # Late training accuracy above the Bayes rule's on the same training points ("it does overfit"),
    # by about one point ("stays about one point": the interval lies below two points).
    train = values["epochs_seed_train_late"]
    excess = difference(train, [values["epochs_bayes_train"]] * len(train))
    assert excess.low > 0
    assert excess.high < 0.02
    # ... and on the test points it scores below the rule's accuracy there.
    test = values["epochs_seed_test_late"]
    assert difference(test, [values["epochs_bayes_test"]] * len(test)).high < 0


def test_a_schedule_over_the_whole_run_breaks_the_prefix_identity(values):
    # Every seed's first epochs differ by more than 0.01 (5 test points) between the two schedules.
    assert min(values["epochs_seed_cosine_diff_acc"]) > 0.01
    assert values["epochs_cosine_min_seed_diff_acc"] > 0.01


def test_the_cosine_rates_follow_the_formula(values):
    # eta_t = 0.01 * (1 + cos(pi t / T)) / 2 at the last update of the short run, t = 10 * 2 - 1.
    t = values["epochs_cosine_last_update"]
    assert t == values["epochs_shortest"] * values["epochs_steps"] - 1
    for epochs, name in ((values["epochs_shortest"], "epochs_cosine_final_rate"),
                         (values["epochs_schedule_epochs"], "epochs_cosine_long_rate")):
        expected = 0.01 * 0.5 * (1 + math.cos(math.pi * t / (epochs * values["epochs_steps"])))
        assert values[name] == pytest.approx(expected, rel=1e-5)
    assert values["epochs_cosine_final_rate"] < 0.01 * 0.01  # "almost 0": under 1% of the start


def test_the_training_loss_falls_by_two_orders_of_magnitude(values):
    for start, end in zip(values["epochs_overfit_seed_start_loss"], values["epochs_overfit_seed_final_loss"]):
        assert end < start / 100


def test_the_ionosphere_network_overfits(values):
    # The test loss at the epoch the validation loss picks, against the end: it rises on every seed.
    best, final = values["epochs_overfit_seed_best_test_loss"], values["epochs_overfit_seed_final_test_loss"]
    assert difference(final, best).low > 0.05
    assert all(end > 1.3 * low for end, low in zip(final, best))
    assert values["epochs_overfit_final_val_loss"] > 1.3 * values["epochs_overfit_min_val_loss"]
    assert max(values["epochs_overfit_seed_best_epoch"]) < values["epochs_overfit_epochs"] / 2


def test_the_test_accuracy_falls_less(values):
    # A real drop, but less than the loss's: a few of the 116 test examples (under 0.06 = 7 examples).
    drop = difference(values["epochs_overfit_seed_best_test_acc"], values["epochs_overfit_seed_final_test_acc"])
    assert drop.real and drop.mean > 0
    assert 2 / 116 < drop.mean < 5 / 116  # "about three of the 116 test examples"
    assert drop.high < 0.06


def test_early_stopping_stops_patience_epochs_after_the_best_on_every_seed(values):
    patience = values["epochs_patience"]
    stops, bests = values["epochs_early_seed_stop"], values["epochs_early_seed_best"]
    assert all(stop == best + patience for stop, best in zip(stops, bests))
    assert max(stops) < values["epochs_overfit_epochs"]
    # It restores the epoch at which the 100-epoch run's validation loss is lowest.
    assert bests == values["epochs_overfit_seed_best_epoch"]


def test_the_replayed_rule_matches_the_callback(values):
    patience = values["epochs_patience"]
    assert values["epochs_replayed_stop"][patience] == values["epochs_early_seed_stop"]
    assert values["epochs_replayed_best"][patience] == values["epochs_early_seed_best"]


def test_every_replayed_patience_restores_the_same_epoch(values):
    bests, stops = values["epochs_replayed_best"], values["epochs_replayed_stop"]
    first = bests[min(bests)]
    for patience in bests:
        assert bests[patience] == first
        assert all(stop == best + patience for stop, best in zip(stops[patience], bests[patience]))


def test_the_early_stopped_record_is_the_long_run(values):
    # Float32 arithmetic on values of order 1, summed in a different order: below 1e-5.
    assert values["epochs_early_vs_long_diff"] < 1e-5


def test_restored_and_checkpointed_models_have_the_minimum_validation_loss(values):
    assert values["epochs_ckpt_restored_diff"] < 1e-6
    assert values["epochs_ckpt_checkpoint_diff"] < 1e-6
    assert values["epochs_ckpt_epoch"] == values["epochs_ckpt_record_best"]
    assert values["epochs_ckpt_stop"] == values["epochs_ckpt_record_best"] + values["epochs_patience"]
    # The restored model's test loss is the record's test loss at the best epoch.
    assert values["epochs_ckpt_restored_test_loss"] == pytest.approx(values["epochs_ckpt_record_test_loss"], abs=1e-6)
