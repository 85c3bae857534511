"""The Hessian and its largest eigenvalue (sharpness), against finite differences and each other."""

from __future__ import annotations

import numpy as np
import pytest

import keras
import lrnotes as ln
from lrnotes import curvature


def _tiny_float64_model(seed: int = 0) -> keras.Model:
    """A smooth (tanh) 2-3-3 network in float64, so finite differences are accurate."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((2,), dtype="float64"),
        keras.layers.Dense(3, activation="tanh", dtype="float64"),
        keras.layers.Dense(3, activation="softmax", dtype="float64"),
    ])


def _gradient(model, x, y) -> np.ndarray:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, model(x)))
    return np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, model.trainable_variables)])


def test_the_hessian_matches_central_differences_of_the_gradient():
    data = ln.load_blobs()
    x, y = data.x_train[:40].astype(np.float64), data.y_train[:40].astype(np.float64)
    model = _tiny_float64_model()
    weights = [w.copy() for w in model.get_weights()]
    flat = np.concatenate([w.ravel() for w in weights])
    h = 1e-5

    def gradient_at(point):
        parts, offset = [], 0
        for w in weights:
            parts.append(point[offset: offset + w.size].reshape(w.shape))
            offset += w.size
        model.set_weights(parts)
        return _gradient(model, x, y)

    columns = []
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = h
        columns.append((gradient_at(flat + step) - gradient_at(flat - step)) / (2 * h))
    numeric = np.stack(columns, axis=1)
    model.set_weights(weights)
    exact = ln.hessian(model, x, y)
    # float64: truncation h**2 * |4th derivative| / 6 ~ 1e-11 and rounding eps * |g| / h ~ 1e-11, far below 1e-7
    np.testing.assert_allclose(exact, numeric, rtol=0, atol=1e-7 * np.abs(exact).max())
    assert np.abs(exact).max() > 1e-3  # a real check: the Hessian is not negligible


def test_the_l2_term_adds_twice_its_coefficient_on_the_kernels_diagonal():
    data = ln.load_blobs()
    plain = ln.MLP().build(data, 0)
    regularised = ln.MLP(l2=0.01).build(data, 0)
    difference = ln.hessian(regularised, data.x_train, data.y_train) - ln.hessian(plain, data.x_train, data.y_train)
    sizes = [int(np.prod(v.shape)) for v in plain.trainable_variables]
    kernel = np.concatenate([np.full(size, index % 2 == 0) for index, size in enumerate(sizes)])
    expected = np.diag(np.where(kernel, 2 * 0.01, 0.0))
    # two float32 Hessians of entries up to ~40: a few float32 ulps of that
    np.testing.assert_allclose(difference, expected, rtol=0, atol=1e-5)


def test_lanczos_finds_the_largest_eigenvalue_of_the_exact_hessian():
    data = ln.load_blobs()
    _, trained = ln.train_with_model(ln.RunConfig(learning_rate=0.1, epochs=5), 0)
    for model in (ln.testbed_model(0), trained):
        exact = ln.sharpness(model, data.x_train, data.y_train)
        top3 = ln.sharpness(model, data.x_train, data.y_train, top=3)
        assert top3[0] == pytest.approx(exact) and top3[0] >= top3[1] >= top3[2]
        lanczos = ln.sharpness(model, data.x_train, data.y_train, method="lanczos")
        # ARPACK's tolerance is relative; float32 Hessian-vector products add ~1e-6
        assert lanczos == pytest.approx(exact, rel=10 * curvature.LANCZOS_TOLERANCE)


def test_sharpness_along_a_run_is_the_sharpness_of_its_weights_then():
    config = ln.RunConfig(batch_size=None, learning_rate=0.5, epochs=4)
    record = ln.sharpness_along(config, 0, every=2)
    assert record["sharpness"].notna().tolist() == [True, False, True, False, True]
    np.testing.assert_allclose(record["edge"], 2 / record["learning_rate"])
    data = config.dataset
    monitor = ln.SharpnessMonitor(data.x_train, data.y_train, every=100)  # same path (a callback), no measurement
    _, model = ln.train_with_model(config.replace(epochs=2, callbacks=[monitor]), 0)
    exact = ln.sharpness(model, data.x_train, data.y_train)
    assert record.loc[record["epoch"] == 2, "sharpness"].item() == pytest.approx(exact, rel=1e-4)
    assert monitor.values.keys() == {0}


def test_bad_input_is_refused_naming_the_parameter():
    data = ln.load_blobs()
    model = ln.testbed_model(0)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        ln.hessian("model", data.x_train, data.y_train)
    with pytest.raises(ValueError, match="same positive number of examples"):
        ln.hessian(model, data.x_train[:3], data.y_train[:4])
    with pytest.raises(ValueError, match="unknown method"):
        ln.sharpness(model, data.x_train, data.y_train, method="power")
    with pytest.raises(ValueError, match="top must be 1"):
        ln.sharpness(model, data.x_train, data.y_train, top=2, method="lanczos")
    wide = ln.MLP(hidden=(2000,)).build(data, 0)
    with pytest.raises(ValueError, match="at most 5000"):
        ln.hessian(wide, data.x_train, data.y_train)
    with pytest.raises(TypeError, match="config must be a RunConfig"):
        ln.sharpness_along("config")


def test_a_run_at_a_very_large_rate_is_measured_to_its_end():
    """Rate 8, full batch: the weights stay finite but the Hessian nearly vanishes along a constant vector."""
    record = ln.sharpness_along(ln.RunConfig(batch_size=None, learning_rate=8.0, epochs=30), 0, every=1)
    finite = ~record["diverged"]
    assert record.loc[finite, "sharpness"].notna().all()
    assert record.loc[~finite, "sharpness"].isna().all()
