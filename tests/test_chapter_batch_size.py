"""The claims of the batch-size chapter, checked on its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "batch_size"  # the `values` fixture (conftest.py) reads its glued numbers


def test_updates_per_epoch_follow_the_batch_size(values):
    # 500 training examples: batches of 5 make 100 updates an epoch, the whole set one.
    assert values["batch_size_n_train"] == 500
    assert values["batch_size_smallest"] == 5
    assert values["batch_size_updates_smallest"] == 100
    assert values["batch_size_updates_whole"] == 1


def test_small_batches_reach_the_threshold_in_fewer_epochs(values):
    assert values["batch_size_epochs_to_small"] * 3 < values["batch_size_epochs_to_whole"]


def test_the_whole_batch_varies_less_from_epoch_to_epoch(values):
    assert values["batch_size_var_whole"] * 1.5 < values["batch_size_var_small"]
    assert values["batch_size_var_ratio"] > 1.5


def test_at_an_equal_number_of_updates_the_ordering_reverses(values):
    # Fewer epochs for the small batch, but fewer weight updates for the whole set.
    assert values["batch_size_epochs_to_small"] < values["batch_size_epochs_to_whole"]
    assert values["batch_size_updates_to_whole"] < values["batch_size_updates_to_small"]
    assert values["batch_size_updates_ratio"] > 1.0
    # ... and far fewer examples processed for the small batch.
    assert values["batch_size_examples_to_small"] * 3 < values["batch_size_examples_to_whole"]


def test_the_noise_costs_little_final_accuracy(values):
    # Both ends of the sweep end near the testbed's ceiling (about 0.82).
    assert values["batch_size_final_small"] > 0.78
    assert values["batch_size_final_whole"] > 0.75


def test_an_epoch_takes_longer_with_small_batches(values):
    # A wall-clock measurement on a shared machine: only the robust direction is
    # checked (100 updates an epoch against one); the prose reports the numbers.
    assert values["batch_size_sec_epoch_small"] > values["batch_size_sec_epoch_whole"]
    assert values["batch_size_ms_update_small"] < values["batch_size_ms_update_whole"]
