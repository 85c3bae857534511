"""Claims of the chapter "Putting it together on images", checked on its full-profile execution.

Comparisons between configurations are paired over the seeds (every
configuration trains from the same seeds). The page prints 95 % intervals;
each sentence is checked here with the stricter margins of ``claims.py``
("clearly" higher: the 99 % interval excludes zero; "at least as high",
"no higher", "no sooner": the 80 % interval reaches that side; "no clear
difference": the 80 % interval contains zero), so that it holds on a CPU
that rounds float32 differently (the runs at these rates are chaotic: on an
emulated AVX-only CPU one RMSprop run falls in its last epoch). The
sentences were chosen to hold on both the normal and the AVX execution, and
also over three extra seeds (5, 6, 7) on both, where e.g. step decay is no
longer clearly above the constant rate nor the time-based schedule clearly
steadier.
"""

from __future__ import annotations

import math

import pytest

import lrnotes as ln
from claims import at_least_as_high, at_most_as_high, clearly_higher, clearly_lower, no_clear_difference
from claims import spread_resolution

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
N_TRAIN = 1077  # training images: one image is 1/1077 of training accuracy

CHAPTER = "images"  # the `values` fixture (conftest.py) reads its glued numbers


def paired(values, key, a, b):
    """ln.difference of a minus b over the seeds, for the glued per-seed dict ``key``."""
    return ln.difference(values[key][a], values[key][b])


def both(values, key, a, b):
    """The per-seed lists of configurations a and b, for the claims.py checks."""
    return values[key][a], values[key][b]


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
        # worse by more than the tuning seeds' spread allows by chance (a fifth of the kept rate's seed spread)
        margin = spread_resolution(scores[name][f"{grid[kept]:g}"])
        assert mean[kept - 1] > mean[kept] + margin and mean[kept + 1] > mean[kept] + margin, f"{name}: {dict(zip(grid, mean))}"
        assert values["images_interior_picks"][name]
    assert values["images_n_interior"] == values["images_n_sweeps"] == 5


def test_one_tuning_seed_alone_is_often_a_close_call(values):
    """'In N of the single-seed sweeps the best rate beats the runner-up by less than 5 %'.

    Replaces 'the tuning seeds disagree for some optimizer': Adagrad's disagreement
    rests on a 3-4 % gap on one seed, within what another CPU moves a tuning score
    (up to 0.03, i.e. 5-9 %, between the normal and the AVX execution). The close
    calls themselves are robust: three of the ten on both executions, the closest
    under 1.5 %, far below the 5 % of the sentence.
    """
    scores = values["images_tuning_scores"]
    gaps = []
    for name, grid in values["images_grids"].items():
        n_seeds = len(scores[name][f"{grid[0]:g}"])
        own = [min(grid, key=lambda rate: scores[name][f"{rate:g}"][seed]) for seed in range(n_seeds)]
        assert sorted(set(own)) == sorted(set(values["images_seed_picks"][name]))
        for seed in range(n_seeds):
            best, runner_up = sorted(scores[name][f"{rate:g}"][seed] for rate in grid)[:2]
            gaps.append((runner_up - best) / best)
    assert values["images_n_seed_sweeps"] == len(gaps)
    assert values["images_n_close"] == sum(gap < values["images_close"] for gap in gaps) >= 1
    assert min(gaps) < values["images_close"] / 2  # a close call with a margin: under half the stated 5 %
    assert values["images_n_seed_agree"] == sum(len(set(picks)) == 1 for picks in values["images_seed_picks"].values())


def test_two_rates_fail_outright_without_diverging(values):
    """SGD one grid step above its kept rate and Adagrad two steps above fail; no run diverges.

    Where a failing SGD run stands at epoch 10 is chaotic: SGD at 0.3 has
    ended it at 0.21 and 0.10 (the normal and the AVX execution, one seed at
    a time through keras.Model) and at 0.47 and 0.51 (trained side by side),
    and climbed to 0.64 within a run. So the text says "at chance" only of
    Adagrad's, and "far below every other rate" with a margin of 0.2 in
    accuracy, more than SGD's highest point seen.
    """
    failed = {name: rates for name, rates in values["images_failed_rates"].items() if rates}
    assert set(failed) == {"sgd", "adagrad"}
    assert [grid_step(values, "sgd", rate) for rate in failed["sgd"]] == [1]
    assert [grid_step(values, "adagrad", rate) for rate in failed["adagrad"]] == [2]
    scores = values["images_tuning_scores"]
    fail = [score for name, rates in failed.items() for rate in rates for score in scores[name][f"{rate:g}"]]
    ok = [score for name, grid in values["images_grids"].items() for rate in grid if rate not in failed.get(name, [])
          for score in scores[name][f"{rate:g}"]]
    assert values["images_tuning_fail_score_min"] == min(fail) and values["images_tuning_ok_score_max"] == max(ok)
    # far apart: the gap exceeds the most any rate's score moves between the tuning seeds
    spread = max(abs(a - b) for rates in scores.values() for a, b in rates.values())
    assert min(fail) - max(ok) > spread, (min(fail), max(ok), spread)
    accuracy, loss = values["images_tuning_final_val_accuracy"], values["images_tuning_final_val_loss"]
    chance = values["images_chance"]
    fail_accuracy = [value for name, rates in failed.items() for rate in rates for value in accuracy[name][f"{rate:g}"]]
    assert values["images_tuning_fail_max"] == max(fail_accuracy)
    assert values["images_tuning_fail_max"] + 0.2 < values["images_tuning_ok_min"]  # far below every other rate
    for rate in failed["adagrad"]:  # Adagrad's end at chance, at the loss of a uniform guess
        assert all(value < 2 * chance for value in accuracy["adagrad"][f"{rate:g}"]), rate
        # within 0.1 of ln 10: a right-class probability within 10 % of 1/10
        assert all(abs(value - math.log(10)) < 0.1 for value in loss["adagrad"][f"{rate:g}"]), rate
    assert values["images_tuning_ok_min"] > 0.8  # every other tuning run learned
    assert not values["images_tuning_fail_diverged"]
    assert all(math.isfinite(value) for value in values["images_tuning_fail_val_loss"])


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
    """'Final training accuracy at least 0.99 in N of the runs': a late fall may catch a run, never most of one configuration.

    Checked with a margin of one training image above 0.99; every configuration
    has all but at most one seed there (on the AVX execution one RMSprop run falls
    in its last epoch, to 0.86).
    """
    level = values["images_fit_level"]
    train = values["images_final_train_by_seed"]
    for name in METHODS:
        fit = sum(value >= level + 1 / N_TRAIN for value in train[name])
        assert fit >= values["images_n_seeds"] - 1, f"{name}: {train[name]}"
    n_fit = sum(value >= level for name in METHODS for value in train[name])
    assert values["images_n_train_fit"] == n_fit and values["images_n_runs"] == len(METHODS) * values["images_n_seeds"]


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
    """'A few test images': the medians lie within 0.02 (9 of 450 images), about twice a configuration's seed spread.

    'Every configuration learns': all but at most one seed of each ends above the
    threshold by at least one test image (a run caught in a late fall may not:
    one RMSprop run on the AVX execution ends at 0.853); the count the page
    prints is the count of runs at or above the threshold.
    """
    final = values["images_final_test_by_seed"]
    threshold = values["images_threshold"]
    for name in METHODS:
        above = sum(value >= threshold + 1 / N_TEST for value in final[name])
        assert above >= values["images_n_seeds"] - 1, f"{name}: {final[name]}"
    assert values["images_n_above"] == sum(value >= threshold for name in METHODS for value in final[name])
    assert values["images_lowest_run"] == min(min(final[name]) for name in METHODS)
    medians = values["images_median_test"]
    assert max(medians.values()) - min(medians.values()) <= 0.02
    assert values["images_n_diverged"] == 0  # no loss became NaN or infinite
    assert values["images_n_at_chance"] == 0  # and no run ended near chance with a finite loss


def test_the_constant_rate_is_safe_at_its_tuned_rate(values):
    """No constant-rate run crashes: no one-epoch fall of test accuracy after epoch 10 reaches 0.05 (22 images)."""
    assert max(values["images_worst_drop_by_seed"]["SGD, constant"]) < 0.05
    assert min(values["images_final_test_by_seed"]["SGD, constant"]) > 2 * values["images_chance"]
    assert grid_step(values, "sgd", min(values["images_failed_rates"]["sgd"])) == 1  # the next rate up fails


def test_step_and_exponential_decay_settle_clearly_below_the_constant_rate(values):
    """'Every seed' was dropped: over three extra seeds one constant-rate run is as flat as the decayed ones."""
    jitter = values["images_jitter_by_seed"]
    for name in ("SGD, step decay", "SGD, exponential decay"):
        assert max(jitter[name]) <= 1 / N_TEST  # settled: less than one test image per epoch on average
        assert clearly_lower(*both(values, "images_jitter_by_seed", name, "SGD, constant")), name
    assert values["images_stepexp_jitter_max"] == max(jitter["SGD, step decay"] + jitter["SGD, exponential decay"])


def test_decay_ends_at_least_as_high_the_time_based_schedule_no_higher_and_at_least_as_steady(values):
    """Step and exponential: 'at least as high', not 'higher' (not clear on the AVX execution, nor with more seeds)."""
    key = "images_final_test_by_seed"
    for name in ("SGD, step decay", "SGD, exponential decay"):
        assert at_least_as_high(*both(values, key, name, "SGD, constant")), str(paired(values, key, name, "SGD, constant"))
    assert at_most_as_high(*both(values, key, "SGD, time-based decay", "SGD, constant"))
    # 'at least as steady', not 'steadier': clear on five seeds on both executions, not with three more seeds
    assert at_most_as_high(*both(values, "images_jitter_by_seed", "SGD, time-based decay", "SGD, constant"))


def test_adam_and_a_tuned_adadelta_are_quick_adagrad_later_rmsprop_no_sooner(values):
    key = "images_epochs_to_by_seed"
    assert no_clear_difference(*both(values, key, "Adadelta", "Adam"))
    assert clearly_higher(*both(values, key, "Adagrad", "Adam"))
    assert at_least_as_high(*both(values, key, "RMSprop", "Adam"))  # clear on five seeds, not with three more
    assert values["images_adadelta_vs_paper"] > 1


def test_adaptive_optimizers_keep_moving_clearly_more_than_step_and_exponential_decay(values):
    """'On every seed' was dropped: on one seed of the AVX execution Adam's jitter is below step decay's."""
    for name in ADAPTIVE:
        for schedule in ("SGD, step decay", "SGD, exponential decay"):
            assert clearly_higher(*both(values, "images_jitter_by_seed", name, schedule)), f"{name} against {schedule}"


def test_rmsprop_moves_at_least_as_much_as_any_and_clearly_more_than_adam(values):
    """'On every seed' was dropped: trained side by side, seed 1's RMSprop and Adam jitters tie."""
    for name in METHODS:
        if name != "RMSprop":
            assert at_least_as_high(*both(values, "images_jitter_by_seed", "RMSprop", name)), name
    for name in ["Adam", *SCHEDULES]:
        assert clearly_higher(*both(values, "images_jitter_by_seed", "RMSprop", name)), name


def test_rmsprop_and_adadelta_fall_late_where_no_sgd_run_does(values):
    drops = values["images_worst_drop_by_seed"]
    sgd = max(max(drops[name]) for name in METHODS[:4])
    assert sgd < 0.05
    for name in ("RMSprop", "Adadelta"):
        assert max(drops[name]) > 2 * sgd, f"{name}: worst drop {max(drops[name]):.3f} against {sgd:.3f} for SGD"


def test_falls_pass_within_an_epoch_and_end_a_run_low_only_in_the_last_epoch(values):
    """'Such falls pass': each fall before the last epoch is mostly (more than half) made up at the next epoch.

    A fall is at least 0.05 (22 test images); 'mostly' leaves a margin of several
    images on both executions (the least made up: 22 of 31 images).
    """
    falls = values["images_falls"]  # [configuration, seed, epoch, size, share made up at the next epoch]
    last_epoch = values["images_epochs"]
    assert all(fall[3] >= values["images_fall"] and fall[2] > values["images_drop_after"] for fall in falls)
    before = [fall[4] for fall in falls if fall[2] < last_epoch]
    assert len(before) == values["images_n_falls"] >= 1
    assert min(before) == values["images_min_made_up"] > 0.5
    assert values["images_n_last_falls"] == sum(fall[2] == last_epoch for fall in falls)
    assert {fall[0] for fall in falls} <= set(ADAPTIVE)  # no SGD run falls (its worst drop is under 0.05)


def test_adam_ends_as_high_as_any(values):
    key = "images_final_test_by_seed"
    for name in METHODS:
        if name != "Adam":
            assert at_least_as_high(*both(values, key, "Adam", name)), f"Adam against {name}: {paired(values, key, 'Adam', name)}"
    assert clearly_higher(*both(values, key, "Adam", "SGD, time-based decay"))


def test_no_configuration_reaches_the_threshold_clearly_sooner_than_adam(values):
    for name in METHODS:
        if name != "Adam":
            assert at_least_as_high(*both(values, "images_epochs_to_by_seed", name, "Adam")), name


def test_the_seeds_reorder_the_configurations(values):
    """A single seed would crown one of several configurations, and name one of several the worst."""
    final = values["images_final_test_by_seed"]
    seeds = range(values["images_n_seeds"])
    best = {name for seed in seeds for name in METHODS if final[name][seed] == max(final[m][seed] for m in METHODS)}
    worst = {name for seed in seeds for name in METHODS if final[name][seed] == min(final[m][seed] for m in METHODS)}
    assert len(best) >= 3 and len(worst) >= 2
    assert (len(best), len(worst)) == (values["images_n_best"], values["images_n_worst"])
