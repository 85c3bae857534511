"""The claims of the ReduceLROnPlateau chapter, checked against its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "plateau"  # the `values` fixture (conftest.py) reads its glued numbers



def test_the_chapter_compares_small_and_large_patience(values):
    assert values["plateau_small"] == 2
    assert values["plateau_large"] == 15


def test_small_patience_reaches_the_bottom_within_about_25_epochs(values):
    assert values["plateau_small_frozen_runs"] == values["plateau_n_runs"]
    assert values["plateau_small_frozen_max"] <= 30


def test_small_patience_reaches_the_low_rate_before_large_patience(values, as_epochs):
    assert values["plateau_small_frozen_max"] < as_epochs(values["plateau_large_frozen_median"])


def test_large_patience_cuts_fewer_times(values):
    assert values["plateau_large_cuts_total"] < values["plateau_small_cuts_median"] * values["plateau_n_runs"]
    assert values["plateau_large_runs_cut"] <= values["plateau_n_runs"]


def test_small_patience_freezes_the_model_at_a_worse_accuracy(values):
    assert values["plateau_small_train_acc"] < values["plateau_large_train_acc"] - 0.05
    assert values["plateau_small_test_acc"] < values["plateau_large_test_acc"]
    # frozen: nothing learned after the rate fell to a hundredth
    assert abs(values["plateau_small_train_acc"] - values["plateau_small_acc_at_freeze"]) < 0.03


def test_an_uncut_large_patience_never_stalled_that_long(values):
    if values["plateau_large_runs_cut"] == 0:
        assert values["plateau_large_longest_stall"] < values["plateau_large"]


def test_without_min_lr_the_rate_underflows_after_44_cuts(values):
    assert values["plateau_zero_cuts"] == 44
