"""The learning-rate monitor and current_learning_rate, under a float and under a schedule."""

from __future__ import annotations

import numpy as np
import pytest

import lrnotes as ln
import keras


def _fit(optimizer, callbacks, epochs=4):
    model = ln.testbed_model(seed=0)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    blobs = ln.load_blobs()
    return model.fit(blobs.x_train[:64], blobs.y_train[:64], batch_size=16, epochs=epochs, verbose=0,
                     validation_data=(blobs.x_test, blobs.y_test), callbacks=callbacks)


def test_monitor_under_a_float_rate():
    monitor = ln.LearningRateMonitor()
    history = _fit(keras.optimizers.SGD(learning_rate=0.05), [monitor])
    assert monitor.rates == [0.05] * 4
    assert history.history["learning_rate"] == [0.05] * 4


def test_monitor_under_a_schedule_follows_the_iterations():
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
    monitor = ln.LearningRateMonitor()
    _fit(keras.optimizers.SGD(learning_rate=schedule), [monitor])
    # 4 updates per epoch (64 examples, batch 16): after epoch e, iterations = 4e
    expected = [0.1 / (1 + 0.5 * 4 * epoch) for epoch in range(1, 5)]
    np.testing.assert_allclose(monitor.rates, expected, rtol=1e-6)


def test_monitor_sees_reduce_lr_on_plateau_when_last():
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e6)
    monitor = ln.LearningRateMonitor()
    _fit(keras.optimizers.SGD(learning_rate=0.1), [plateau, monitor], epochs=3)
    # min_delta=1e6 means no epoch counts as an improvement: the rate halves after every epoch but the first
    np.testing.assert_allclose(monitor.rates, [0.1, 0.05, 0.025], rtol=1e-6)


def test_current_learning_rate_reads_float32_cleanly_and_rejects_non_optimizers():
    assert ln.current_learning_rate(keras.optimizers.Adam(learning_rate=1e-3)) == 0.001
    with pytest.raises(TypeError, match="Keras optimizer"):
        ln.current_learning_rate("adam")
