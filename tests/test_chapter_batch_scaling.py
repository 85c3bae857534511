"""The claims of the batch-scaling chapter, checked on its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]

DATA = ["testbed", "digits"]


CHAPTER = "batch_scaling"  # the `values` fixture (conftest.py) reads its glued numbers


@pytest.mark.parametrize("name", DATA)
def test_fixed_rate_small_batches_win_per_epoch_not_per_update(values, name):
    # per epoch the smallest batch is far ahead of the whole training set ...
    assert values[f"bs_{name}_fixed_epochs_small"] > values[f"bs_{name}_fixed_epochs_large"] + 0.05
    # ... per update the whole set is at least as far along
    assert values[f"bs_{name}_fixed_updates_large"] > values[f"bs_{name}_fixed_updates_small"] - 0.02


@pytest.mark.parametrize("name", DATA)
def test_linear_scaling_holds_for_small_k(values, name):
    k1 = values[f"bs_{name}_rule_final_k1"]
    assert abs(values[f"bs_{name}_rule_final_k2"] - k1) < 0.03
    assert abs(values[f"bs_{name}_rule_final_k4"] - k1) < 0.03
    assert values[f"bs_{name}_rule_spread_small"] < 0.03
    assert abs(values[f"bs_{name}_rule_early_k4"] - values[f"bs_{name}_rule_early_k1"]) < 0.05


@pytest.mark.parametrize("name", DATA)
def test_the_whole_training_set_parts_early(values, name):
    assert values[f"bs_{name}_rule_early_whole"] < values[f"bs_{name}_rule_early_k1"] - 0.1


def test_warmup_tames_the_testbeds_first_epoch_and_slows_digits(values):
    assert values["bs_testbed_loss_epoch1_whole"] > 5 * values["bs_testbed_loss_epoch1_k1"]
    assert values["bs_testbed_warm_loss_epoch1_whole"] < 0.25 * values["bs_testbed_loss_epoch1_whole"]
    assert values["bs_digits_warm_early_whole"] < values["bs_digits_rule_early_whole"]


@pytest.mark.parametrize("name", DATA)
def test_past_the_rule_the_rate_breaks_training(values, name):
    assert values[f"bs_{name}_beyond_top"] < values[f"bs_{name}_beyond_rule"] - 0.1
    assert values[f"bs_{name}_beyond_top_rate"] == pytest.approx(
        values["bs_beyond_top"] * values[f"bs_{name}_k_whole"] * values["bs_lr0"])


@pytest.mark.parametrize("name", DATA)
def test_time_per_update_grows_slower_than_the_batch(values, name):
    # wall-clock times on a shared machine are noisy: only the claim itself, with no margin
    assert values[f"bs_{name}_batch_ratio"] > 10
    assert values[f"bs_{name}_update_ratio"] < values[f"bs_{name}_batch_ratio"]
