"""Claims of the chapter "Warmup, cosine decay and one-cycle", checked on its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "modern_schedules"  # the `values` fixture (conftest.py) reads its glued numbers


def test_written_formulas_match_the_keras_objects(values):
    assert values["modern_formula_error"] < 1e-5
    assert values["modern_step_error"] < 1e-6
    assert values["modern_first_rate"] == 0.0  # warmup from 0: the first update changes nothing


def test_final_accuracy_barely_depends_on_the_schedule_at_peak_0_1(values):
    assert values["modern_acc_spread"] < 0.03
    assert values["modern_acc_peak"] > 0.78


def test_decay_to_zero_settles_the_test_accuracy(values):
    assert values["modern_jitter_constant"] > 3 * values["modern_jitter_decayed"]


def test_annealing_at_the_end_beats_decaying_early_in_training_loss(values):
    assert values["modern_loss_cosine"] < values["modern_loss_step"]
    assert values["modern_loss_cycle"] < values["modern_loss_step"]


def test_one_cycle_starts_slowly(values):
    assert values["modern_reach_cycle"] > values["modern_reach_constant"]


def test_warmup_removes_the_early_blow_up_at_a_large_peak(values):
    assert values["modern_spike_nowarm"] > 3 * values["modern_spike_warm"]


def test_a_large_constant_rate_fails_and_decay_rescues_it(values):
    assert values["modern_large_acc_constant"] < 0.6
    assert values["modern_large_acc_nowarm"] > values["modern_large_acc_constant"] + 0.15
    assert values["modern_large_acc_warm"] > values["modern_large_acc_constant"] + 0.15
    assert values["modern_large_acc_cycle"] > values["modern_large_acc_constant"] + 0.15
