"""Traced stacks are reused across stacks of the same structure, and reuse changes no record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import keras
import lrnotes as ln
from lrnotes import traced_stack
from lrnotes.engine_stacked import SlotRates, StackedDense, clear_traces, trace_count

DETERMINISTIC = [column for column in ln.RECORD_COLUMNS if column != "seconds"]
EPOCHS = 3


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b), what
    for column in DETERMINISTIC:
        assert np.array_equal(a[column].to_numpy(), b[column].to_numpy(), equal_nan=True), (what, column)


def _decay() -> keras.optimizers.schedules.LearningRateSchedule:
    return keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)


C = ln.RunConfig
# name: (configurations of one stack, seeds, and a stack of the same structure that trains first
# with other seeds and rates, so a reused graph starts from someone else's weights, rates and state)
CASES = {
    "sgd alone": ([C(learning_rate=0.01, epochs=EPOCHS)], [0], ([C(learning_rate=0.3, epochs=2)], [5])),
    "sgd 5 seeds": ([C(learning_rate=0.01, epochs=EPOCHS)], [0, 1, 2, 3, 4],
                    ([C(learning_rate=0.2, epochs=1)], [9, 8, 7, 6, 5])),
    "rates side by side": ([C(learning_rate=rate, epochs=EPOCHS) for rate in (1.0, 0.1, 0.01)], [0, 1],
                           ([C(learning_rate=rate, epochs=1) for rate in (0.5, 0.2, 0.3)], [3, 4])),
    "momentum": ([C(learning_rate=0.05, options={"momentum": 0.9}, epochs=EPOCHS)], [3],
                 ([C(learning_rate=0.5, options={"momentum": 0.9}, epochs=2)], [0])),
    "nesterov": ([C(learning_rate=0.05, options={"momentum": 0.9, "nesterov": True}, epochs=EPOCHS)], [0, 1],
                 ([C(learning_rate=0.01, options={"momentum": 0.9, "nesterov": True}, epochs=1)], [2, 3])),
    "adam": ([C(optimizer="adam", learning_rate=0.01, epochs=EPOCHS)], [0],
             ([C(optimizer="adam", learning_rate=0.1, epochs=2)], [1])),
    "adamw": ([C(optimizer="adamw", learning_rate=0.01, options={"weight_decay": 0.05}, epochs=EPOCHS)], [0, 2],
              ([C(optimizer="adamw", learning_rate=0.2, options={"weight_decay": 0.05}, epochs=1)], [1, 3])),
    "rmsprop": ([C(optimizer="rmsprop", learning_rate=0.003, epochs=EPOCHS)], [1],
                ([C(optimizer="rmsprop", learning_rate=0.03, epochs=2)], [0])),
    "nadam": ([C(optimizer="nadam", epochs=EPOCHS)], [0], ([C(optimizer="nadam", learning_rate=0.1, epochs=2)], [1])),
    "schedule-free adamw": ([C(optimizer="schedule_free_adamw", learning_rate=0.01, epochs=EPOCHS)], [0, 1],
                            ([C(optimizer="schedule_free_adamw", learning_rate=0.1, epochs=1)], [2, 3])),
    "schedule": ([C(learning_rate=_decay(), epochs=EPOCHS)], [0], ([C(learning_rate=_decay(), epochs=2)], [4])),
    "l2": ([C(learning_rate=0.05, model=ln.MLP(l2=1e-3), epochs=EPOCHS)], [0, 1, 2],
           ([C(learning_rate=0.5, model=ln.MLP(l2=1e-3), epochs=1)], [3, 4, 5])),
    "gradient accumulation": ([C(learning_rate=0.05, options={"gradient_accumulation_steps": 3}, epochs=EPOCHS)], [0],
                              ([C(learning_rate=0.5, options={"gradient_accumulation_steps": 3}, epochs=1)], [1])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_reused_graph_gives_the_record_of_a_fresh_trace(name):
    configs, seeds, (other_configs, other_seeds) = CASES[name]
    clear_traces()
    fresh = ln.train_stacked(configs, seeds)
    traces = trace_count()
    ln.train_stacked(other_configs, other_seeds)  # same structure: trains through the same graph
    reused = ln.train_stacked(configs, seeds)
    assert trace_count() == traces, "a stack of the same structure traced anew"
    for config, a, b in zip(configs, fresh, reused):
        _assert_same(a, b, f"{name}, rate {config.learning_rate}")


def test_a_lone_run_reuses_the_graph_and_equals_its_row_in_a_stack():
    config = C(learning_rate=0.02, epochs=EPOCHS)
    ln.train(config, seed=0)
    traces = trace_count()
    alone = ln.train(config.replace(learning_rate=0.07), seed=6)
    assert trace_count() == traces
    stacked = ln.train_many(config.replace(learning_rate=0.07), [3, 6])
    _assert_same(alone, stacked[stacked["seed"] == 6].reset_index(drop=True), "seed 6 alone and in a stack")


def test_what_changes_the_graph_traces_anew():
    base = C(learning_rate=0.1, epochs=1)
    ln.train(base, seed=0)
    count = trace_count()
    same_structure = [base.replace(learning_rate=0.3), base.replace(epochs=2), base.replace(batch_size=20)]
    for config in same_structure:  # batch 20 is padded to the width of 32
        ln.train(config, seed=1)
    assert trace_count() == count
    others = [
        base.replace(batch_size=16),  # another batch width
        base.replace(model=ln.MLP(hidden=(20,))),  # other shapes
        base.replace(model=ln.MLP(l2=1e-4)),  # another loss
        base.replace(options={"momentum": 0.5}),  # other optimizer settings
        base.replace(optimizer="adam"),  # another optimizer
        base.replace(learning_rate=_decay()),  # a schedule is part of the graph
        base.replace(data="ionosphere"),  # other data
    ]
    for config in others:
        before = trace_count()
        ln.train(config, seed=0)
        assert trace_count() == before + 1, config
        ln.train(config, seed=1)
        assert trace_count() == before + 1, config
    before = trace_count()
    ln.train_many(base, [0, 1, 2])  # three rows, not two
    assert trace_count() == before + 1


def test_an_engine_still_alive_keeps_its_graph_to_itself():
    config = C(learning_rate=0.1, epochs=2)
    first = StackedDense([config], [0])
    first.run()
    weights = first.slot_weights(0)
    before = trace_count()
    second = StackedDense([config.replace(learning_rate=0.5)], [1])
    second.run()
    assert trace_count() == before + 1  # the kept graph belongs to `first`, which is still alive
    for a, b in zip(weights, first.slot_weights(0)):
        assert np.array_equal(a, b)
    model = first.keras_model(0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))


def test_the_cache_keeps_at_most_trace_cache_size_graphs(monkeypatch):
    monkeypatch.setattr(traced_stack, "TRACE_CACHE_SIZE", 2)
    clear_traces()
    configs = [C(learning_rate=0.1, epochs=1, model=ln.MLP(hidden=(units,))) for units in (5, 6, 7)]
    for config in configs:
        ln.train(config, seed=0)
    assert len(traced_stack._STACKS) == 2
    before = trace_count()
    ln.train(configs[2], seed=1)  # kept
    assert trace_count() == before
    ln.train(configs[0], seed=1)  # least recently used: dropped
    assert trace_count() == before + 1


def test_a_stack_that_cannot_be_described_is_never_reused(monkeypatch):
    def cannot_describe(obj, *, name="object"):
        raise TypeError(f"cannot fingerprint {name}")

    monkeypatch.setattr(traced_stack, "digest", cannot_describe)
    config = C(learning_rate=0.05, epochs=1)
    ln.train(config, seed=0)
    before = trace_count()
    ln.train(config, seed=0)
    assert trace_count() == before + 1


def test_slot_rates_refuse_rates_that_would_change_the_graph():
    rates = SlotRates([0.1, 0.2], seeds=2)
    rates.set_rates([0.3], seeds=3, spare=1)  # four rows of constants: same graph
    np.testing.assert_array_equal(rates(0).numpy().ravel(), np.float32([0.3, 0.3, 0.3, 0.3]))
    with pytest.raises(ValueError, match="same kind"):
        rates.set_rates([0.3], seeds=3)
    with pytest.raises(ValueError, match="same kind"):
        rates.set_rates([_decay(), 0.1], seeds=2)
    scheduled = SlotRates([_decay(), 0.1], seeds=2)
    with pytest.raises(ValueError, match="same configurations"):
        scheduled.set_rates([_decay(), 0.1], seeds=1, spare=2)
