"""Claims of the chapter "Putting it together on images", checked on its full-profile execution.

Comparisons between configurations are paired over the seeds (every
configuration trains from the same seeds) and use the book's one bootstrap
interval, ``ln.difference``, on the per-seed values the chapter glues: the
prose calls a difference real only when its interval excludes zero, and
"no clear difference" when it does not.
"""

from __future__ import annotations

import math

import pytest

import lrnotes as ln

pytestmark = [pytest.mark.book, pytest.mark.claims]

METHODS = [
    "SGD, constant",
    "SGD, time-based decay",
    "SGD, step decay",
    "SGD, exponential decay",
    "Adam",
    "RMSprop",
    "Adagrad",
    "Adadelta",
]
SCHEDULES = METHODS[1:4]
ADAPTIVE = METHODS[4:]
N_TEST = 450  # test images of the digits split: one image is 1/450 of accuracy

CHAPTER = "images"  # the `values` fixture (conftest.py) reads its glued numbers


def paired(values, key, a, b):
    """ln.difference of a minus b over the seeds, for the glued per-seed dict ``key``."""
    return ln.difference(values[key][a], values[key][b])


def grid_step(values, name, rate):
    """How many grid steps ``rate`` lies above the rate kept for optimizer ``name``."""
    grid = values["images_grids"][name]
    return grid.index(rate) - grid.index(values["images_chosen"][name])


# --- Choosing the learning rates ---------------------------------------------------------------


def test_the_tables_list_every_configuration(values):
    """A rendering check: the summary table has one row per configuration, in order."""
    assert values["images_table_rows"] == METHODS


def test_every_kept_rate_lies_inside_its_grid_with_a_worse_rate_on_either_side(values):
    scores = values["images_tuning_scores"]
    for name, grid in values["images_grids"].items():
        mean = [sum(scores[name][f"{rate:g}"]) / len(scores[name][f"{rate:g}"]) for rate in grid]
        kept = grid.index(values["images_chosen"][name])
        assert 0 < kept < len(grid) - 1, f"{name}: kept rate {grid[kept]} is at the edge of {grid}"
        assert mean[kept - 1] > mean[kept] < mean[kept + 1], f"{name}: {dict(zip(grid, mean))}"
        assert values["images_interior_picks"][name]
    assert values["images_n_interior"] == values["images_n_sweeps"] == 5


def test_one_tuning_seed_alone_would_pick_differently_for_some_optimizer(values):
    scores = values["images_tuning_scores"]
    disagree = 0
    for name, grid in values["images_grids"].items():
        picks = {min(grid, key=lambda rate: scores[name][f"{rate:g}"][seed]) for seed in range(len(scores[name][f"{grid[0]:g}"]))}
        assert sorted(picks) == sorted(set(values["images_seed_picks"][name]))
        disagree += len(picks) > 1
    assert disagree >= 1
    assert values["images_n_seed_agree"] == values["images_n_sweeps"] - disagree


def test_two_rates_fail_outright_without_diverging(values):
    """SGD one grid step above its kept rate and Adagrad two steps above end near chance."""
    failed = {name: rates for name, rates in values["images_failed_rates"].items() if rates}
    assert set(failed) == {"sgd", "adagrad"}
    assert [grid_step(values, "sgd", rate) for rate in failed["sgd"]] == [1]
    assert [grid_step(values, "adagrad", rate) for rate in failed["adagrad"]] == [2]
    accuracy = values["images_tuning_final_val_accuracy"]
    for name, rates in failed.items():
        for rate in rates:
            assert all(value < 0.3 for value in accuracy[name][f"{rate:g}"]), (name, rate)  # chance is 0.1
    assert values["images_tuning_fail_max"] < 0.3
    assert values["images_tuning_ok_min"] > 0.8  # every other tuning run learned
    # a failed run is not a diverged one: its loss stays finite, near ln 10
    assert not values["images_tuning_fail_diverged"]
    assert all(math.isfinite(loss) and abs(loss - math.log(10)) < 0.3 for loss in values["images_tuning_fail_val_loss"])


def test_other_scores_keep_rates_at_most_one_grid_step_away(values):
    for name in values["images_grids"]:
        assert abs(grid_step(values, name, values["images_by_end_loss"][name])) <= 1, name
        assert abs(grid_step(values, name, values["images_by_train_loss"][name])) <= 1, name
    # the end-of-run loss (Wu et al.'s short-horizon criterion) does not pick smaller rates across the board here
    chosen, by_end = values["images_chosen"], values["images_by_end_loss"]
    assert any(by_end[name] > chosen[name] for name in chosen)


def test_keras3_defaults_would_handicap_every_optimizer(values):
    scores = values["images_tuning_scores"]
    for name, grid in values["images_grids"].items():
        assert min(grid) >= values["images_defaults"][name] * (1 - 1e-9), name
        kept = values["images_chosen"][name]
        for low, best in zip(scores[name][f"{min(grid):g}"], scores[name][f"{kept:g}"]):
            assert low > 1.3 * best, f"{name}: lowest rate scores {low:.3f}, kept rate {best:.3f}"
    assert values["images_lowest_vs_kept"] > 1.3


def test_every_configuration_fits_the_training_images_almost_perfectly(values):
    assert values["images_min_train_accuracy"] >= 0.99
    for name in METHODS:
        assert min(values["images_final_train_by_seed"][name]) >= 0.99, name


# --- The schedules ----------------------------------------------------------------------------


def test_each_schedule_lowers_the_rate_of_the_last_update_by_the_intended_factor(values):
    """Read from the records (the rate of each epoch's last update), not from the formulas."""
    factor = values["images_rate_factor"]
    assert factor["SGD, constant"] == pytest.approx(1.0)
    assert factor["SGD, time-based decay"] == pytest.approx(values["images_decay_factor"], rel=1e-4)
    assert factor["SGD, exponential decay"] == pytest.approx(values["images_decay_factor"], rel=1e-4)
    assert factor["SGD, step decay"] == pytest.approx(2 ** values["images_step_drops"])


def test_step_schedule_keeps_the_full_rate_until_its_first_drop_in_epoch_n_minus_1(values):
    assert values["images_step_full_epochs"] == values["images_epochs_drop"] - 1


# --- What the comparison shows ----------------------------------------------------------------


def test_every_configuration_learns_and_they_end_close_together(values):
    """'A few test images': the medians lie within 0.02 (9 of 450 images), about twice a configuration's seed spread."""
    final = values["images_final_test_by_seed"]
    for name in METHODS:
        assert min(final[name]) >= values["images_threshold"], f"{name} ends below {values['images_threshold']}"
    medians = values["images_median_test"]
    assert max(medians.values()) - min(medians.values()) <= 0.02
    assert values["images_n_diverged"] == 0  # no loss became NaN or infinite
    assert values["images_n_at_chance"] == 0  # and no run ended near chance with a finite loss


def test_the_constant_rate_is_safe_at_its_tuned_rate(values):
    """No constant-rate run crashes: no one-epoch fall of test accuracy after epoch 10 reaches 0.05 (22 images)."""
    assert max(values["images_worst_drop_by_seed"]["SGD, constant"]) < 0.05
    assert min(values["images_final_test_by_seed"]["SGD, constant"]) > 2 * values["images_chance"]
    assert grid_step(values, "sgd", min(values["images_failed_rates"]["sgd"])) == 1  # the next rate up fails


def test_step_and_exponential_decay_settle_below_the_constant_rate_on_every_seed(values):
    jitter = values["images_jitter_by_seed"]
    for name in ("SGD, step decay", "SGD, exponential decay"):
        for seed, (decayed, constant) in enumerate(zip(jitter[name], jitter["SGD, constant"])):
            assert decayed < constant, f"{name}, seed {seed}: {decayed:.4f} against {constant:.4f}"
        assert max(jitter[name]) <= 1 / N_TEST  # settled: less than one test image per epoch on average
        difference = paired(values, "images_jitter_by_seed", name, "SGD, constant")
        assert difference.real and difference.mean < 0


def test_step_and_exponential_decay_end_slightly_higher_the_time_based_no_clearly_different(values):
    for name in ("SGD, step decay", "SGD, exponential decay"):
        difference = paired(values, "images_final_test_by_seed", name, "SGD, constant")
        assert difference.real and 0 < difference.mean < 0.02, f"{name}: {difference}"  # slightly: under 9 images
    time_based = paired(values, "images_final_test_by_seed", "SGD, time-based decay", "SGD, constant")
    assert not time_based.real, str(time_based)
    steadier = paired(values, "images_jitter_by_seed", "SGD, time-based decay", "SGD, constant")
    assert steadier.real and steadier.mean < 0, str(steadier)


def test_adam_and_a_tuned_adadelta_are_quick_rmsprop_and_adagrad_later(values):
    key = "images_epochs_to_by_seed"
    assert not paired(values, key, "Adadelta", "Adam").real
    for name in ("RMSprop", "Adagrad"):
        difference = paired(values, key, name, "Adam")
        assert difference.real and difference.mean > 0, f"{name}: {difference}"
    assert values["images_adadelta_vs_paper"] > 1


def test_adaptive_optimizers_keep_moving_more_than_step_and_exponential_decay_on_every_seed(values):
    jitter = values["images_jitter_by_seed"]
    for name in ADAPTIVE:
        for schedule in ("SGD, step decay", "SGD, exponential decay"):
            for seed, (adaptive, decayed) in enumerate(zip(jitter[name], jitter[schedule])):
                assert adaptive > decayed, f"{name} against {schedule}, seed {seed}"


def test_rmsprop_moves_the_most(values):
    jitter = values["images_jitter_by_seed"]
    for name in METHODS:
        if name != "RMSprop":
            difference = paired(values, "images_jitter_by_seed", "RMSprop", name)
            assert difference.real and difference.mean > 0, f"RMSprop against {name}: {difference}"
    assert all(rmsprop > adam for rmsprop, adam in zip(jitter["RMSprop"], jitter["Adam"]))


def test_rmsprop_and_adadelta_fall_late_where_no_sgd_run_does(values):
    drops = values["images_worst_drop_by_seed"]
    sgd = max(max(drops[name]) for name in METHODS[:4])
    assert sgd < 0.05
    for name in ("RMSprop", "Adadelta"):
        assert max(drops[name]) > 2 * sgd, f"{name}: worst drop {max(drops[name]):.3f} against {sgd:.3f} for SGD"


def test_adam_ends_as_high_as_any(values):
    key = "images_final_test_by_seed"
    for name in METHODS:
        if name == "Adam":
            continue
        difference = paired(values, key, "Adam", name)
        assert not (difference.real and difference.mean < 0), f"{name} ends clearly above Adam: {difference}"
        if name in ("SGD, constant", "SGD, time-based decay", "RMSprop", "Adagrad"):
            assert difference.real and difference.mean > 0, f"Adam against {name}: {difference}"
        else:
            assert not difference.real, f"Adam against {name}: {difference}"


def test_no_configuration_reaches_the_threshold_clearly_sooner_than_adam(values):
    for name in METHODS:
        if name != "Adam":
            difference = paired(values, "images_epochs_to_by_seed", name, "Adam")
            assert not (difference.real and difference.mean < 0), f"{name} is clearly quicker than Adam: {difference}"


def test_the_seeds_reorder_the_configurations(values):
    """A single seed would crown one of several configurations, and name one of several the worst."""
    final = values["images_final_test_by_seed"]
    seeds = range(values["images_n_seeds"])
    best = {name for seed in seeds for name in METHODS if final[name][seed] == max(final[m][seed] for m in METHODS)}
    worst = {name for seed in seeds for name in METHODS if final[name][seed] == min(final[m][seed] for m in METHODS)}
    assert len(best) >= 3 and len(worst) >= 2
    assert (len(best), len(worst)) == (values["images_n_best"], values["images_n_worst"])
