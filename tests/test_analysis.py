"""Summaries and the paired comparison the book uses to call a difference real."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lrnotes as ln
from lrnotes.analysis import REACH_WINDOW


def test_a_consistent_gain_is_real_and_noise_is_not():
    gain = ln.difference([0.84, 0.83, 0.85, 0.84, 0.82], [0.80, 0.81, 0.80, 0.79, 0.80])
    assert gain.real and gain.low > 0 and gain.mean == pytest.approx(0.036)
    noise = ln.difference([0.80, 0.82, 0.79, 0.81, 0.80], [0.81, 0.80, 0.80, 0.80, 0.81])
    assert not noise.real and noise.low < 0 < noise.high
    loss = ln.difference([0.1, 0.2, 0.1], [0.5, 0.6, 0.4])
    assert loss.real and loss.high < 0


def test_pairing_removes_the_seed_to_seed_spread():
    seeds = np.array([0.70, 0.80, 0.90, 0.75, 0.85])  # large spread between seeds
    better = seeds + 0.01  # the same seeds, each one point better
    assert ln.difference(better, seeds).real
    assert not ln.difference(better, seeds, paired=False).real


def test_the_interval_is_reproducible_and_narrows_with_confidence():
    a, b = [0.84, 0.81, 0.86, 0.80, 0.83], [0.82, 0.82, 0.83, 0.79, 0.80]
    assert ln.difference(a, b) == ln.difference(a, b)
    wide, narrow = ln.difference(a, b, confidence=0.99), ln.difference(a, b, confidence=0.5)
    assert wide.low <= narrow.low <= narrow.high <= wide.high
    assert str(ln.difference(a, b)).startswith("+0.016 [")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ln.difference([1.0], [0.5]), ValueError, "a needs at least two seeds"),
        (lambda: ln.difference([1.0, 2.0], [0.5, 0.1, 0.3]), ValueError, "as many values in a as in b"),
        (lambda: ln.difference([1.0, float("nan")], [0.5, 0.1]), ValueError, "a has missing or infinite values"),
        (lambda: ln.difference("ab", [0.5, 0.1]), TypeError, "a must be a sequence of numbers"),
        (lambda: ln.difference([1.0, 2.0], [0.5, 0.1], confidence=95), ValueError, "confidence must be"),
        (lambda: ln.difference([1.0, 2.0], [0.5, 0.1], resamples=10), ValueError, "resamples must be"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_summarize_without_by_renders_one_row_with_values():
    records = pd.DataFrame({"seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1], "train_accuracy": [0.3, 0.8, 0.3, 0.6],
                            "test_accuracy": [0.3, 0.8, 0.3, 0.7], "test_loss": [1.0, 0.5, 1.0, 0.6],
                            "diverged": False})
    table = ln.summarize(records, threshold=0.75)
    assert table.index.tolist() == ["all runs"]
    assert not table.isna().any().any()
    assert table.loc["all runs", "test accuracy"] == "0.750 ± 0.071"


def _runs(values_by_seed):
    return pd.DataFrame([{"seed": seed, "epoch": epoch, "test_accuracy": value}
                         for seed, values in values_by_seed.items() for epoch, value in enumerate(values)])


def test_one_lucky_epoch_does_not_count_as_reaching_a_threshold():
    records = _runs({0: [0.3, 0.9, 0.4, 0.5, 0.5, 0.5, 0.5], 1: [0.3, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]})
    assert ln.epochs_to_reach(records, 0.75, window=1).tolist() == [1.0, 1.0]
    reach = ln.epochs_to_reach(records, 0.75, window=3)
    assert np.isnan(reach.iloc[0]) and reach.iloc[1] == 3.0  # the window of epochs 1-3 is the first at 0.8
    assert REACH_WINDOW == 5 and ln.epochs_to_reach(records, 0.75).iloc[1] == 5.0
    with pytest.raises(ValueError, match="window must be a positive integer"):
        ln.epochs_to_reach(records, 0.75, window=0)


def test_jitter_is_the_mean_step_to_step_change_late_in_training():
    records = _runs({0: [0.1, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5], 1: [0.5, 0.5, 0.5, 0.6, 0.4, 0.6, 0.4]})
    values = ln.jitter(records)  # the second half: the last 3 of 6 changes
    assert values.round(6).tolist() == [0.0, 0.2]
    assert ln.jitter(records, last=6).round(6).tolist() == [round(1.2 / 6, 6), round(0.7 / 6, 6)]
    diverged = _runs({0: [0.5, 0.6, float("nan"), float("nan")]})
    assert np.isnan(ln.jitter(diverged).iloc[0])
    with pytest.raises(ValueError, match="last must be a positive integer"):
        ln.jitter(records, last=0)
