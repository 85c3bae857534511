"""Claims of the Keras 2 → 3 migration appendix, checked on its full-profile execution (the published book).

The unit tests in ``test_keras_migration.py`` run every row of the page's
table in the installed Keras; these tests read what the published page
itself shows and says (its glued numbers), including the one claim it makes
about another chapter. Everything here is deterministic (Keras facts, float32
arithmetic, one seeded demo run) and keeps tolerances derived from rounding,
except that one claim, which reads the other chapter's five seeds and gets a
margin from their spread.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]

CHAPTER = "keras_migration"  # the `values` fixture (conftest.py) reads its glued numbers


def test_decay_keyword_trains_at_a_constant_rate_and_the_schedule_follows_keras2(values):
    lr0, decay = float(values["migration_lr0"]), float(values["migration_demo_decay"])
    t = np.array(values["migration_demo_t"], dtype=float)
    ignored = np.array(values["migration_ignored_rates"])
    scheduled = np.array(values["migration_itd_rates"])
    assert len(ignored) == len(scheduled) == values["migration_demo_epochs"] + 1
    # "the training that follows uses a constant rate": lr0 at every epoch (float32 rounding of lr0 only)
    np.testing.assert_allclose(ignored, lr0, rtol=np.finfo(np.float32).eps)
    # the replacement follows lr0 / (1 + decay t) at the epoch's last update, to float32 rounding (2.5 eps, below)
    np.testing.assert_allclose(scheduled, lr0 / (1 + decay * t), rtol=2.5 * np.finfo(np.float32).eps)
    assert scheduled[-1] < scheduled[0]  # it does decay


def test_inverse_time_decay_reproduces_keras2_decay_to_float32_rounding(values):
    # Keras rounds lr0, d, d*t, 1 + d*t and the quotient to float32, each by at most half an epsilon (t is
    # exact): to first order the result is off by at most 2.5 epsilon, "to floating-point precision".
    eps = float(values["migration_float32_eps"])
    assert eps == pytest.approx(np.finfo(np.float32).eps)
    assert float(values["migration_itd_max_rel_error"]) < 2.5 * eps


def test_four_defaults_changed_and_adadelta_most(values):
    # The Keras 3 side is read from the installed Keras.
    assert values["migration_changed_defaults"] == 4
    assert float(values["migration_adadelta_ratio"]) == pytest.approx(1e-3)


def test_adadelta_barely_moves_in_the_adaptive_chapter_at_ten_times_its_default(glued):
    # "{doc}`adaptive_optimizers` shows it barely moving in a short run even at a rate ten times the new default"
    adaptive = glued("adaptive_optimizers")
    assert float(adaptive["adaptive_shared_rate"]) == pytest.approx(10 * float(adaptive["adaptive_default_adadelta"]))
    # "barely moving": its median seed gains under 0.05 (25 of the 500 test points) over the untrained
    # network. That chapter's runs are multi-seed, so the median must hold robustly: most seeds gain less
    # than 0.05 by more than the resolution of a test accuracy (a fifth of the gains' standard deviation,
    # at least one test point), so that no single seed can lift the median over it.
    gains = (np.array(adaptive["adaptive_shared_acc_by_seed"]["adadelta"], dtype=float)
             - np.array(adaptive["adaptive_shared_initial_by_seed"], dtype=float))
    assert float(adaptive["adaptive_shared_adadelta_gain_median"]) == pytest.approx(np.median(gains))
    resolution = max(1 / 500, np.std(gains, ddof=1) / 5)
    assert np.sum(gains < 0.05 - resolution) > gains.size / 2, gains


def test_both_scheduler_signatures_give_the_same_rates(values):
    lr0, epochs = float(values["migration_lr0"]), values["migration_demo_epochs"]
    one_argument, two_arguments = values["migration_scheduler_rates"]
    expected = [lr0 * 0.5**epoch for epoch in range(epochs)]
    assert one_argument == pytest.approx(expected)
    assert two_arguments == pytest.approx(expected)


def test_plateau_epsilon_is_dropped_without_a_word(values):
    assert values["migration_plateau_warnings"] == 0
    assert float(values["migration_plateau_min_delta_old"]) == float(values["migration_plateau_min_delta_default"])
    assert float(values["migration_plateau_min_delta_old"]) != 0.01


def test_checkpoint_reloads_the_best_validation_epoch(values):
    # The checkpoint chose on the validation split; the reloaded model is the best epoch's.
    history = values["migration_checkpoint_history_val"]
    assert float(values["migration_checkpoint_reloaded_val"]) == pytest.approx(max(history))
