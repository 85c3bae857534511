"""Convolutional networks trained side by side: each row through its own convolutions.

A row of a CNN stack runs the same operations on tensors of the same shapes
whatever the number of rows (:func:`lrnotes.stacked_forward.forward_per_row`),
so its record is bit for bit the record it gets alone. Agreement with
``model.fit`` is checked update by update in ``tests/test_fit_equivalence.py``
(its two CNN cases).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lrnotes as ln
from lrnotes.engine_keras import KerasRun

CNN = ln.CNN(filters=(4, 8), dense=16)
BASE = ln.RunConfig(data="digits_images", model=CNN, learning_rate=0.05, epochs=4, batch_size=64)


def _without_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="seconds").reset_index(drop=True)


@pytest.mark.parametrize(
    "configs",
    [
        [BASE, BASE.replace(learning_rate=0.01)],
        [BASE.replace(optimizer="adam", learning_rate=0.003)],
        [BASE.replace(callbacks=[ln.scheduler(ln.step_decay, lr0=0.05, drop=0.5, epochs_drop=2)])],
    ],
    ids=["sgd, two rates", "adam", "step decay by a callback"],
)
def test_a_cnn_run_in_a_stack_equals_the_run_alone(configs):
    assert all(ln.can_stack(config) for config in configs)
    records = ln.train_stacked(configs, [2, 0, 1])
    for config, record in zip(configs, records):
        for seed in (0, 1):
            alone = ln.train(config, seed)
            pd.testing.assert_frame_equal(_without_time(record[record["seed"] == seed]), _without_time(alone),
                                          check_exact=True)


def test_a_stacked_cnn_trains_as_a_real_keras_model():
    """The same runs through a real ``keras.Model``: close numbers (float32 rounding in another order), same rates."""
    config = BASE.replace(learning_rate=0.01)
    records = ln.train_many(config, [0, 1])
    for seed in (0, 1):
        ours = records[records["seed"] == seed]
        theirs = KerasRun(config, seed).run()
        np.testing.assert_array_equal(ours["learning_rate"], theirs["learning_rate"])
        np.testing.assert_allclose(ours["val_loss"], theirs["val_loss"], rtol=1e-5)
        # and the tolerance sees a real difference: another seed's run is far off
    other = KerasRun(config, 2).run()
    assert not np.allclose(records[records["seed"] == 0]["val_loss"], other["val_loss"], rtol=1e-5)


def test_the_trained_weights_come_back_as_a_keras_model():
    config = BASE.replace(epochs=2)
    record, model = ln.train_with_model(config, 0)
    dataset = config.dataset
    loss, accuracy = model.compile(loss="categorical_crossentropy", metrics=["accuracy"]) or model.evaluate(
        dataset.x_test, dataset.y_test, batch_size=len(dataset.x_test), verbose=0)
    np.testing.assert_allclose(loss, record["test_loss"].iloc[-1], rtol=1e-5)
    assert accuracy == pytest.approx(record["test_accuracy"].iloc[-1])
