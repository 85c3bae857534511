"""The fast training path against plain ``model.fit``.

For each setting and seed, ``fit`` trains the same model (the same initial
weights) on the same batches in the same order as the package's engine (a
``tf.data`` pipeline replays the engine's shuffles), so the two differ only in
how the arithmetic is scheduled; ``fit`` validates on the validation split, as
the engine does (callbacks that monitor ``val_loss`` see the same data), and
both are scored on the test split at the end. The means over seeds of the
final test loss and accuracy must agree within a tolerance, and the same comparison must FAIL
when ``fit`` gets a learning rate three times larger: the tolerance is tight
enough that a real difference breaks it.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import lrnotes as ln
from replay import engine_batches
import keras

SEEDS = [0, 1, 2, 3, 4]
EPOCHS = 15


def _fit_final(config: ln.RunConfig, seed: int) -> tuple[float, float]:
    dataset = config.dataset
    model = ln.build_model(config.model, dataset, seed)
    model.compile(optimizer=config.make_optimizer(), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        engine_batches(config, seed), epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
        shuffle=False, verbose=0,
        validation_data=(dataset.x_val, dataset.y_val),
        callbacks=[copy.deepcopy(callback) for callback in config.callbacks],
    )
    assert len(history.history["val_loss"]) == config.epochs
    loss, accuracy = model.evaluate(dataset.x_test, dataset.y_test, batch_size=len(dataset.x_test), verbose=0)
    return loss, accuracy


def _ours_final(config: ln.RunConfig) -> np.ndarray:
    last = ln.final(ln.train_many(config, SEEDS))
    return last[["test_loss", "test_accuracy"]].to_numpy()


def _agree(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Mean final test loss within 0.01 and mean final test accuracy within 0.01."""
    loss_gap, accuracy_gap = np.abs(ours.mean(axis=0) - theirs.mean(axis=0))
    return bool(loss_gap < 0.01 and accuracy_gap < 0.01)


SETTINGS = {
    "sgd": ln.RunConfig(optimizer="sgd", learning_rate=0.01, epochs=EPOCHS),
    "momentum": ln.RunConfig(optimizer="sgd", learning_rate=0.01, options={"momentum": 0.9}, epochs=EPOCHS),
    "adam": ln.RunConfig(optimizer="adam", learning_rate=0.001, epochs=EPOCHS),
    "schedule": ln.RunConfig(
        optimizer="sgd",
        learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.05, decay_steps=1, decay_rate=0.01),
        epochs=EPOCHS,
    ),
    "plateau": ln.RunConfig(
        optimizer="sgd", learning_rate=0.05, epochs=EPOCHS,
        callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=2, min_delta=1e-7)],
    ),
}


def _tripled(config: ln.RunConfig) -> ln.RunConfig:
    rate = config.learning_rate
    if isinstance(rate, keras.optimizers.schedules.InverseTimeDecay):
        rate = keras.optimizers.schedules.InverseTimeDecay(
            rate.initial_learning_rate * 3, decay_steps=rate.decay_steps, decay_rate=rate.decay_rate
        )
    else:
        rate = rate * 3
    return config.replace(learning_rate=rate)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_fast_path_agrees_with_fit(name):
    config = SETTINGS[name]
    ours = _ours_final(config)
    theirs = np.array([_fit_final(config, seed) for seed in SEEDS])
    assert _agree(ours, theirs), (name, ours.mean(axis=0), theirs.mean(axis=0))
    # negative control: fit at three times the rate is told apart
    faster = np.array([_fit_final(_tripled(config), seed) for seed in SEEDS])
    assert not _agree(ours, faster), (name, ours.mean(axis=0), faster.mean(axis=0))
