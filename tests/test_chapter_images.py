"""Claims of the chapter "Putting it together on images", checked on its quick-profile execution."""

from __future__ import annotations

import math

import pytest

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
CHANCE = 0.1  # ten balanced classes


CHAPTER = "images"  # the `values` fixture (conftest.py) reads its glued numbers


def test_the_table_lists_every_configuration(values):
    assert values["images_methods"] == METHODS
    assert values["images_table_rows"] == METHODS


def test_every_configuration_learns_well_above_chance(values):
    for method, accuracy in values["images_median_test"].items():
        assert accuracy > 5 * CHANCE, f"{method} ends at test accuracy {accuracy:.3f}"
    assert values["images_n_diverged"] == 0


def test_each_schedule_lowers_the_rate_by_the_intended_factor(values):
    factor = values["images_rate_factor"]
    assert factor["SGD, constant"] == pytest.approx(1.0)
    assert factor["SGD, time-based decay"] == pytest.approx(values["images_decay_factor"], rel=1e-4)
    assert factor["SGD, exponential decay"] == pytest.approx(values["images_decay_factor"], rel=1e-4)
    assert factor["SGD, step decay"] == pytest.approx(2 ** values["images_step_drops"])
    assert values["images_step_factor"] == 2 ** values["images_step_drops"]


def test_keras3_default_would_handicap_adagrad(values):
    assert values["images_adagrad_vs_default"] >= 10


def test_adam_is_the_fastest_adaptive_optimizer(values):
    reach = {method: (math.inf if epochs is None else epochs) for method, epochs in values["images_epochs_to"].items()}
    assert math.isfinite(reach["Adam"]), "Adam never reached the threshold"
    for method in ("RMSprop", "Adagrad", "Adadelta"):
        assert reach["Adam"] <= reach[method], f"{method} reached the threshold before Adam"


def test_adam_is_the_steadiest_adaptive_optimizer(values):
    jitter = values["images_jitter"]
    assert values["images_adaptive_jitter_min"] == pytest.approx(jitter["Adam"])
    for method in ("RMSprop", "Adagrad", "Adadelta"):
        assert jitter["Adam"] < jitter[method], f"{method} is steadier than Adam"


def test_glued_summary_numbers_are_consistent(values):
    medians = values["images_median_test"]
    assert values["images_median_min"] == pytest.approx(min(medians.values()))
    assert values["images_median_max"] == pytest.approx(max(medians.values()))
    assert 0 <= values["images_constant_collapsed"] <= values["images_n_seeds"]
    assert values["images_n_top_picks"] <= values["images_n_sweeps"]
