"""The claims of the optimizer-paths chapter, checked on its quick-profile execution."""

from __future__ import annotations

import math

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "optimizer_paths"  # the `values` fixture (conftest.py) reads its glued numbers


def test_limits_are_the_formulas(values):
    b = values["paths_b"]
    assert values["paths_limit_sgd"] == pytest.approx(2 / b)
    assert values["paths_limit_momentum"] == pytest.approx(2 * 1.9 / b)
    assert values["paths_limit_nesterov"] == pytest.approx(2 * 1.9 / (2.8 * b))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov"])
def test_just_under_the_limit_converges_and_just_over_diverges(values, name):
    start = values["paths_start_distance"]
    under, over = values[f"paths_{name}_under_final"], values[f"paths_{name}_over_final"]
    assert not values[f"paths_{name}_under_diverged"]
    assert under < 0.05 * start, "just under the limit the path must approach the minimum"
    assert over > 10 * start, "just over the limit the path must run away"
    assert values[f"paths_{name}_under_growth"] < 1.0 < values[f"paths_{name}_over_growth"]


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov"])
@pytest.mark.parametrize("part", ["under", "over"])
def test_keras_paths_grow_at_the_spectral_radius(values, name, part):
    assert values[f"paths_{name}_{part}_growth"] == pytest.approx(values[f"paths_{name}_{part}_predicted"], rel=0.01)


def test_momentum_is_faster_than_sgd_on_the_bowl_and_near_the_heavy_ball_prediction(values):
    assert values["paths_steps_bowl_momentum"] < values["paths_steps_bowl_sgd"]
    assert values["paths_steps_bowl_nesterov"] < values["paths_steps_bowl_momentum"]
    predicted = values["paths_heavy_ball_steps"]
    for name in ("momentum", "adam"):
        assert abs(values[f"paths_steps_bowl_{name}"] - predicted) < 0.2 * predicted


def test_sgd_rate_sits_under_its_limit_and_rosenbrock_limit_is_local(values):
    assert values["paths_rate_bowl_sgd"] < values["paths_limit_sgd"]
    assert values["paths_rate_bowl_momentum"] < values["paths_limit_momentum"]
    assert values["paths_valley_limit_sgd"] == pytest.approx(2 / values["paths_valley_top_curvature"])
    # momentum ends far closer to the minimum of the valley than plain SGD
    assert values["paths_final_valley_momentum"] < 0.01 * values["paths_final_valley_sgd"]


def test_rmsprop_hovers_and_adagrad_exploits_the_axes(values):
    assert math.isnan(values["paths_steps_bowl_rmsprop"])
    assert values["paths_final_bowl_rmsprop"] > 10 * values["paths_tolerance"]
    assert values["paths_steps_bowl_adagrad"] < 0.2 * values["paths_steps_bowl_momentum"]
    assert values["paths_turned_steps_adagrad"] > 5 * values["paths_steps_bowl_adagrad"]


def test_rotation_leaves_sgd_and_momentum_unchanged(values):
    for name in ("sgd", "momentum", "nesterov"):
        assert abs(values[f"paths_turned_steps_{name}"] - values[f"paths_steps_bowl_{name}"]) <= 1


def test_adaptive_methods_escape_the_saddle_faster_than_sgd(values):
    sgd = values["paths_escape_sgd"]
    assert values["paths_escape_sgd_predicted"] == pytest.approx(sgd, abs=3)
    for name in ("adam", "rmsprop", "adagrad", "momentum"):
        assert values[f"paths_escape_{name}"] < 0.6 * sgd
    # SGD's escape time grows as it starts closer to the ridge; Adam's hardly does
    assert values["paths_escape_sgd_smallest"] > 2 * sgd
    assert values["paths_escape_adam_smallest"] <= values["paths_escape_adam"] + 3
    assert values["paths_first_step_adam"] > 1e5 * values["paths_first_step_sgd"]
