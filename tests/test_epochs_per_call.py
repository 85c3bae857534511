"""A stack without callbacks trains several epochs per call of its graph, with the records of one epoch per call."""

from __future__ import annotations

import math

import numpy as np
import pytest

import keras
import lrnotes as ln
from lrnotes.engine_stacked import StackedDense

DETERMINISTIC = [column for column in ln.RECORD_COLUMNS if column != "seconds"]
C = ln.RunConfig


def _decay() -> keras.optimizers.schedules.LearningRateSchedule:
    return keras.optimizers.schedules.ExponentialDecay(0.2, decay_steps=7, decay_rate=0.5)


# name: (configurations of one stack, seeds); 7 epochs, so calls of 3 epochs leave a remainder
CASES = {
    "sgd, rates side by side": ([C(learning_rate=rate, epochs=7) for rate in (0.3, 0.01)], [0, 1]),
    "one seed (with its spare row)": ([C(learning_rate=0.05, epochs=7)], [4]),
    "a schedule, read at each epoch's last update": ([C(learning_rate=_decay(), epochs=7)], [0, 1]),
    "a schedule with gradient accumulation": (
        [C(learning_rate=_decay(), options={"gradient_accumulation_steps": 3}, epochs=7)], [2]),
    "adam, a batch that does not divide the data, l2": (
        [C(optimizer="adam", learning_rate=0.01, batch_size=48, model=ln.MLP(l2=1e-3), epochs=7)], [0, 1, 2]),
    "a rate that diverges": ([C(learning_rate=50.0, epochs=7)], [0, 1]),
    "binary data": ([C(data="ionosphere", learning_rate=0.05, epochs=7)], [0, 1]),
    "cnn": ([C(data="digits_images", model=ln.CNN(filters=(4,), dense=8), batch_size=128, epochs=7)], [0, 1]),
}


def _train(configs, seeds, monkeypatch, per_call: int | None):
    """The records of the stack, with ``per_call`` epochs per call (None: the engine's choice), and the calls made."""
    calls = []
    original = StackedDense._epochs

    def counted(self, orders):
        calls.append(orders.shape[0])
        return original(self, orders)

    with monkeypatch.context() as patch:
        patch.setattr(StackedDense, "_epochs", counted)
        if per_call is not None:
            patch.setattr(StackedDense, "_epochs_per_call", lambda self: per_call)
        records = ln.train_stacked(configs, seeds)
    return records, calls


@pytest.mark.parametrize("name", list(CASES))
def test_several_epochs_per_call_give_the_records_of_one_per_call(name, monkeypatch):
    configs, seeds = CASES[name]
    one, calls_one = _train(configs, seeds, monkeypatch, per_call=1)
    several, calls_several = _train(configs, seeds, monkeypatch, per_call=None)
    threes, calls_threes = _train(configs, seeds, monkeypatch, per_call=3)
    assert calls_one == [1] * 7
    assert calls_threes == [3, 3, 1]
    assert len(calls_several) < 7, "the engine trained one epoch per call"
    for record_one, record_several, record_threes in zip(one, several, threes):
        for column in DETERMINISTIC:
            expected = record_one[column].to_numpy()
            assert np.array_equal(record_several[column].to_numpy(), expected, equal_nan=True), (name, column)
            assert np.array_equal(record_threes[column].to_numpy(), expected, equal_nan=True), (name, column)
    if name == "a rate that diverges":
        assert all(record["diverged"].any() for record in several)
    if name.startswith("a schedule"):
        assert all(record["learning_rate"].nunique() > 2 for record in several)


def test_progress_adds_up_when_epochs_train_in_calls():
    reported = []
    configs = [C(learning_rate=rate, epochs=9) for rate in (0.1, 0.01, 0.001)]
    ln.train_stacked(configs, [0, 1], on_epoch=reported.append)
    assert math.isclose(sum(reported), 6)
    assert 1 <= len(reported) < 9


def test_a_call_hands_back_at_most_about_32_megabytes():
    engine = StackedDense([C(learning_rate=rate, epochs=200) for rate in (1.0, 0.1, 0.01, 0.001)],
                          list(range(10)))
    per_call = engine._epochs_per_call()
    rows, examples = engine.variable.shape[0], engine._stack.eval_rows
    assert 1 < per_call < 200
    # two float32 outputs [epochs, rows, examples]: the per-example losses and hits
    assert 2 * 4 * per_call * rows * examples <= 33 * 2**20


def test_after_epoch_sees_every_epoch_s_own_state():
    config = C(learning_rate=0.05, epochs=6)
    engine = StackedDense([config], [0, 1])
    seen = []
    record = engine.run(after_epoch=lambda epoch: seen.append((epoch, int(engine.optimizer.iterations.numpy()),
                                                                 engine.variable.numpy()[:2].copy())))
    assert [epoch for epoch, _, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert [updates for _, updates, _ in seen] == [epoch * config.steps_per_epoch for epoch in range(1, 7)]
    assert all(not np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(seen, seen[1:]))  # the weights moved
    alone = ln.train_stacked([config], [0, 1])[0]
    for column in DETERMINISTIC:
        assert np.array_equal(record.drop(columns="slot")[column].to_numpy(), alone[column].to_numpy(), equal_nan=True)
