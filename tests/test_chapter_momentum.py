"""The claims of the momentum chapter, checked against its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


CHAPTER = "momentum"  # the `values` fixture (conftest.py) reads its glued numbers



def test_keras_sgd_matches_the_written_update_rule(values):
    assert values["momentum_formula_error"] < 1e-4
    # constant gradient: the step tends to lr / (1 - beta); alternating: lr / (1 + beta)
    assert values["momentum_final_step_0_9"] == pytest.approx(1 / (1 - 0.9), rel=0.02)
    assert values["momentum_flip_step_0_9"] == pytest.approx(1 / (1 + 0.9), rel=0.02)


def test_momentum_reaches_the_threshold_in_fewer_epochs(values, as_epochs):
    plain = as_epochs(values["momentum_reach_0"])
    assert as_epochs(values["momentum_reach_0_9"]) < plain
    assert as_epochs(values["momentum_reach_0_99"]) < plain
    assert as_epochs(values["momentum_reach_0_9"]) <= as_epochs(values["momentum_reach_0_5"])


def test_momentum_steadies_the_test_accuracy(values):
    assert values["momentum_jitter_0_9"] < 0.5 * values["momentum_jitter_0"]
    assert values["momentum_jitter_0_99"] < values["momentum_jitter_0"]


def test_every_momentum_learns_at_the_base_rate(values):
    for name in ("momentum_test_acc_0_9", "momentum_test_acc_0_99"):
        assert values[name] > 0.7


def test_high_momentum_is_more_than_a_larger_rate(values):
    # momentum 0.99 at 0.01 beats plain SGD at its effective rate 1.0
    assert values["momentum_test_acc_0_99"] > values["momentum_control_acc_1"]
    assert values["momentum_effective_text"] == "0.02, 0.1, 1"


def test_too_much_momentum_for_the_rate_ends_worse(values):
    good = values["momentum_high_acc_0_9_at_0_01"]
    assert values["momentum_high_acc_0_99_at_0_1"] < good - 0.15
    assert values["momentum_high_acc_0_99_at_0_03"] < good
    assert values["momentum_high_acc_0_99_at_0_1"] < values["momentum_high_acc_0_9_at_0_1"]


def test_nesterov_tolerates_more_momentum(values):
    assert values["momentum_nesterov_acc_0_99_at_0_03"] > values["momentum_classical_acc_0_99_at_0_03"]
    assert abs(values["momentum_nesterov_acc_0_9"] - values["momentum_classical_acc_0_9"]) < 0.05
