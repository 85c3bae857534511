"""The claims of the ReduceLROnPlateau chapter, checked against its full-profile execution.

The claims are asserted on the glued per-seed values: ``plateau_seeds[p]``
holds, for patience ``p`` (and for the patience as long as the run, which
never cuts), one value per seed of every measure in the chapter's table. The
runs of all patiences share seeds, so comparisons are paired.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "plateau"  # the `values` fixture (conftest.py) reads its glued numbers


def per_seed(values, patience, measure):
    """One patience's per-seed values of a measure (None, never happened, as NaN)."""
    return np.array(values["plateau_seeds"][patience][measure], dtype=float)


def test_each_patience_first_cuts_where_the_uncut_run_first_stalls_that_long(values):
    # the callback (which sees the validation loss) against the records of the runs without cuts
    for patience in values["plateau_patiences"]:
        stalls = np.array(values["plateau_first_stall"][str(values["plateau_min_delta"])][patience], dtype=float)
        np.testing.assert_array_equal(per_seed(values, patience, "first_cut"), stalls, err_msg=str(patience))


def test_small_patience_cuts_early_and_reaches_the_bottom_within_about_25_epochs(values):
    small = values["plateau_small"]
    frozen = per_seed(values, small, "frozen")
    assert np.isfinite(frozen).all() and (frozen <= 25).all()  # every run, within about 25 epochs
    # long before learning is over: the runs without cuts reach their best validation loss much later
    best = per_seed(values, values["plateau_never"], "best_validation_epoch")
    assert (per_seed(values, small, "first_cut") < 0.1 * best).all()
    assert (best > 0.75 * values["plateau_epochs"]).all()


def test_without_min_lr_the_rate_falls_until_it_underflows_or_min_delta_holds_it(values):
    small = values["plateau_small"]
    cuts = per_seed(values, small, "cuts")
    zero = per_seed(values, small, "zero")
    final_rate = per_seed(values, small, "final_rate")
    improvement = per_seed(values, small, "improvement_at_the_final_rate")
    reached = np.isfinite(zero)
    assert reached.sum() == values["plateau_small_zero_runs"] >= len(zero) / 2  # most runs
    # every run that reaches zero does so after exactly the cuts float32 allows (the simulation in the notebook)
    assert (cuts[reached] == values["plateau_zero_cuts"]).all() and (final_rate[reached] == 0).all()
    # a run that stops short of zero is held by improvements larger than min_delta
    assert (improvement[~reached] > values["plateau_min_delta"]).all()


def test_too_little_patience_freezes_the_model_at_a_worse_accuracy(values):
    small, second, never = values["plateau_small"], values["plateau_second"], values["plateau_never"]
    # nothing learned after the freeze: training accuracy moves by at most 2 of 500 points
    change = per_seed(values, small, "train_accuracy") - per_seed(values, small, "train_accuracy_at_freeze")
    assert (change <= 0.004).all()
    constant = per_seed(values, never, "test_accuracy")
    for patience in (small, second):
        acc = per_seed(values, patience, "test_accuracy")
        assert (acc < constant - 0.02).all(), patience  # every run below its seed's run without cuts
        assert difference(acc, constant).high < 0
    assert values["plateau_early_gap_min"] > 0.02


def test_the_seed_decides_when_a_patience_first_cuts(values):
    first = np.sort(per_seed(values, values["plateau_mid"], "first_cut"))
    assert first[0] < 0.5 * first[1]  # one run cut far earlier than the others
    # and that early cut cost the run its accuracy
    assert values["plateau_mid_early_test_acc"] < values["plateau_mid_early_constant_acc"] - 0.02


def test_min_delta_does_not_decide_the_first_cut(values):
    same = values["plateau_same_first_cut"]
    patiences = values["plateau_patiences"]
    assert values["plateau_small"] in same and len(same) >= len(patiences) - 1
    for patience in same:  # the same epoch in every seed
        assert (values["plateau_first_stall"]["1e-07"][patience]
                == values["plateau_first_stall"]["0.0001"][patience]), patience


def test_large_patience_cuts_late(values):
    large = values["plateau_large"]
    first = per_seed(values, large, "first_cut")
    assert np.isfinite(first).all() and (first > values["plateau_epochs"] / 2).all()
    # near the Bayes-optimal rule on the same test points
    assert values["plateau_large_test_acc"] > values["plateau_bayes_test"] - 0.02
    # harmless: no loss of test accuracy against the runs without cuts
    gap = difference(per_seed(values, large, "test_accuracy"), per_seed(values, values["plateau_never"], "test_accuracy"))
    assert gap.mean >= 0 and gap.low > -0.005


def test_the_patience_chosen_on_validation_cuts_late_and_costs_nothing(values):
    chosen, never = values["plateau_chosen"], values["plateau_never"]
    assert chosen != never
    assert values["plateau_chosen_first_cut"] > values["plateau_epochs"] / 2  # "whose first cut comes late"
    # on the test split: at least as high as the runs without cuts, and quieter
    gap = difference(per_seed(values, chosen, "test_accuracy"), per_seed(values, never, "test_accuracy"))
    assert gap.mean >= 0 and gap.low > -0.005
    assert (per_seed(values, chosen, "jitter") < per_seed(values, never, "jitter")).all()
