"""Runs with callbacks trained side by side, each row with its own callbacks.

The standard is the dense stack's: a run's record inside a stack is bit for
bit the record it gets alone. Both go through the same kernels with the same
shapes per row (a lone run has a spare row, see ``MIN_ROWS``), so the
arithmetic guarantees it on any CPU; the callbacks decide on identical
numbers, so they decide alike. Agreement with ``model.fit`` itself is
checked update by update in ``tests/test_fit_equivalence.py`` (its plateau,
scheduler and early-stopping cases train stacked, alone and in a stack).
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

import lrnotes as ln
from lrnotes.engine_keras import KerasRun
from lrnotes.engine_stacked import StackedDense
from lrnotes.row_callbacks import RowModel, callbacks_refusal

SEEDS = [0, 1, 2]
BASE = ln.RunConfig(learning_rate=0.05, epochs=20)


def _configs() -> dict[str, ln.RunConfig]:
    return {
        "plateau": BASE.replace(callbacks=[keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=1, min_delta=1e-3)]),
        "early stopping, restored": BASE.replace(learning_rate=0.2, callbacks=[keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=2, min_delta=1e-3, restore_best_weights=True)]),
        "step decay": BASE.replace(callbacks=[ln.scheduler(ln.step_decay, lr0=0.1, drop=0.5, epochs_drop=5)]),
        "early stopping on accuracy": BASE.replace(callbacks=[keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=3)]),
    }


@pytest.fixture(scope="module")
def stacked():
    configs = _configs()
    progress: list[float] = []
    records = ln.train_stacked(list(configs.values()), SEEDS, on_epoch=progress.append)
    return configs, dict(zip(configs, records)), progress


def _without_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="seconds").reset_index(drop=True)


def test_every_configuration_stacks(stacked):
    configs, _, _ = stacked
    assert all(ln.can_stack(config) for config in configs.values())


@pytest.mark.parametrize("name", list(_configs()))
def test_a_run_in_the_stack_equals_the_run_alone(stacked, name):
    configs, records, _ = stacked
    for seed in SEEDS:
        alone = ln.train(configs[name], seed)
        ours = records[name][records[name]["seed"] == seed]
        pd.testing.assert_frame_equal(_without_time(ours), _without_time(alone), check_exact=True)


def test_the_callbacks_acted_differently_per_row(stacked):
    """The comparison above is only a check of per-row state if the rows do differ."""
    _, records, _ = stacked
    lengths = records["early stopping on accuracy"].groupby("seed").size()
    assert lengths.nunique() > 1, lengths  # the seeds stop at different epochs
    assert lengths.max() < BASE.epochs + 1 or lengths.min() < BASE.epochs + 1
    plateau = records["plateau"]
    assert (plateau["learning_rate"] < 0.05).any()  # the plateau cut the rate
    cuts = plateau.groupby("seed")["learning_rate"].apply(lambda rates: tuple(rates))
    assert cuts.nunique() > 1, cuts  # at different epochs for different seeds
    step = records["step decay"]
    assert sorted(set(step["learning_rate"].round(8))) == [0.00625, 0.0125, 0.025, 0.05, 0.1]


def test_progress_adds_up_to_the_runs(stacked):
    configs, _, progress = stacked
    assert sum(progress) == pytest.approx(len(configs) * len(SEEDS))


def test_the_templates_are_untouched(stacked):
    configs, _, _ = stacked
    for config in configs.values():
        for callback in config.callbacks:
            assert getattr(callback, "_model", None) is None


def test_restored_weights_in_a_stack_equal_those_alone():
    config = _configs()["early stopping, restored"]
    engine = StackedDense([config], SEEDS)
    record = engine.run()
    for slot, seed in enumerate(SEEDS):
        _, model = ln.train_with_model(config, seed)
        for ours, alone in zip(engine.slot_weights(slot), model.get_weights()):
            np.testing.assert_array_equal(ours, alone)
    # and restoring did something: without it, the run ends on other weights
    kept = config.replace(callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=1e-3)])
    _, unrestored = ln.train_with_model(kept, SEEDS[0])
    assert any(not np.array_equal(a, b) for a, b in zip(engine.slot_weights(0), unrestored.get_weights()))
    assert record.groupby("seed").size().max() < config.epochs + 1  # every seed stopped early


def test_a_stacked_run_decides_as_a_real_keras_model():
    """Against the one-seed-at-a-time engine (a real ``keras.Model``): same stops and rates, close numbers.

    The two compute in another order, so numbers differ by float32 rounding
    (compare ``tests/test_fit_equivalence.py``); ``min_delta`` is chosen
    far from every change the runs make, so no decision sits on a rounding
    error.
    """
    calm = BASE.replace(learning_rate=0.01, epochs=8)  # a stable run: rounding differences do not grow
    plateau = calm.replace(callbacks=[keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=0, min_delta=1e3)])
    stop = calm.replace(callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=1e3)])
    for config in (plateau, stop):
        for seed in SEEDS[:2]:
            ours = ln.train(config, seed)
            theirs = KerasRun(config, seed).run().drop(columns="slot")
            assert len(ours) == len(theirs)
            np.testing.assert_array_equal(ours["learning_rate"], theirs["learning_rate"])
            np.testing.assert_allclose(ours["val_loss"], theirs["val_loss"], rtol=1e-4)


def test_accuracy_is_maximised_in_auto_mode():
    config = BASE.replace(epochs=2, callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy")])
    engine = StackedDense([config], SEEDS[:2])
    engine.run()
    callback = engine._lists[0].callbacks[0]
    assert callback.monitor_op is keras.ops.greater


@pytest.mark.parametrize(
    "callback",
    [keras.callbacks.TerminateOnNaN(), keras.callbacks.ModelCheckpoint("unused.keras"), ln.LearningRateMonitor(),
     type("Quieter", (keras.callbacks.EarlyStopping,), {})()],
    ids=["batch hooks", "saves a model", "reads the optimizer", "a subclass"],
)
def test_other_callbacks_train_one_seed_at_a_time(callback):
    config = BASE.replace(callbacks=[callback])
    assert not ln.can_stack(config)
    assert "not one of the callbacks that train side by side" in ln.stack_refusal(config)


def test_callbacks_with_a_schedule_train_one_seed_at_a_time():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    config = BASE.replace(learning_rate=schedule, callbacks=[keras.callbacks.EarlyStopping()])
    assert "constant rate" in callbacks_refusal(config.callbacks, schedule)
    assert not ln.can_stack(config)
    assert ln.can_stack(config.replace(callbacks=[]))


def test_a_row_takes_only_float_rates_and_its_own_shapes():
    config = BASE.replace(epochs=1)
    engine = StackedDense([config], SEEDS[:2])
    row = RowModel(engine, 1)
    row.optimizer.learning_rate = 0.3
    assert engine.slot_rates.rate_of(1) == np.float32(0.3)
    assert engine.slot_rates.rate_of(0) == np.float32(0.05)  # the other row keeps its own
    with pytest.raises(TypeError, match="float learning rate"):
        row.optimizer.learning_rate = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    with pytest.raises(ValueError, match="set_weights needs 4 arrays"):
        row.set_weights(row.get_weights()[:2])
    weights = [np.full_like(w, 0.5) for w in row.get_weights()]
    row.set_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(engine.slot_weights(1), weights))
    assert not np.array_equal(engine.slot_weights(0)[0], weights[0])
