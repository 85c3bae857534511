"""The one-cycle schedule: values at its key steps, the closed form, training, serialization, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrnotes as ln
import keras
from lrnotes.one_cycle import OneCycle, one_cycle_rate


def _rates(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


@pytest.mark.parametrize("annealing", ["cos", "linear"])
def test_values_at_the_key_steps(annealing):
    schedule = OneCycle(0.8, total_steps=201, warmup_fraction=0.25, initial_divisor=20, final_divisor=100,
                        annealing=annealing)
    assert schedule.peak_step == 50 and schedule.last_step == 200
    start, top, end = 0.8 / 20, 0.8, 0.8 / 20 / 100
    np.testing.assert_allclose(_rates(schedule, [0, 50, 200, 1000]), [start, top, end, end], rtol=1e-6)
    # half way through each phase: the midpoint, for both shapes
    np.testing.assert_allclose(_rates(schedule, [25, 125]), [(start + top) / 2, (top + end) / 2], rtol=1e-6)
    # a quarter of the way: the cosine ramp is still near its start, the linear one a quarter along
    quarter = float(schedule(12.5))
    expected = start + (top - start) * ((1 - math.cos(math.pi / 4)) / 2 if annealing == "cos" else 0.25)
    assert quarter == pytest.approx(expected, rel=1e-6)


def test_rises_then_falls_and_matches_the_closed_form():
    schedule = OneCycle(1.0, total_steps=400)
    steps = np.arange(0, 450)
    rates = _rates(schedule, steps)
    peak = int(np.argmax(rates))
    assert peak in (math.floor(schedule.peak_step), math.ceil(schedule.peak_step))
    assert np.all(np.diff(rates[: peak + 1]) >= 0) and np.all(np.diff(rates[peak:]) <= 1e-9)
    np.testing.assert_allclose(rates, one_cycle_rate(steps, 1.0, 400), rtol=1e-4)  # float32 arithmetic


def test_no_warmup_starts_at_the_maximum():
    schedule = OneCycle(0.5, total_steps=11, warmup_fraction=0.0)
    assert float(schedule(0)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(0.5 / 25 / 1e4)


def test_serialization_round_trip():
    schedule = OneCycle(0.3, total_steps=1000, warmup_fraction=0.4, initial_divisor=10, final_divisor=1e3,
                        annealing="linear", name="cycle")
    config = schedule.get_config()
    assert OneCycle.from_config(config).get_config() == config
    serialized = keras.optimizers.schedules.serialize(schedule)
    assert serialized["registered_name"] == "lrnotes>OneCycle"
    restored = keras.optimizers.schedules.deserialize(serialized)
    assert isinstance(restored, OneCycle) and restored.get_config() == config
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    again = keras.optimizers.SGD.from_config(optimizer.get_config())
    np.testing.assert_allclose(_rates(again._learning_rate, [0, 400, 999]), _rates(schedule, [0, 400, 999]))


def test_trains_on_the_testbed_side_by_side():
    schedule = OneCycle(0.2, total_steps=5 * 16)
    config = ln.RunConfig(learning_rate=schedule, epochs=5)
    assert ln.can_stack(config)
    records = ln.train_many(config, seeds=[0, 1])
    last = records[records["epoch"] == 5]
    np.testing.assert_allclose(last["learning_rate"], float(schedule(80)), rtol=1e-5)
    assert (last["test_accuracy"] > 0.6).all()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"max_learning_rate": 0.0}, ValueError, "max_learning_rate"),
        ({"max_learning_rate": "big"}, TypeError, "max_learning_rate"),
        ({"total_steps": 1}, ValueError, "total_steps"),
        ({"total_steps": 10.5}, TypeError, "total_steps"),
        ({"warmup_fraction": 1.0}, ValueError, "warmup_fraction"),
        ({"warmup_fraction": -0.1}, ValueError, "warmup_fraction"),
        ({"initial_divisor": 0.5}, ValueError, "initial_divisor"),
        ({"final_divisor": math.inf}, ValueError, "final_divisor"),
        ({"annealing": "cosine"}, ValueError, "annealing"),
    ],
)
def test_bad_arguments_name_the_parameter(arguments, error, message):
    values = {"max_learning_rate": 0.1, "total_steps": 100, **arguments}
    with pytest.raises(error, match=message):
        OneCycle(**values)


def test_schedule_rates_evaluates_any_schedule_in_one_graph():
    from lrnotes.one_cycle import schedule_rates

    cosine = keras.optimizers.schedules.CosineDecay(0.0, 90, warmup_target=0.5, warmup_steps=10)
    steps = np.arange(0, 120, 7)
    np.testing.assert_allclose(schedule_rates(cosine, steps), _rates(cosine, steps), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(schedule_rates(OneCycle(0.3, 50), steps), _rates(OneCycle(0.3, 50), steps), rtol=1e-5)
    assert schedule_rates(0.05, np.arange(3)).tolist() == [0.05] * 3
    with pytest.raises(TypeError, match="schedule must be"):
        schedule_rates("cosine", np.arange(3))
    with pytest.raises(ValueError, match="steps must be"):
        schedule_rates(cosine, np.linspace(0, 1, 3))
