"""The claims of the epochs chapter, checked on its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "epochs"  # the `values` fixture (conftest.py) reads its glued numbers


def test_an_epoch_of_batch_256_is_two_updates(values):
    assert values["epochs_n_train"] == 500
    assert values["epochs_steps"] == 2
    assert values["epochs_updates_short"] == 2 * values["epochs_shortest"]


def test_too_few_epochs_underfit(values):
    # The shortest budget ends far below the longest, on training and test data alike.
    assert values["epochs_shortest"] < values["epochs_longest"]
    assert values["epochs_test_short"] + 0.1 < values["epochs_test_long"]
    assert values["epochs_train_short"] + 0.1 < values["epochs_train_long"]
    assert values["epochs_test_long"] > 0.78


def test_a_short_run_is_exactly_the_prefix_of_a_long_one(values):
    assert values["epochs_prefix_identical"] is True
    assert values["epochs_prefix_max_diff"] == 0.0
    assert values["epochs_prefix_rows"] == values["epochs_n_seeds"] * (values["epochs_shortest"] + 1)


def test_a_schedule_over_the_whole_run_breaks_the_prefix_identity(values):
    assert values["epochs_cosine_max_diff_acc"] > 0.0
    assert values["epochs_cosine_final_rate"] == 0.0
    assert values["epochs_cosine_long_rate"] > 0.0


def test_the_ionosphere_network_overfits(values):
    # Validation loss turns up while the training loss keeps falling.
    assert values["epochs_overfit_all_turn"] is True
    assert values["epochs_overfit_final_val_loss"] > 1.1 * values["epochs_overfit_min_val_loss"]
    assert values["epochs_overfit_best_epoch_max"] < values["epochs_overfit_epochs"]
    assert values["epochs_overfit_final_loss"] < 0.2 * values["epochs_overfit_min_val_loss"]


def test_early_stopping_stops_before_the_limit(values):
    assert values["epochs_early_stop_max"] < values["epochs_overfit_epochs"]
    assert values["epochs_early_saved"] > 0.0
    # It stops `patience` epochs after the best one.
    assert values["epochs_ckpt_stop"] == values["epochs_ckpt_record_best"] + values["epochs_patience"]


def test_restored_and_checkpointed_models_have_the_minimum_validation_loss(values):
    assert values["epochs_ckpt_restored_diff"] < 1e-6
    assert values["epochs_ckpt_checkpoint_diff"] < 1e-6
    assert values["epochs_ckpt_epoch"] == values["epochs_ckpt_record_best"]
    # The early-stopped record is the run without the callback, up to rounding.
    assert values["epochs_early_vs_long_diff"] < 1e-4
