"""Schedules: closed forms against the Keras objects that implement them."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import lrnotes as ln
from lrnotes import schedules
import keras


def test_inverse_time_decay_is_time_based_decay():
    steps = np.arange(0, 5000, 7)
    for decay in (1e-1, 1e-2, 1e-3, 1e-4):
        schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=decay)
        keras_rates = np.array([float(schedule(step)) for step in steps])
        closed = schedules.time_based_decay(0.01, decay, steps)
        np.testing.assert_allclose(keras_rates, closed, rtol=2e-7)  # float32 precision
        legacy = schedules.legacy_decay(0.01, decay)
        assert float(legacy(1234)) == float(schedule(1234))


def test_recursive_form_is_not_what_keras_does():
    recursive = schedules.recursive_time_based_decay(0.1, 0.001, 10)
    assert recursive[0] == 0.1
    for epoch in range(1, 10):
        assert math.isclose(recursive[epoch], recursive[epoch - 1] / (1 + 0.001 * epoch))
    # counted per epoch, the closed form decays more slowly than the recursion
    assert (schedules.time_based_decay(0.1, 0.001, np.arange(10))[2:] > recursive[2:]).all()


def test_step_decay_matches_its_formula_and_drives_the_scheduler():
    for epoch in range(100):
        assert schedules.step_decay(epoch) == 0.1 * 0.5 ** math.floor((1 + epoch) / 10)
    config = ln.RunConfig(learning_rate=0.1, epochs=25, callbacks=[schedules.scheduler(schedules.step_decay)])
    record = ln.train(config, seed=0)
    # the rate in effect during epoch e (0-based) is step_decay(e); the record is 1-based
    expected = [schedules.step_decay(epoch - 1) for epoch in range(1, 26)]
    np.testing.assert_allclose(record["learning_rate"].iloc[1:], expected, rtol=1e-6)


def test_exponential_schedule_equals_the_callback_epoch_by_epoch():
    steps_per_epoch = 16
    schedule = schedules.exponential_decay_schedule(0.1, 0.1, steps_per_epoch)
    for epoch in range(30):
        for step in (0, 7, 15):
            assert math.isclose(float(schedule(epoch * steps_per_epoch + step)),
                                schedules.exponential_decay(epoch), rel_tol=1e-6)
    np.testing.assert_allclose(schedules.exponential_decay(np.arange(3), 0.1, 0.1), 0.1 * np.exp(-0.1 * np.arange(3)))


def test_keras3_ignores_the_removed_decay_argument():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = keras.optimizers.SGD(learning_rate=0.01, decay=0.1)
    assert any("decay" in str(warning.message) for warning in caught)
    optimizer.iterations.assign(1000)
    assert float(optimizer.learning_rate) == pytest.approx(0.01)  # not 0.01 / (1 + 0.1 * 1000)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: schedules.time_based_decay(-0.1, 0.1, [0]), "lr0 must be a positive number"),
        (lambda: schedules.time_based_decay(0.1, -1, [0]), "decay must be a non-negative number"),
        (lambda: schedules.recursive_time_based_decay(0.1, 0.1, 0), "epochs must be a positive integer"),
        (lambda: schedules.step_decay(1, epochs_drop=0), "epochs_drop must be a positive integer"),
        (lambda: schedules.exponential_decay(1, lr0="0.1"), "lr0 must be a number"),
    ],
)
def test_bad_schedule_arguments_name_the_parameter(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# Warmup-stable-decay ---------------------------------------------------------

WSD_CASES = [
    dict(peak_learning_rate=0.1, total_steps=200, warmup_steps=20, decay_steps=40, floor=0.0, shape="linear"),
    dict(peak_learning_rate=0.3, total_steps=160, warmup_steps=0, decay_steps=32, floor=0.003, shape="cosine"),
    dict(peak_learning_rate=1.0, total_steps=97, warmup_steps=7, decay_steps=30, floor=0.01, shape="sqrt"),
    dict(peak_learning_rate=0.05, total_steps=50, warmup_steps=10, decay_steps=0, floor=0.0, shape="linear"),
]


@pytest.mark.parametrize("case", WSD_CASES, ids=lambda case: case["shape"] + str(case["decay_steps"]))
def test_warmup_stable_decay_follows_its_closed_form(case):
    schedule = ln.WarmupStableDecay(**case)
    steps = np.arange(case["total_steps"] + 10)
    ours = ln.schedule_rates(schedule, steps)
    expected = ln.wsd_rate(steps, **case)
    # float32 evaluation of a float64 formula: a few ulps of the peak (cosine and sqrt round twice more)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=8 * np.finfo(np.float32).eps * case["peak_learning_rate"])
    start = case["total_steps"] - case["decay_steps"]
    warmup = case["warmup_steps"]
    assert ours[0] == (0.0 if warmup else np.float32(case["peak_learning_rate"]))
    assert (ours[warmup:start] == np.float32(case["peak_learning_rate"])).all()  # the plateau is the peak, exactly
    assert ours[case["total_steps"]:] == pytest.approx(case["floor"], abs=1e-9)
    assert (np.diff(ours[start:]) <= 0).all()  # the decay never rises


def test_a_wsd_schedule_is_the_same_run_until_its_decay_starts():
    """Runs of different budgets share every update before the earlier decay: the branch-and-decay premise."""
    short = ln.WarmupStableDecay(0.1, total_steps=100, warmup_steps=10, decay_steps=20)
    long = ln.WarmupStableDecay(0.1, total_steps=300, warmup_steps=10, decay_steps=60)
    steps = np.arange(short.decay_start)
    np.testing.assert_array_equal(ln.schedule_rates(short, steps), ln.schedule_rates(long, steps))
    assert ln.schedule_rates(short, [short.decay_start + 1])[0] < ln.schedule_rates(long, [short.decay_start + 1])[0]


def test_wsd_is_serialisable_and_keys_the_cache():
    schedule = ln.WarmupStableDecay(0.1, total_steps=100, warmup_steps=10, decay_fraction=0.25, shape="cosine")
    assert schedule.decay_steps == 25
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    copy = keras.optimizers.SGD.from_config(optimizer.get_config())
    assert copy.get_config() == optimizer.get_config()
    base = ln.RunConfig(learning_rate=schedule)
    other = ln.RunConfig(learning_rate=ln.WarmupStableDecay(0.1, total_steps=100, warmup_steps=10,
                                                            decay_fraction=0.25, shape="sqrt"))
    assert ln.run_key(base, 0) != ln.run_key(other, 0)
    assert ln.run_key(base, 0) == ln.run_key(ln.RunConfig(learning_rate=ln.WarmupStableDecay.from_config(
        schedule.get_config())), 0)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(peak_learning_rate=0.0, total_steps=10), "peak_learning_rate must be a positive number"),
        (dict(peak_learning_rate=0.1, total_steps=0), "total_steps"),
        (dict(peak_learning_rate=0.1, total_steps=10, warmup_steps=6, decay_steps=5),
         "warmup_steps \\+ decay_steps must be at most total_steps"),
        (dict(peak_learning_rate=0.1, total_steps=10, floor=0.2), "floor must be at most peak_learning_rate"),
        (dict(peak_learning_rate=0.1, total_steps=10, decay_fraction=1.5), "decay_fraction"),
        (dict(peak_learning_rate=0.1, total_steps=10, shape="exp"), "unknown shape 'exp'"),
    ],
)
def test_wsd_refuses_bad_settings_naming_them(arguments, message):
    with pytest.raises(ValueError, match=message):
        ln.WarmupStableDecay(**arguments)
