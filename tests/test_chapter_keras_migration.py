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


#: float32 spacing at 2, the size of the weights in the weight-decay example.
ULP_AT_2 = float(np.spacing(np.float32(2.0)))


def test_weight_decay_shrinks_the_weight_before_the_step_and_not_the_rate(values):
    w0, gradient, eta, wd = values["migration_wd"]
    updates = values["migration_wd_updates"]
    # Keras' float32 arithmetic on numbers below 2: a decay (2 products, 1 difference), Adam's step (about 8
    # operations) and the update (1 product, 1 difference), each off by at most one unit in the last place.
    tolerance = 12 * ULP_AT_2
    for name in ("SGD(weight_decay=0.2)", "AdamW(weight_decay=0.2)"):
        row = updates[name]
        assert abs(row["Keras 3: weight after"] - row["w0 (1 − ηλ) − η step"]) < tolerance, name
        assert row["rate after"] == pytest.approx(eta)  # "only the weights decay"
    # Keras 2's spelling: no decay of the weight
    row = updates["SGD(decay=0.2)"]
    assert abs(row["Keras 3: weight after"] - row["w0 − η step"]) < tolerance
    assert row["rate after"] == pytest.approx(eta)
    # the glued numbers of the prose
    assert values["migration_wd_shrink"] == pytest.approx(eta * wd * w0)
    other = float(values["migration_wd_other_order"])
    assert other == pytest.approx((w0 - eta * gradient) * (1 - eta * wd))
    # "the other order ... is not what Keras computes": it lies far outside the rounding
    assert abs(updates["SGD(weight_decay=0.2)"]["Keras 3: weight after"] - other) > 100 * tolerance
    # "... decay the weights by default (weight_decay=0.004); the others only when given one"
    defaults = values["migration_default_weight_decay"]
    assert values["migration_default_decayers_value"] == [0.004]
    assert defaults["SGD"] is None and defaults["Adam"] is None and defaults["AdamW"] == 0.004
    named = [name for name, value in defaults.items() if value is not None]
    assert values["migration_default_decayers"] == " and ".join(f"`{name}`" for name in named)


def test_clipnorm_clips_each_variable_and_global_clipnorm_all_together(values):
    steps = values["migration_clip_steps"]
    rtol = 4 * float(np.finfo(np.float32).eps)  # a few float32 roundings of each element
    gradient = np.array([3.0, 4.0, 12.0])

    def whole(step):
        return np.array(step["kernel"] + step["bias"])

    np.testing.assert_allclose(whole(steps["no clipping"]), gradient, rtol=rtol)
    # clipnorm: each variable to norm 1, the whole step to norm sqrt(2), and a new direction
    clipnorm = steps["clipnorm=1"]
    np.testing.assert_allclose(whole(clipnorm), [0.6, 0.8, 1.0], rtol=rtol)
    assert clipnorm["norm of the kernel's step"] == pytest.approx(1, rel=rtol)
    assert clipnorm["norm of the bias's step"] == pytest.approx(1, rel=rtol)
    assert clipnorm["norm of the whole step"] == pytest.approx(np.sqrt(2), rel=rtol)
    unclipped = steps["no clipping"]  # "the bias, whose gradient was more than twice the kernel's"
    assert unclipped["norm of the bias's step"] > 2 * unclipped["norm of the kernel's step"]
    # global_clipnorm: the gradient divided by 13: norm 1, same direction
    global_step = whole(steps["global_clipnorm=1"])
    np.testing.assert_allclose(global_step, gradient / 13, rtol=rtol)
    assert steps["global_clipnorm=1"]["norm of the whole step"] == pytest.approx(1, rel=rtol)
    cosine = global_step @ gradient / np.linalg.norm(global_step) / np.linalg.norm(gradient)
    assert cosine == pytest.approx(1, abs=rtol)


def test_a_schedule_with_rate_setting_callbacks_raises_the_set_lr_error(values):
    errors = values["migration_schedule_errors"]
    for name, error in errors.items():
        assert error["type"] == "TypeError", name
        assert error["message"] == values["migration_set_lr_error"], name  # "the same message"
        assert "not settable" in error["message"]
    assert errors["LearningRateScheduler"]["epochs"] == 0  # "before the first epoch trains"
    assert errors["ReduceLROnPlateau"]["epochs"] == 2  # "at its first cut, ... the end of the second epoch"


def test_tf_keras_is_keras_3_and_the_legacy_switch_needs_tf_keras(values):
    import keras

    facts = values["migration_tf_keras"]
    assert facts["version"] == keras.__version__ and facts["version"].startswith("3.")
    assert facts["is_keras"] is False and facts["same_classes"] is True  # "not the module keras itself ... same classes"
    assert facts["name"] == "keras._tf_keras.keras"
    assert any(requirement.startswith("keras>=3") for requirement in facts["requires"])  # "requires Keras 3"
    probe = values["migration_legacy_probe"]
    assert f"import keras: {keras.__version__}" in probe["stdout"]  # "import keras stays Keras 3"
    if not facts["tf_keras_installed"]:  # "Without tf_keras, as here, the variable breaks tf.keras"
        assert "tf.keras: ImportError" in probe["stdout"]
        assert probe["warning"] and "TF_USE_LEGACY_KERAS" in probe["warning"][0]
