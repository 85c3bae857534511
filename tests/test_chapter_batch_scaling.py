"""The claims of the batch-scaling chapter, checked on its full-profile execution (the published book).

Comparisons use the per-seed values the chapter glues. Seeds are shared
between settings (same initial weights), so differences are paired
(``lrnotes.difference``); a difference is called real only when its 95%
interval excludes zero.
"""

from __future__ import annotations

import math
import statistics

import pytest

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]

DATA = ["testbed", "digits"]
LN10 = math.log(10)


CHAPTER = "batch_scaling"  # the `values` fixture (conftest.py) reads its glued numbers


def rule(values, name):
    """Per-seed test accuracy of batch 32k at rate 0.01k: {epoch: {k: [...]}}, with the epochs compared."""
    table = values[f"bs_{name}_seed_rule_acc"]
    first, early, last = sorted(table)
    return table, first, early, last


@pytest.mark.parametrize("name", DATA)
def test_fixed_rate_small_batches_win_per_epoch(values, name):
    seeds = values[f"bs_{name}_seed_fixed_epochs"]
    assert difference(seeds["small"], seeds["large"]).low > 0


def test_fixed_rate_whole_set_is_ahead_per_update_on_the_testbed(values):
    seeds = values["bs_testbed_seed_fixed_updates"]
    assert difference(seeds["large"], seeds["small"]).low > 0


def test_fixed_rate_no_clear_difference_per_update_on_digits(values):
    seeds = values["bs_digits_seed_fixed_updates"]
    assert not difference(seeds["large"], seeds["small"]).real


@pytest.mark.parametrize("name", DATA)
def test_equal_updates_are_compared_at_exactly_equal_updates(values, name):
    reached = values[f"bs_{name}_fixed_updates_reached"]
    budget = values["bs_blobs_updates" if name == "testbed" else "bs_digits_updates"]
    assert set(reached["small"]) == set(reached["large"]) == {budget}


def test_on_digits_an_epoch_of_small_batches_takes_longer(values):
    # Wall clock on a shared machine: the median over rounds (each round times both batch sizes)
    # must show at least 1.5 times the time for batches of 16 (68 updates) as for the whole set
    # (one update); about 4 on a quiet machine, 2.5 under a load of 8 on 2 cores. The testbed's
    # ratio (32 updates against one) is reported, not claimed: a busy machine can flip it.
    assert statistics.median(values["bs_digits_epoch_ratio_rounds"]) > 1.5


@pytest.mark.parametrize("name", DATA)
def test_a_whole_set_epoch_is_mostly_the_per_epoch_part(values, name):
    assert values[f"bs_{name}_update_ms"] > 0
    assert values[f"bs_{name}_fixed_share_whole"] > 0.5


@pytest.mark.parametrize("name", DATA)
def test_the_rule_holds_for_k_up_to_4_by_the_last_epoch(values, name):
    table, _, _, last = rule(values, name)
    for k in (2, 4):
        assert not difference(table[last][k], table[last][1]).real


@pytest.mark.parametrize("name", DATA)
def test_after_one_epoch_every_larger_k_is_behind(values, name):
    table, first, _, _ = rule(values, name)
    for k in table[first]:
        if k != 1:
            assert difference(table[first][k], table[first][1]).high < 0


def test_on_the_testbed_k8_lags_longer_and_ends_level(values):
    table, _, early, last = rule(values, "testbed")
    assert difference(table[early][8], table[early][1]).high < 0
    assert not difference(table[last][8], table[last][1]).real
    # ... while k = 4 has caught up by then
    assert not difference(table[early][4], table[early][1]).real


@pytest.mark.parametrize("name", DATA)
def test_the_whole_set_parts_early(values, name):
    table, _, early, _ = rule(values, name)
    whole = values[f"bs_{name}_k_whole"]
    # "part early": more than 0.1 behind at the early epoch
    assert difference(table[early][whole], table[early][1]).high < -0.1


@pytest.mark.parametrize("name", DATA)
def test_the_gap_narrows_but_does_not_close(values, name):
    table, _, early, last = rule(values, name)
    whole = values[f"bs_{name}_k_whole"]
    early_gap = difference(table[early][whole], table[early][1]).mean
    final_gap = difference(table[last][whole], table[last][1]).mean
    assert abs(final_gap) < abs(early_gap) / 3
    losses = values[f"bs_{name}_seed_rule_test_loss"]
    assert difference(losses[whole], losses[1]).low > 0  # a higher test loss at the end


def test_on_digits_the_whole_set_ends_below_k1(values):
    table, _, _, last = rule(values, "digits")
    whole = values["bs_digits_k_whole"]
    assert difference(table[last][whole], table[last][1]).high < 0


def test_on_the_testbed_the_whole_set_ends_with_no_clear_accuracy_difference(values):
    table, _, _, last = rule(values, "testbed")
    assert not difference(table[last][values["bs_testbed_k_whole"]], table[last][1]).real


def test_the_testbeds_start_spikes_with_the_whole_set_and_k4(values):
    losses = values["bs_testbed_seed_loss_epoch1"]
    whole = values["bs_testbed_k_whole"]
    assert min(losses[whole]) > max(losses[1])  # every whole-set seed above every k = 1 seed
    assert min(losses[4]) > max(losses[1])  # "k = 4 spikes too"


def test_warmup_removes_the_testbeds_spike_on_every_seed(values):
    whole = values["bs_testbed_k_whole"]
    warm = values["bs_testbed_seed_warm_loss_epoch1"][whole]
    cold = values["bs_testbed_seed_loss_epoch1"][whole]
    assert all(w < c for w, c in zip(warm, cold))


def test_warmup_does_not_make_the_testbeds_whole_set_catch_up(values):
    table, _, early, _ = rule(values, "testbed")
    whole = values["bs_testbed_k_whole"]
    warm = values["bs_testbed_seed_warm_acc"][early][whole]
    assert not difference(warm, table[early][whole]).real


def test_digits_has_no_spike(values):
    # "about the ln 10 = 2.30 of a uniform guess": every seed within 0.15 of it.
    losses = values["bs_digits_seed_loss_epoch1"][values["bs_digits_k_whole"]]
    assert all(abs(loss - LN10) < 0.15 for loss in losses)


def test_on_digits_warmup_holds_every_k_back_early(values):
    table, _, early, _ = rule(values, "digits")
    warm = values["bs_digits_seed_warm_acc"][early]
    for k in warm:
        assert difference(warm[k], table[early][k]).high < 0


def test_by_the_last_epoch_warmup_is_level_on_the_testbed_and_a_little_below_on_digits(values):
    for name in DATA:
        table, _, _, last = rule(values, name)
        whole = values[f"bs_{name}_k_whole"]
        result = difference(values[f"bs_{name}_seed_warm_acc"][last][whole], table[last][whole])
        if name == "testbed":
            assert not result.real
        else:
            assert result.high < 0 and result.low > -0.02  # "a little": under two points


@pytest.mark.parametrize("name", DATA)
def test_warmup_never_buys_a_clear_gain(values, name):
    table = values[f"bs_{name}_seed_rule_acc"]
    warm = values[f"bs_{name}_seed_warm_acc"]
    for epoch in warm:
        for k in warm[epoch]:
            assert difference(warm[epoch][k], table[epoch][k]).low <= 0


@pytest.mark.parametrize("name", DATA)
def test_doubling_the_whole_set_rate_still_trains(values, name):
    beyond = values[f"bs_{name}_seed_beyond_acc"]
    # median within 0.05 of the rule's rate
    assert abs(statistics.median(beyond[2.0]) - statistics.median(beyond[1.0])) < 0.05


def test_past_the_rule_the_testbed_falls_apart(values):
    beyond = values["bs_testbed_seed_beyond_acc"]
    assert all(four < one for four, one in zip(beyond[4.0], beyond[1.0]))  # every seed below its rule-rate run
    assert max(beyond[16.0]) < 0.6


def test_past_the_rule_digits_falls_to_chance(values):
    beyond = values["bs_digits_seed_beyond_acc"]
    assert min(beyond[4.0]) > 0.85  # "still trains at 4 times"
    for multiple in (8.0, 16.0):
        assert max(beyond[multiple]) < 0.2  # chance is 0.1
    assert min(values["bs_digits_seed_beyond_loss"][16.0]) > LN10  # worse than a uniform guess


@pytest.mark.parametrize("name", DATA)
def test_no_run_diverges(values, name):
    assert values[f"bs_{name}_beyond_diverged"] == 0


def test_the_whole_sets_first_update_raises_the_testbeds_loss_on_every_seed(values):
    whole = values["bs_testbed_k_whole"]
    after = values["bs_testbed_seed_loss_epoch1"][whole]
    assert all(a > b for a, b in zip(after, values["bs_testbed_seed_loss_epoch0"]))


def test_every_run_at_the_rules_rate_trains_without_warmup(values):
    # "does not occur here: every run ... trains": well above chance (1/3 and 1/10) and the start.
    assert values["bs_testbed_rule_final_min"] > 0.6
    assert values["bs_digits_rule_final_min"] > 0.9
