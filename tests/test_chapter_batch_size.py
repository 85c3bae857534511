"""The claims of the batch-size chapter, checked on its full-profile execution (the published book).

Comparisons between batch sizes use the per-seed values the chapter glues:
the seeds are shared between batch sizes (same initial weights), so the
differences are paired (``lrnotes.difference``).
"""

from __future__ import annotations

import statistics

import pytest

from lrnotes import difference

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "batch_size"  # the `values` fixture (conftest.py) reads its glued numbers

SMALL, WHOLE = 5, 500



def test_the_test_points_are_easier_than_the_population(values):
    # "These test points happen to be easier than average": the Bayes rule scores more on them.
    assert values["batch_size_bayes_test"] > values["batch_size_bayes_population"]
    assert values["batch_size_bayes_test"] > values["batch_size_bayes_train"]


def test_small_batches_reach_the_threshold_in_fewer_epochs_on_every_seed(values):
    # "The ranges do not overlap": the slowest batch-5 run is faster than the fastest full-batch run.
    epochs_to = values["batch_size_seed_epochs_to"]
    assert max(epochs_to[SMALL]) < min(epochs_to[WHOLE])


def test_small_batches_jitter_more_on_every_seed(values):
    jitter = values["batch_size_seed_var"]
    # "even the steadiest batch-5 run jitters N times as much as the least steady full-batch run":
    # several times, so more than 3 (the per-seed ratios spread from about 6 to 40).
    assert min(jitter[SMALL]) > 3 * max(jitter[WHOLE])


def test_the_full_batch_run_still_climbs_a_little_late_in_training(values):
    # "still climb slowly then ... a small part of their jitter"
    drift = values["batch_size_seed_late_drift_whole"]
    assert all(change > 0 for change in drift)
    assert statistics.median(drift) < 0.5 * values["batch_size_var_whole"]


def test_at_a_fixed_rate_the_whole_set_ends_better_than_batch_5_on_every_seed(values):
    final = values["batch_size_seed_final_test"]
    gain = difference(final[WHOLE], final[SMALL])
    assert gain.real and gain.mean > 0
    assert all(whole > small for whole, small in zip(final[WHOLE], final[SMALL]))


def test_small_batch_results_spread_more_over_seeds(values):
    # Standard deviations over 5 seeds: a variance ratio above F(0.975; 4, 4) = 9.60, i.e. a
    # ratio of standard deviations above 3.1, is significant at 5% (two-sided).
    assert values["batch_size_final_sd_small"] > 3.1 * values["batch_size_final_sd_whole"]


def test_the_best_batch_size_depends_on_the_measure(values):
    # Chosen on the validation split, by accuracy and by loss: two different batch sizes.
    assert values["batch_size_best_by_accuracy"] != values["batch_size_best_by_loss"]


def test_full_batch_training_swings_in_its_first_epochs_on_every_seed(values):
    # A drop of more than 0.05 (25 of the 500 test points) from one epoch to the next.
    assert min(values["batch_size_seed_swing_whole"]) > 0.05


@pytest.mark.parametrize("updates", [100, 200])
def test_at_equal_updates_the_whole_set_is_ahead(values, updates):
    at = values["batch_size_seed_at_updates"][updates]
    gap = difference(at["whole"], at["small"])
    assert gap.real and gap.mean > 0


def test_after_200_updates_the_whole_set_is_ahead_on_every_seed(values):
    at = values["batch_size_seed_at_updates"][200]
    assert all(whole > small for whole, small in zip(at["whole"], at["small"]))


def test_larger_batches_save_less_than_half_the_proportional_updates(values):
    # From batch 64 to the whole set the batch grows 7.8-fold; the updates needed fall by
    # less than half of that on every seed.
    assert max(values["batch_size_seed_flat_ratio"]) < values["batch_size_flat_batch_ratio"] / 2


def test_an_epoch_of_small_batches_takes_several_times_as_long(values):
    # Wall clock on a shared machine: batch 5 (100 updates) against the whole set (one update),
    # timed in the same round; the median round must show more than twice the time (the
    # engine's fixed part per epoch would have to grow tenfold to flip it).
    assert statistics.median(values["batch_size_epoch_ratio_rounds"]) > 2


def test_a_full_batch_epoch_is_mostly_fixed_cost(values):
    # "For the whole set the fixed part is N% of its epoch": most of it.
    assert values["batch_size_fixed_share_whole"] > 0.5
    assert values["batch_size_update_ms"] > 0


def test_time_eats_much_of_the_small_batch_lead(values):
    # Many times as many epochs, but fewer than half as many times the seconds.
    assert values["batch_size_epochs_to_ratio"] > 5
    assert values["batch_size_sec_to_ratio"] < values["batch_size_epochs_to_ratio"] / 2
