"""Claims of the chapter "Sharpness, measured", checked on its full-profile execution.

The chapter measures the largest eigenvalue of the training loss's Hessian
(the sharpness) along full-batch gradient descent, and compares it with
2/η. "Near 2/η" means within a factor √2 (closer to this rate's edge than to
that of half or twice the rate), fixed before any run. A run's "late level"
is the median, over its second half, of the geometric mean of consecutive
measurements (an odd measuring interval puts them on opposite phases of the
period-two oscillation at the edge).

Comparisons between settings are paired over seeds (the same seed gives the
same initial weights), with margins from the seeds' own spread
(tests/claims.py): "A is higher/lower than B" needs the 99 % interval of the
paired difference to exclude zero, "no clear difference" needs the 80 %
interval to contain zero, and "in every seed" needs every seed's difference
beyond a fifth of the seeds' standard deviation. Sentences about single runs
("in every run", "every seed") are checked run by run on the glued per-seed
values. Runs at rate 1 and above are erratic (a change in the last bits of
the arithmetic sends them down another path), so their claims are only
those with wide margins: how far their measurements jump, where they
diverge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from claims import clearly_higher, clearly_lower, in_every_seed, no_clear_difference
from claims import spread_resolution as resolution

from lrnotes.curvature import LANCZOS_TOLERANCE

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "sharpness"  # the `values` fixture (conftest.py) reads its glued numbers

#: "Near 2/η": within this factor of it.
BAND = math.sqrt(2)
RATES = ["0.125", "0.25", "0.5", "1"]
EDGE_RATES = ["0.125", "0.25"]
MIDDLE, TOP = "0.5", "1"


def _grid(values, rate, column):
    return np.asarray(values["sharp_grid_runs"][rate][column], dtype=float)


def _warm(values, name, column):
    return np.asarray(values["sharp_warm_runs"][name][column], dtype=float)


def _batch(values, name, column):
    return np.asarray(values["sharp_batch_runs"][name][column], dtype=float)


def test_the_grid_is_the_one_described(values):
    assert [float(rate) for rate in RATES] == values["sharp_rates"]
    assert values["sharp_band"] == pytest.approx(BAND)
    assert values["sharp_n_seeds"] >= 3 and values["sharp_batch_n_seeds"] >= 3


def test_lanczos_finds_the_exact_largest_eigenvalue(values):
    # ARPACK stops at a relative accuracy of LANCZOS_TOLERANCE; float32 Hessian-vector products add ~1e-6
    assert values["sharp_check_error"] < 10 * LANCZOS_TOLERANCE
    # the runs' first measurement (Lanczos, inside the run) is the sharpness of the same initial weights
    first = _grid(values, RATES[0], "initial")[0]
    assert first == pytest.approx(values["sharp_check_exact"], rel=10 * LANCZOS_TOLERANCE)


def test_the_initial_sharpness_spreads_over_two_orders_of_magnitude(values):
    initial = _grid(values, RATES[0], "initial")
    for rate in RATES:  # the same initial weights under every rate
        np.testing.assert_allclose(_grid(values, rate, "initial"), initial, rtol=10 * LANCZOS_TOLERANCE)
    assert values["sharp_initial_low"] == pytest.approx(initial.min(), rel=1e-4)
    assert values["sharp_initial_high"] == pytest.approx(initial.max(), rel=1e-4)
    assert initial.max() / initial.min() > 100
    assert values["sharp_initial_limit_low"] == pytest.approx(2 / initial.max(), rel=1e-4)
    assert values["sharp_initial_limit_high"] == pytest.approx(2 / initial.min(), rel=1e-4)
    # "the book trains at 0.01 to 1": most of that range is above the initial limit of every seed
    assert values["sharp_initial_limit_high"] < 1


def test_at_the_small_rate_the_sharpness_rises_and_levels_off_below_the_edge(values):
    runs = values["sharp_small_runs"]
    ratios = {seed: np.asarray(run["ratio"]) for seed, run in runs.items()}
    assert len(ratios) == values["sharp_n_seeds"]
    # every seed starts below 2/η
    assert max(r[0] for r in ratios.values()) == pytest.approx(values["sharp_small_initial_ratio_high"])
    assert values["sharp_small_initial_ratio_high"] < 1
    far = [seed for seed, r in ratios.items() if r[0] < 0.5]
    near = [seed for seed in ratios if seed not in far]
    assert len(far) == values["sharp_small_n_far_below"] and len(far) >= 3
    # "rises steeply ... ends 6.6 to 81 times its initial value": several-fold in every such seed
    growth = [ratios[seed][-1] / ratios[seed][0] for seed in far]
    assert min(growth) == pytest.approx(values["sharp_small_growth_low"])
    assert max(growth) == pytest.approx(values["sharp_small_growth_high"])
    assert min(growth) > 2
    # the seed near the edge "first falls ... then rises again"
    for seed in near:
        r = ratios[seed]
        assert r[1:].min() < r[0] and r[-1] > r[1:].min()
    # "does not rise to 2/η": no measurement after the start reaches it
    after = max(r[1:].max() for r in ratios.values())
    assert after == pytest.approx(values["sharp_small_max_after_start"]) and after < 1
    # "levels off": the last interval changes it by less than 1 %, after a several-fold rise
    change = max(abs(r[-1] / r[-2] - 1) for r in ratios.values())
    assert change == pytest.approx(values["sharp_small_last_change"]) and change < 0.01
    # "the training loss falls at every single step in every seed"
    assert all(run["loss_rises"] == 0 for run in runs.values())
    assert all(run["final_loss"] < run["initial_loss"] for run in runs.values())


def test_most_runs_start_above_the_edge_and_every_run_spikes_and_trains(values):
    initial = np.concatenate([_grid(values, rate, "initial_ratio") for rate in RATES])
    assert int((initial < 1).sum()) == values["sharp_n_start_below"] < len(initial) / 2
    assert initial.max() == pytest.approx(values["sharp_start_ratio_high"])
    spike = np.concatenate([_grid(values, rate, "spike") / _grid(values, rate, "initial_loss") for rate in RATES])
    # "in every run the training loss jumps ... to 1.4 to 78 times its initial value"
    assert spike.min() == pytest.approx(values["sharp_spike_low"])
    assert spike.max() == pytest.approx(values["sharp_spike_high"])
    assert spike.min() > 1
    # "at the rates up to 0.5 every seed's sharpness is below 2/η at some measurement of the first third"
    lows = np.concatenate([_grid(values, rate, "low") for rate in RATES if float(rate) <= float(MIDDLE)])
    assert lows.max() == pytest.approx(values["sharp_low_high"])
    assert lows.min() == pytest.approx(values["sharp_low_low"])
    assert lows.max() < 1
    # "on the quadratic, every rate of the grid is too large for the initial weights of most seeds"
    for rate in RATES:
        assert (_grid(values, rate, "initial_ratio") > 1).sum() > len(_grid(values, rate, "initial_ratio")) / 2, rate
    # "every run ends below its initial training loss"
    for rate in RATES:
        assert np.all(_grid(values, rate, "final_loss") < _grid(values, rate, "initial_loss")), rate


def test_at_the_two_smallest_rates_every_seed_hovers_near_the_edge(values):
    levels = np.concatenate([_grid(values, rate, "level") for rate in EDGE_RATES])
    assert levels.min() == pytest.approx(values["sharp_level_edge_low"])
    assert levels.max() == pytest.approx(values["sharp_level_edge_high"])
    assert np.all(levels > 1 / BAND) and np.all(levels < BAND)
    # they get there from far apart: initial sharpness over two orders of magnitude of 2/η
    initial = np.concatenate([_grid(values, rate, "initial_ratio") for rate in EDGE_RATES])
    assert initial.max() / initial.min() > 100


def test_at_the_middle_rate_some_seeds_are_at_the_edge_and_the_others_still_rising(values):
    level, low = _grid(values, MIDDLE, "level"), _grid(values, MIDDLE, "low")
    first, last = _grid(values, MIDDLE, "first_late"), _grid(values, MIDDLE, "last")
    at_edge = (level >= 1 / BAND) & (level <= BAND)
    assert int(at_edge.sum()) == values["sharp_middle_n_edge"]
    assert values["sharp_middle_edge_low"] == pytest.approx(level[at_edge].min())
    assert values["sharp_middle_edge_high"] == pytest.approx(level[at_edge].max())
    under = ~at_edge
    assert np.all(level[under] < 1 / BAND)  # below the band, none above it
    # "which the catapult threw far below the edge ... still on their way up when the run ends"
    assert np.all(low[under] < 0.5)
    assert np.all(last[under] > first[under])
    assert np.all(last[under] < 1)


def test_at_the_largest_rate_the_sharpness_is_erratic(values):
    jumps = _grid(values, TOP, "late_high") / _grid(values, TOP, "late_low")
    quiet = _grid(values, EDGE_RATES[-1], "late_high") / _grid(values, EDGE_RATES[-1], "late_low")
    assert jumps.min() == pytest.approx(values["sharp_top_jump_low"])
    assert jumps.max() == pytest.approx(values["sharp_top_jump_high"])
    assert quiet.max() == pytest.approx(values["sharp_quiet_jump_high"])
    assert jumps.min() > 2 * quiet.max()
    # "at 0.125 more than that, but regularly: there the sharpness alternates around 2/η at every
    # measurement, at 1 in no seed"
    assert values["sharp_rates_first"] == pytest.approx(float(RATES[0]))
    smallest = _grid(values, RATES[0], "late_high") / _grid(values, RATES[0], "late_low")
    assert smallest.min() > quiet.max()
    assert _grid(values, RATES[0], "alternating").min() == 1.0
    assert _grid(values, TOP, "alternating").max() < 1.0
    level = _grid(values, TOP, "level")
    assert level.min() == pytest.approx(values["sharp_top_level_low"])
    assert level.max() == pytest.approx(values["sharp_top_level_high"])


def test_the_loss_keeps_falling_but_not_monotonically(values):
    for rate in RATES:  # "in every run the training loss at the end is below the loss at mid-run"
        assert np.all(_grid(values, rate, "final_loss") < _grid(values, rate, "middle_loss")), rate
    smallest = RATES[0]
    rises = _grid(values, smallest, "rises")
    assert rises.min() == values["sharp_smallest_rises_low"] and rises.max() == values["sharp_smallest_rises_high"]
    assert rises.min() > 0
    # "the sharpness alternates ...: each measurement of the second half on the other side of 2/η from the one before"
    alternating = _grid(values, smallest, "alternating")
    assert alternating.min() == pytest.approx(values["sharp_smallest_alternating"]) == 1.0
    assert _grid(values, smallest, "late_low").min() < 1 < _grid(values, smallest, "late_high").max()
    # "at 0.5 the loss rises at some step of the second half in exactly the seeds at the edge"
    level, rises = _grid(values, MIDDLE, "level"), _grid(values, MIDDLE, "rises")
    assert np.array_equal(rises > 0, level >= 1 / BAND)


def test_large_rates_train_then_scatter_then_diverge(values):
    runs = values["sharp_large_runs"]
    # 2: every seed trains, ending below its initial loss
    two = runs["2"]
    assert not any(two["diverged"])
    assert all(final < initial for final, initial in zip(two["final_loss"], two["initial_loss"]))
    assert max(two["largest_loss"]) == pytest.approx(values["sharp_large_trained_spike"])
    # "... and trains through a catapult": its loss first rises above the initial loss in every seed
    assert all(largest > initial for largest, initial in zip(two["largest_loss"], two["initial_loss"]))
    # 4 to 16: no run diverges, some end below their initial loss and others far above it
    between = [runs[rate] for rate in ("4", "8", "16")]
    assert not any(any(run["diverged"]) for run in between)
    ratios = [f / i for run in between for f, i in zip(run["final_loss"], run["initial_loss"])]
    assert min(ratios) < 1 and max(ratios) > 10
    # 32: every run diverges
    assert all(runs["32"]["diverged"])
    initial = _grid(values, RATES[0], "initial")
    assert values["sharp_large_over_low"] == pytest.approx(2.0 / (2 / initial.min()))
    assert values["sharp_large_over_high"] == pytest.approx(2.0 / (2 / initial.max()))


def test_warmup_makes_the_catapult_smaller_but_not_absent(values):
    warm, cold = _warm(values, "linear warmup", "largest_loss"), _warm(values, "no warmup", "largest_loss")
    initial = _warm(values, "linear warmup", "initial_loss")
    assert clearly_lower(np.log10(warm), np.log10(cold))
    log_resolution = resolution(np.log10(warm), np.log10(cold))
    assert in_every_seed(np.log10(cold), np.log10(warm), log_resolution)
    assert np.all(warm > initial)
    assert (warm / initial).min() == pytest.approx(values["sharp_warm_spike_factor_low"])


def test_warmup_does_not_keep_the_sharpness_lower_early_on(values):
    warm, cold = _warm(values, "linear warmup", "early_sharpness"), _warm(values, "no warmup", "early_sharpness")
    # "higher with warmup in every seed"
    assert clearly_higher(warm, cold)
    assert in_every_seed(warm, cold, resolution(warm, cold))
    # "against 2/η_t, no clear difference either way"
    assert no_clear_difference(_warm(values, "linear warmup", "early_ratio"), _warm(values, "no warmup", "early_ratio"))


def test_after_warmup_the_runs_sit_at_the_edge(values):
    warm, cold = _warm(values, "linear warmup", "after_level"), _warm(values, "no warmup", "after_level")
    assert np.all((warm > 1 / BAND) & (warm < BAND))
    assert in_every_seed(warm, cold, resolution(warm, cold))
    assert clearly_lower(_warm(values, "linear warmup", "final_loss"), _warm(values, "no warmup", "final_loss"))


def test_mini_batches_settle_below_the_edge(values):
    label = f"batches of {values['sharp_batch_size']}"
    mini, full = _batch(values, label, "level"), _batch(values, "full batch", "level")
    assert mini.min() == pytest.approx(values["sharp_batch_level_low"])
    assert mini.max() == pytest.approx(values["sharp_batch_level_high"])
    assert clearly_lower(mini, full)
    assert in_every_seed(full, mini, resolution(mini, full))
    late = _batch(values, label, "late_high")
    assert late.max() == pytest.approx(values["sharp_batch_late_high"]) and late.max() < 1
