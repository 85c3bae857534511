"""The learning-rate range test: its schedule, stopping, suggestions, both training paths, bad input."""

from __future__ import annotations

import copy
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lrnotes as ln  # noqa: E402
import keras  # noqa: E402
from lrnotes.range_test import LearningRateRangeTest, RangeTestRun  # noqa: E402


def _probe():
    blobs = ln.load_blobs()
    return blobs.x_train, blobs.y_train


def _compiled_testbed(seed=0, optimizer=None):
    model = ln.testbed_model(seed=seed)
    model.compile(optimizer=optimizer or keras.optimizers.SGD(learning_rate=0.01), loss="categorical_crossentropy")
    return model


def _synthetic_run(rates, losses):
    return RangeTestRun(list(rates), list(losses), list(losses), "probe")


# ---------------------------------------------------------------------- schedule


def test_rates_grow_exponentially_from_start_to_stop():
    finder = LearningRateRangeTest(1e-6, 1.0, steps=13)
    rates = np.array([finder.rate(step) for step in range(13)])
    assert rates[0] == pytest.approx(1e-6) and rates[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(rates[1:] / rates[:-1], 10 ** 0.5, rtol=1e-9)  # constant ratio: exponential
    assert finder.rate(100) == pytest.approx(1.0)  # stays at the stop rate
    assert finder.epochs_needed(16) == 1 and LearningRateRangeTest(steps=100).epochs_needed(16) == 7


def test_the_optimizer_gets_the_scheduled_rate_every_batch_under_fit():
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(ln.current_learning_rate(self.model.optimizer))

    blobs = ln.load_blobs()
    finder = LearningRateRangeTest(1e-4, 1e-1, steps=10, divergence=math.inf, probe=_probe())
    model = _compiled_testbed()
    model.fit(blobs.x_train[:160], blobs.y_train[:160], batch_size=16, epochs=3, verbose=0, callbacks=[finder, Spy()])
    expected = [finder.rate(step) for step in range(10)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)  # float32 variable
    np.testing.assert_allclose(finder.rates, expected)
    assert finder.stop_reason == "completed" and len(finder.losses) == 10
    assert model.stop_training


# ---------------------------------------------------------------------- stopping


def test_stops_when_the_loss_explodes():
    blobs = ln.load_blobs()
    finder = LearningRateRangeTest(1e-3, 1e4, steps=60, probe=_probe())
    model = _compiled_testbed()
    model.fit(blobs.x_train, blobs.y_train, batch_size=32, epochs=10, verbose=0, callbacks=[finder])
    assert finder.stop_reason == "diverged"
    assert len(finder.rates) < 60  # it stopped before the last step
    smoothed = np.asarray(finder.smoothed)
    last = smoothed[-1]
    assert not np.isfinite(last) or last > 4 * smoothed[:-1].min()
    assert np.all(smoothed[:-1] <= 4 * np.minimum.accumulate(smoothed[:-1]))  # no earlier point triggered


def test_out_of_epochs_is_reported():
    blobs = ln.load_blobs()
    finder = LearningRateRangeTest(1e-6, 1e-5, steps=50, probe=_probe())
    _compiled_testbed().fit(blobs.x_train[:64], blobs.y_train[:64], batch_size=32, epochs=2, verbose=0,
                            callbacks=[finder])
    assert finder.stop_reason == "out of epochs" and len(finder.rates) == 4


def test_smoothing_is_bias_corrected_exponential_averaging():
    finder = LearningRateRangeTest(1e-3, 1.0, steps=10, smoothing=0.5, divergence=math.inf)
    finder._run = RangeTestRun()
    finder._average, finder._best = 0.0, math.inf
    for loss in (4.0, 2.0, 1.0):
        finder._add(0.1, loss)
    # avg: 2, 2, 1.5; corrections 1/(1 - 0.5), 1/(1 - 0.25), 1/(1 - 0.125)
    np.testing.assert_allclose(finder._run.smoothed, [4.0, 2.0 / 0.75, 1.5 / 0.875])


# ---------------------------------------------------------------------- suggestions


def test_suggestions_on_a_synthetic_curve():
    rates = np.logspace(-6, 1, 71)  # 10 points per decade
    position = np.log10(rates)
    # flat at 2, falls fastest at 1e-2 (a logistic in log rate), explodes above 1
    losses = 2.0 - 1.5 / (1.0 + np.exp(-3.0 * (position + 2.0))) + np.where(rates > 1.0, 50 * (position - 0.0), 0.0)
    run = _synthetic_run(rates, losses)
    assert run.suggestion("steepest") == pytest.approx(1e-2, rel=1e-6)
    lowest = rates[np.argmin(losses)]
    assert run.suggestion("minimum") == pytest.approx(lowest / 10)
    assert run.suggestion() == run.suggestion("steepest")  # the default rule


def test_suggestion_needs_a_recorded_run_and_a_known_rule():
    finder = LearningRateRangeTest()
    with pytest.raises(ValueError, match="has not run yet"):
        finder.suggestion()
    with pytest.raises(ValueError, match="at least 3"):
        _synthetic_run([0.1, 0.2], [1.0, 0.5]).suggestion()
    with pytest.raises(ValueError, match="rule must be one of"):
        _synthetic_run([0.1, 0.2, 0.3], [1.0, 0.5, 0.4]).suggestion("valley")


def test_plot_marks_the_suggestion_on_a_log_axis():
    rates = np.logspace(-4, 0, 20)
    run = _synthetic_run(rates, 1.0 / (1.0 + 100 * rates))
    fig, ax = plt.subplots()
    assert run.plot(ax) is ax
    assert ax.get_xscale() == "log"
    vertical = [line for line in ax.get_lines() if np.ptp(line.get_xdata()) == 0]
    assert vertical and vertical[0].get_xdata()[0] == pytest.approx(run.suggestion())
    frame = run.frame()
    assert list(frame.columns) == ["step", "learning_rate", "loss", "smoothed_loss"] and len(frame) == 20
    fig, ax = plt.subplots()
    run.plot(ax, rule=["steepest", "minimum"], raw=False)
    marks = sorted(line.get_xdata()[0] for line in ax.get_lines() if np.ptp(line.get_xdata()) == 0)
    assert marks == pytest.approx(sorted([run.suggestion("steepest"), run.suggestion("minimum")]))
    plt.close("all")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        run.plot(ax="left")
    with pytest.raises(ValueError, match="rule must be one of"):
        run.plot(rule="valley")
    plt.close("all")


# ---------------------------------------------------------------------- both training paths


def test_under_ln_train_the_callback_you_hold_collects_every_run():
    finder = LearningRateRangeTest(1e-5, 10.0, steps=48, probe=_probe())
    config = ln.RunConfig(learning_rate=1e-5, epochs=10, callbacks=[finder])
    records = ln.train_many(config, seeds=[0, 1])
    assert len(finder.runs) == 2  # the deep copies reported to the original
    assert all(run.source == "probe" and run.stop_reason in ("completed", "diverged") for run in finder.runs)
    assert finder.runs[0].losses != finder.runs[1].losses
    assert all(1e-5 < run.suggestion() < 10.0 for run in finder.runs)
    # training stopped with the test, after at most 48 updates (3 epochs), not after 10 epochs
    assert records.groupby("seed")["epoch"].max().le(3).all()
    copied = copy.deepcopy(finder)
    assert copied.runs is finder.runs and copied is not finder


def test_probe_loss_after_an_update_is_the_models_loss():
    x, y = _probe()
    finder = LearningRateRangeTest(1e-3, 1e-2, steps=3, probe=(x, y), divergence=math.inf)
    model = _compiled_testbed()
    initial = float(keras.losses.CategoricalCrossentropy()(y, model(x)))
    model.fit(x, y, batch_size=100, epochs=1, verbose=0, callbacks=[finder])
    assert finder.runs[-1].initial_loss == pytest.approx(initial, rel=1e-5)
    after = float(keras.losses.CategoricalCrossentropy()(y, model(x)))
    assert finder.losses[-1] == pytest.approx(after, rel=1e-5)


def test_batch_losses_are_recovered_from_the_running_mean_under_fit():
    """With rates too small to move the weights, batch b's loss is the initial model's loss on batch b."""
    x, y = _probe()
    x, y = x[:100], y[:100]  # 4 batches of 25 per epoch
    model = _compiled_testbed()
    per_batch = [float(keras.losses.CategoricalCrossentropy()(y[i:i + 25], model(x[i:i + 25]))) for i in range(0, 100, 25)]
    finder = LearningRateRangeTest(1e-12, 1e-11, steps=8, divergence=math.inf)
    model.fit(x, y, batch_size=25, epochs=2, shuffle=False, verbose=0, callbacks=[finder])
    assert finder.runs[-1].source == "batches"
    # the last batch of each epoch is left out (its size, hence its weight in the mean, is unknown)
    np.testing.assert_allclose(finder.losses, per_batch[:3] * 2, rtol=1e-4)
    np.testing.assert_allclose(finder.rates, [finder.rate(k) for k in (0, 1, 2, 4, 5, 6)])


def test_batch_losses_under_ln_train_skip_the_short_last_batch():
    finder = LearningRateRangeTest(1e-6, 1e-2, steps=32)  # two epochs of 16 batches (the last has 20 examples)
    ln.train(ln.RunConfig(learning_rate=1e-6, epochs=2, callbacks=[finder]), seed=0)
    assert finder.stop_reason == "completed"
    assert len(finder.losses) == 30 and np.isfinite(finder.losses).all()
    assert finder.smoothing == 0.98  # the default without a probe


def test_a_schedule_instead_of_a_float_rate_is_refused():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    blobs = ln.load_blobs()
    model = _compiled_testbed(optimizer=keras.optimizers.SGD(learning_rate=schedule))
    with pytest.raises(TypeError, match="float learning_rate"):
        model.fit(blobs.x_train[:32], blobs.y_train[:32], epochs=1, verbose=0,
                  callbacks=[LearningRateRangeTest(probe=_probe())])


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"start_rate": 0.0}, ValueError, "start_rate"),
        ({"start_rate": "small"}, TypeError, "start_rate"),
        ({"stop_rate": math.nan}, ValueError, "stop_rate"),
        ({"start_rate": 1.0, "stop_rate": 0.1}, ValueError, "stop_rate must be greater than start_rate"),
        ({"steps": 2}, ValueError, "steps"),
        ({"steps": 10.0}, TypeError, "steps"),
        ({"smoothing": 1.0}, ValueError, "smoothing"),
        ({"smoothing": -0.1}, ValueError, "smoothing"),
        ({"divergence": 1.0}, ValueError, "divergence"),
        ({"divergence": True}, TypeError, "divergence"),
        ({"probe": np.zeros((4, 2))}, TypeError, "probe"),
        ({"probe": (np.zeros((4, 2)), np.zeros((3, 3)))}, ValueError, "probe"),
    ],
)
def test_bad_arguments_name_the_parameter(arguments, error, message):
    with pytest.raises(error, match=message):
        LearningRateRangeTest(**arguments)


def test_epochs_needed_checks_its_argument():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        LearningRateRangeTest().epochs_needed(0)
