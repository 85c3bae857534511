"""Every row of the Keras 2 → 3 table of ``book/keras_migration.ipynb``, run in the installed Keras.

Each test runs a row's Keras 3 form (and the old spelling, where the row
says what it does) and checks that it does what the table says. A future Keras or
scikit-learn that changes one of them fails here, so the appendix cannot
drift from the software the book runs on. The last tests check that the
notebook's table and this file cover the same items.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import re
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import nbformat
import numpy as np
import pytest

import lrnotes as ln
import lrnotes._runtime  # noqa: F401  (TensorFlow set up before the first Keras operation, also when run alone)
import keras

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "book" / "keras_migration.ipynb"
LR0 = 0.01

#: Items of the table that a test below runs (filled by ``covers``).
COVERED: set[str] = set()


def covers(item: str):
    """Register the decorated test as the check of table row ``item``."""

    def register(function):
        COVERED.add(item)
        return function

    return register


@pytest.fixture(scope="module")
def blobs():
    return ln.load_blobs()


def _model(seed: int = 0, metrics=("accuracy",)) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(2,)),
            keras.layers.Dense(8, activation="relu", kernel_initializer="he_uniform"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR0), loss="categorical_crossentropy",
                  metrics=list(metrics))
    return model


@pytest.fixture(scope="module")
def trained(blobs):
    model = _model()
    history = model.fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val),
                        epochs=2, batch_size=100, verbose=0)
    return model, history


def _apply_unit_gradients(optimizer, steps: int) -> float:
    """Apply ``steps`` updates with gradient 1 to a weight starting at 0; return the weight."""
    weight = keras.Variable(0.0)
    for _ in range(steps):
        optimizer.apply([keras.ops.ones(())], [weight])
    return float(weight.numpy())


# --------------------------------------------------------------------------
# Optimizers


@covers("lr")
def test_lr_is_spelled_learning_rate():
    with pytest.raises(ValueError, match="not recognized"):
        keras.optimizers.SGD(**{"lr": LR0})
    with pytest.raises(ValueError, match="not recognized"):  # any unknown keyword but `decay`
        keras.optimizers.Adam(learning_rate=LR0, **{"nesterov_momentum": 0.9})
    assert float(keras.optimizers.SGD(learning_rate=LR0).learning_rate) == pytest.approx(LR0)


@covers("decay")
def test_decay_warns_and_is_ignored():
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        ignored = keras.optimizers.SGD(learning_rate=LR0, decay=0.1)
    # Five updates with gradient 1 move the weight by five times the constant rate.
    assert _apply_unit_gradients(ignored, 5) == pytest.approx(-5 * LR0, rel=1e-6)
    assert float(ignored.learning_rate) == pytest.approx(LR0)


@covers("decay")
def test_inverse_time_decay_is_keras2_decay():
    decay = 0.1
    # Keras 2 used lr0 / (1 + decay * iterations), iterations counted before the update.
    keras2 = sum(LR0 / (1 + decay * t) for t in range(5))
    schedule = keras.optimizers.schedules.InverseTimeDecay(LR0, decay_steps=1, decay_rate=decay)
    assert _apply_unit_gradients(keras.optimizers.SGD(learning_rate=schedule), 5) == pytest.approx(-keras2, rel=1e-6)
    assert _apply_unit_gradients(keras.optimizers.SGD(learning_rate=ln.legacy_decay(LR0, decay)), 5) == pytest.approx(
        -keras2, rel=1e-6
    )


@pytest.mark.parametrize("decay", [1e-1, 1e-2, 1e-3, 1e-4])
def test_inverse_time_decay_matches_the_formula_to_float32_precision(decay):
    t = np.arange(100_001)
    schedule = keras.optimizers.schedules.InverseTimeDecay(LR0, decay_steps=1, decay_rate=decay)
    rates = keras.ops.convert_to_numpy(schedule(t)).astype(np.float64)
    exact = LR0 / (1.0 + decay * t)
    # Keras rounds lr0, decay, decay * t, 1 + decay * t and the quotient to float32 (t <= 2**24 is exact),
    # each by at most half an epsilon: at most 2.5 epsilon in all, to first order.
    assert np.max(np.abs(rates - exact) / exact) < 2.5 * np.finfo(np.float32).eps


@covers("weight-decay")
def test_weight_decay_shrinks_the_weights_before_the_step_and_leaves_the_rate():
    w0, eta, wd = 2.0, 0.1, 0.2

    def one_update(optimizer, gradient):
        weight = keras.Variable(w0)
        optimizer.apply([keras.ops.convert_to_tensor(gradient)], [weight])
        return float(weight.numpy())

    sgd = keras.optimizers.SGD(learning_rate=eta, weight_decay=wd)
    # first w * (1 - eta * wd), then the step with the gradient of the old weight
    assert one_update(sgd, 1.0) == pytest.approx(w0 * (1 - eta * wd) - eta, rel=1e-6)
    assert one_update(keras.optimizers.SGD(learning_rate=eta, weight_decay=wd), 1.0) != pytest.approx(
        (w0 - eta) * (1 - eta * wd), rel=1e-4)  # not the other order
    assert float(sgd.learning_rate) == pytest.approx(eta)  # the rate does not decay
    # AdamW with a zero gradient: Adam's step is 0, only the decay acts
    assert one_update(keras.optimizers.AdamW(learning_rate=eta, weight_decay=wd), 0.0) == pytest.approx(
        w0 * (1 - eta * wd), rel=1e-6)
    # the decay uses the rate of this update: a schedule at update 1 (rate eta / 2)
    scheduled = keras.optimizers.SGD(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(eta, decay_steps=1, decay_rate=0.5), weight_decay=wd)
    weight = keras.Variable(w0)
    scheduled.apply([keras.ops.zeros(())], [weight])  # update 0: rate eta
    scheduled.apply([keras.ops.zeros(())], [weight])  # update 1: rate eta / 2
    assert float(weight.numpy()) == pytest.approx(w0 * (1 - eta * wd) * (1 - eta / 2 * wd), rel=1e-6)
    # Keras 2's decay= is no weight decay: ignored (with a warning), the weight takes the plain step
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        ignored = keras.optimizers.SGD(learning_rate=eta, decay=wd)
    assert one_update(ignored, 1.0) == pytest.approx(w0 - eta, rel=1e-6)


@covers("weight-decay")
def test_only_some_optimizers_decay_the_weights_by_default():
    defaults = {name: inspect.signature(getattr(keras.optimizers, name)).parameters["weight_decay"].default
                for name in dir(keras.optimizers)
                if isinstance(getattr(keras.optimizers, name), type)
                and "weight_decay" in inspect.signature(getattr(keras.optimizers, name)).parameters}
    assert defaults["SGD"] is None and defaults["Adam"] is None and defaults["AdamW"] == 0.004
    # the page: those that decay by default use 0.004
    assert {value for value in defaults.values() if value is not None} == {0.004}


@covers("read-lr")
def test_learning_rate_is_read_from_learning_rate():
    optimizer = keras.optimizers.SGD(learning_rate=LR0)
    assert not hasattr(optimizer, "lr")
    assert not hasattr(keras.backend, "get_value")
    assert float(optimizer.learning_rate) == pytest.approx(LR0)
    scheduled = keras.optimizers.SGD(learning_rate=ln.legacy_decay(LR0, 1e-3))
    scheduled.iterations.assign(1000)
    assert float(scheduled.learning_rate) == pytest.approx(LR0 / 2, rel=1e-6)  # the rate of the next update


@covers("set-lr")
def test_learning_rate_is_set_by_assignment():
    assert not hasattr(keras.backend, "set_value")
    optimizer = keras.optimizers.SGD(learning_rate=LR0)
    optimizer.learning_rate = LR0 / 10
    assert float(optimizer.learning_rate) == pytest.approx(LR0 / 10)
    assert _apply_unit_gradients(optimizer, 1) == pytest.approx(-LR0 / 10, rel=1e-6)
    scheduled = keras.optimizers.SGD(learning_rate=ln.legacy_decay(LR0, 1e-3))
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = LR0


@covers("legacy")
def test_legacy_optimizers_import_but_cannot_be_created():
    legacy = importlib.import_module("keras.optimizers.legacy")
    for name in ("SGD", "Adam", "RMSprop", "Adagrad"):
        with pytest.raises(ImportError, match="not supported in Keras 3"):
            getattr(legacy, name)(learning_rate=LR0)
    assert isinstance(keras.optimizers.SGD(learning_rate=LR0), keras.optimizers.Optimizer)


@covers("defaults")
def test_changed_default_learning_rates():
    # The Keras 2 side is the package's table of multi-backend Keras 2.3 defaults (keras/optimizers.py of
    # Keras 2.3.1), which no test can check without Keras 2; the Keras 3 side is read from the installed Keras.
    keras2 = ln.KERAS2_DEFAULT_LEARNING_RATES
    changed = {name for name in keras2 if ln.default_learning_rate(name) != keras2[name]}
    assert changed == {"adagrad", "adadelta", "adamax", "nadam"}
    for name in changed:
        assert ln.default_learning_rate(name) < keras2[name]
    for name in keras2:  # the helper reads what a default-constructed optimizer really uses
        assert float(ln.OPTIMIZERS[name]().learning_rate) == pytest.approx(ln.default_learning_rate(name))
        # the Keras 3 form: pass the old rate explicitly
        assert float(ln.OPTIMIZERS[name](learning_rate=keras2[name]).learning_rate) == pytest.approx(keras2[name])


@covers("clipnorm")
def test_clipnorm_clips_each_variable_and_global_clipnorm_all_together():
    layer = keras.layers.Dense(1, kernel_initializer="zeros")
    layer.build((None, 2))
    gradients = [np.array([[3.0], [4.0]], dtype="float32"), np.array([12.0], dtype="float32")]

    def step(**clipping):
        for variable in layer.trainable_variables:
            variable.assign(keras.ops.zeros_like(variable))
        keras.optimizers.SGD(learning_rate=1.0, **clipping).apply(gradients, layer.trainable_variables)
        return np.concatenate([-keras.ops.convert_to_numpy(v).ravel() for v in layer.trainable_variables])

    rtol = 4 * np.finfo(np.float32).eps
    np.testing.assert_allclose(step(), [3, 4, 12], rtol=rtol)
    np.testing.assert_allclose(step(clipnorm=1.0), [0.6, 0.8, 1.0], rtol=rtol)  # each variable to norm 1
    np.testing.assert_allclose(step(global_clipnorm=1.0), np.array([3, 4, 12]) / 13, rtol=rtol)  # all together
    np.testing.assert_allclose(step(clipvalue=1.0), [1, 1, 1], rtol=rtol)
    with pytest.raises(ValueError, match="Only one of"):
        keras.optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)


@covers("clipnorm")
def test_the_package_trains_clipped_runs_as_keras_does():
    # a run with global_clipnorm cannot stack (the norm would mix the runs): it trains through a keras.Model
    config = ln.RunConfig(optimizer="sgd", learning_rate=1.0, options={"global_clipnorm": 1.0}, epochs=1)
    assert not ln.can_stack(config)
    assert config.make_optimizer().global_clipnorm == 1.0 and config.make_optimizer().clipnorm is None


# --------------------------------------------------------------------------
# Training, history and predictions


@covers("history-acc")
def test_history_keys_follow_the_metric_name(blobs, trained):
    _, history = trained
    assert {"accuracy", "val_accuracy", "loss", "val_loss"} == set(history.history)
    with pytest.raises(KeyError):
        history.history["acc"]
    short = _model(metrics=("acc",)).fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val),
                                         epochs=1, batch_size=250, verbose=0)
    assert {"acc", "val_acc"} <= set(short.history)


def _monitoring(kind: str, folder: Path, monitor: str, **kwargs):
    """A callback of ``kind`` that acts at the first epoch without a gain of 1.0 in ``monitor``."""
    if kind == "EarlyStopping":
        return keras.callbacks.EarlyStopping(monitor=monitor, patience=0, min_delta=1.0, **kwargs)
    if kind == "ReduceLROnPlateau":
        return keras.callbacks.ReduceLROnPlateau(monitor=monitor, patience=0, min_delta=1.0, factor=0.5, **kwargs)
    return keras.callbacks.ModelCheckpoint(folder / "best.keras", monitor=monitor, save_best_only=True, **kwargs)


MONITORING = ("EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint")


def _fit_monitored(blobs, callback, epochs=3):
    model = _model()
    history = model.fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val), batch_size=250,
                        epochs=epochs, verbose=0, callbacks=[callback])
    return model, history


@covers("monitor-acc")
@pytest.mark.parametrize("kind", MONITORING)
def test_callbacks_reject_val_acc_and_maximise_val_accuracy(blobs, tmp_path, kind):
    with pytest.raises(ValueError, match=f"{kind} callback received monitor=val_acc"):
        _fit_monitored(blobs, _monitoring(kind, tmp_path, "val_acc"), epochs=1)
    # The Keras 3 form: the name is found, maximised, and the callback acts.
    callback = _monitoring(kind, tmp_path, "val_accuracy")
    model, history = _fit_monitored(blobs, callback)
    assert callback.monitor_op is keras.ops.greater
    if kind == "EarlyStopping":
        assert len(history.history["loss"]) == 2  # stopped at the first epoch without a gain of 1.0
    elif kind == "ReduceLROnPlateau":
        assert float(model.optimizer.learning_rate) == pytest.approx(LR0 * 0.5**2)  # cut at epochs 2 and 3
    else:
        assert callback.best == pytest.approx(max(history.history["val_accuracy"]))
        assert (tmp_path / "best.keras").is_file()


@covers("monitor-acc")
@pytest.mark.parametrize("kind", MONITORING)
def test_with_a_mode_a_missing_monitor_only_warns(blobs, tmp_path, kind):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, history = _fit_monitored(blobs, _monitoring(kind, tmp_path, "val_acc", mode="max"))
    missing = [w for w in caught if re.search(r"\bval_acc\b", str(w.message))]
    assert len(missing) >= 3, [str(w.message) for w in caught]  # a warning every epoch
    if kind == "EarlyStopping":
        assert len(history.history["loss"]) == 3  # never stops
    elif kind == "ReduceLROnPlateau":
        assert float(model.optimizer.learning_rate) == pytest.approx(LR0)  # never cuts the rate
    else:
        # ModelCheckpoint falls back to saving every epoch: the file holds the last epoch's model, not the best.
        reloaded = keras.models.load_model(tmp_path / "best.keras")
        np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(blobs.x_val)),
                                   keras.ops.convert_to_numpy(model(blobs.x_val)), rtol=1e-6)


@covers("fit-generator")
def test_fit_takes_generators(blobs):
    model = _model()
    for name in ("fit_generator", "evaluate_generator", "predict_generator"):
        assert not hasattr(model, name)

    def batches(rng=np.random.default_rng(0)):
        while True:
            index = rng.integers(0, len(blobs.x_train), 32)
            yield blobs.x_train[index], blobs.y_train[index]

    history = model.fit(batches(), steps_per_epoch=4, epochs=2, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2
    assert set(model.evaluate(batches(), steps=3, verbose=0, return_dict=True)) == {"loss", "accuracy"}
    inputs = ((x,) for x, _ in batches())  # predict takes (inputs,) tuples
    assert model.predict(inputs, steps=3, verbose=0).shape == (3 * 32, 3)


@covers("predict-classes")
def test_predicted_classes_are_the_argmax(blobs, trained):
    model, _ = trained
    assert not hasattr(model, "predict_classes")
    # The arg-max recipe gives the accuracy that Keras itself reports.
    classes = np.argmax(model.predict(blobs.x_test, verbose=0), axis=-1)
    reported = model.evaluate(blobs.x_test, blobs.y_test, verbose=0, return_dict=True)["accuracy"]
    assert np.mean(classes == blobs.labels("test")) == pytest.approx(reported, abs=0.5 / len(blobs.x_test))
    # One sigmoid unit: the 0.5-threshold recipe agrees with Keras' BinaryAccuracy.
    keras.utils.set_random_seed(0)
    binary = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    binary.compile(optimizer=keras.optimizers.SGD(learning_rate=LR0), loss="binary_crossentropy",
                   metrics=[keras.metrics.BinaryAccuracy(threshold=0.5)])
    targets = (blobs.labels("train") == 0).astype("float32")
    binary.fit(blobs.x_train, targets, epochs=2, batch_size=100, verbose=0)
    test_targets = (blobs.labels("test") == 0).astype("int32")
    labels = (binary.predict(blobs.x_test, verbose=0) > 0.5).astype("int32")[:, 0]
    reported = binary.evaluate(blobs.x_test, test_targets, verbose=0, return_dict=True)["binary_accuracy"]
    assert np.mean(labels == test_targets) == pytest.approx(reported, abs=0.5 / len(blobs.x_test))


@covers("input-dim")
def test_input_dim_warns_and_input_layer_does_not():
    with pytest.warns(UserWarning, match="Input"):
        old = keras.Sequential([keras.layers.Dense(50, input_dim=2), keras.layers.Dense(3)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        new = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(50), keras.layers.Dense(3)])
    assert not [w for w in caught if "input_shape" in str(w.message) or "input_dim" in str(w.message)]
    assert old.input_shape == new.input_shape == (None, 2)


@covers("nb-epoch")
def test_nb_epoch_is_spelled_epochs(blobs):
    model = _model()
    with pytest.raises(TypeError, match="nb_epoch"):
        model.fit(blobs.x_train, blobs.y_train, verbose=0, **{"nb_epoch": 1})
    history = model.fit(blobs.x_train, blobs.y_train, epochs=2, batch_size=250, verbose=0)
    assert len(history.history["loss"]) == 2


# --------------------------------------------------------------------------
# Callbacks


def _scheduled_rates(blobs, schedule, epochs=3):
    monitor = ln.LearningRateMonitor()
    _model().fit(blobs.x_train, blobs.y_train, epochs=epochs, batch_size=250, verbose=0,
                 callbacks=[keras.callbacks.LearningRateScheduler(schedule), monitor])
    return monitor.rates


@covers("scheduler")
def test_learning_rate_scheduler_accepts_both_signatures(blobs):
    def halving(epoch):
        return 0.1 * 0.5**epoch

    def halving_from_current(epoch, lr):
        return 0.1 if epoch == 0 else lr * 0.5

    expected = [0.1, 0.05, 0.025]
    assert _scheduled_rates(blobs, halving) == pytest.approx(expected)
    assert _scheduled_rates(blobs, halving_from_current) == pytest.approx(expected)
    assert _scheduled_rates(blobs, lambda epoch, lr: np.float32(0.1), epochs=1) == pytest.approx([0.1])
    with pytest.raises(ValueError, match="should be a float"):
        _scheduled_rates(blobs, lambda epoch, lr: 1, epochs=1)


@covers("scheduler")
def test_a_type_error_inside_a_two_argument_schedule_is_misreported(blobs):
    def buggy(epoch, lr):
        raise TypeError("inner")

    # Keras retries schedule(epoch), which fails for want of `lr`; the real error is only the context.
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'lr'") as raised:
        _scheduled_rates(blobs, buggy, epochs=1)
    assert isinstance(raised.value.__context__, TypeError) and str(raised.value.__context__) == "inner"


@covers("plateau-epsilon")
def test_reduce_lr_on_plateau_drops_epsilon_silently():
    default = keras.callbacks.ReduceLROnPlateau().min_delta
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = keras.callbacks.ReduceLROnPlateau(**{"epsilon": 0.01})
    assert caught == []
    assert old.min_delta == default != 0.01
    assert keras.callbacks.ReduceLROnPlateau(min_delta=0.01).min_delta == 0.01


def _forced_cut():
    """A ReduceLROnPlateau that cuts at the end of the second epoch: after the first, no epoch can improve by inf."""
    return keras.callbacks.ReduceLROnPlateau(patience=0, min_delta=float("inf"))


@covers("schedule-callback")
@pytest.mark.parametrize(("callback", "epochs_trained"), [
    (lambda: keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2), 0),  # before the first epoch
    (_forced_cut, 2),  # at its first cut, the end of the second epoch
])
def test_rate_setting_callbacks_refuse_a_schedule(blobs, callback, epochs_trained):
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=ln.legacy_decay(LR0, 1e-3)),
                  loss="categorical_crossentropy")
    trained = []
    counter = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: trained.append(epoch))
    with pytest.raises(TypeError, match="not settable") as raised:
        model.fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val), epochs=3,
                  batch_size=250, verbose=0, callbacks=[counter, callback()])
    assert len(trained) == epochs_trained
    # the error of the assignment itself (the set-lr row)
    scheduled = keras.optimizers.SGD(learning_rate=ln.legacy_decay(LR0, 1e-3))
    with pytest.raises(TypeError) as assigned:
        scheduled.learning_rate = LR0
    assert str(raised.value) == str(assigned.value)


@covers("schedule-callback")
def test_the_package_raises_what_fit_raises(blobs):
    # ln.train calls the callbacks as fit does: the same error, type and message
    schedule = keras.optimizers.schedules.ExponentialDecay(LR0, decay_steps=16, decay_rate=0.9)
    config = ln.RunConfig(optimizer="sgd", learning_rate=schedule, epochs=3, callbacks=[_forced_cut()])
    with pytest.raises(TypeError) as from_package:
        ln.train(config, 0)
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="categorical_crossentropy")
    with pytest.raises(TypeError) as from_fit:
        model.fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val), epochs=3,
                  verbose=0, callbacks=[_forced_cut()])
    assert str(from_package.value) == str(from_fit.value) and "not settable" in str(from_fit.value)


@covers("schedule-callback")
def test_a_scheduler_that_multiplies_the_rate_keeps_the_cuts(blobs):
    def rates_with(schedule):
        monitor = ln.LearningRateMonitor()  # first: it reads the rate each epoch trained at, before the cut
        model = _model()
        model.fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val), epochs=3,
                  batch_size=250, verbose=0,
                  callbacks=[keras.callbacks.LearningRateScheduler(schedule), monitor, _forced_cut()])
        return monitor.rates

    # schedule(epoch, lr) multiplies the rate it is handed, cuts included: the cut at the end of epoch 2 stays
    assert rates_with(lambda epoch, lr: lr if epoch == 0 else lr * 0.5) == pytest.approx(
        [LR0, LR0 * 0.5, LR0 * 0.5 * 0.1 * 0.5])
    # schedule(epoch) returns an absolute rate: it undoes the cut at the next epoch
    assert rates_with(lambda epoch: LR0 * 0.5**epoch) == pytest.approx([LR0, LR0 * 0.5, LR0 * 0.25])


def _best_checkpoint(blobs, path):
    """Train with a best-model checkpoint chosen on the validation split; return the model and its history."""
    model = _model()
    checkpoint = keras.callbacks.ModelCheckpoint(path, monitor="val_accuracy", mode="max", save_best_only=True)
    history = model.fit(blobs.x_train, blobs.y_train, validation_data=(blobs.x_val, blobs.y_val), epochs=2,
                        batch_size=250, verbose=0, callbacks=[checkpoint])
    return model, history


@covers("h5")
def test_keras_format_checkpoint_round_trip(blobs, tmp_path):
    path = tmp_path / "best_model.keras"
    _, history = _best_checkpoint(blobs, path)
    assert path.is_file()
    reloaded = keras.models.load_model(path)
    accuracy = reloaded.evaluate(blobs.x_val, blobs.y_val, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(max(history.history["val_accuracy"]))  # the best validation epoch


@covers("h5")
def test_hdf5_checkpoint_still_saves_and_loads_and_is_logged_as_legacy(blobs, tmp_path, caplog):
    path = tmp_path / "best_model.h5"
    with caplog.at_level(logging.WARNING):
        model, history = _best_checkpoint(blobs, path)
    assert any("considered legacy" in record.getMessage() for record in caplog.records), caplog.text
    reloaded = keras.models.load_model(path)
    accuracy = reloaded.evaluate(blobs.x_val, blobs.y_val, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(max(history.history["val_accuracy"]))


# --------------------------------------------------------------------------
# Imports


@covers("tf-keras")
def test_tf_keras_is_keras_3():
    tf = ln.tf
    assert tf.keras.__version__ == keras.__version__ and keras.__version__.startswith("3.")
    assert tf.keras is not keras  # Keras 3's namespace for TensorFlow users, not the module itself ...
    for name in ("SGD", "Adam", "AdamW"):  # ... with the same classes
        assert getattr(tf.keras.optimizers, name) is getattr(keras.optimizers, name)
    with pytest.raises(ValueError, match="not recognized"):  # so the rows of the table apply to tf.keras
        tf.keras.optimizers.SGD(**{"lr": LR0})
    assert any(re.fullmatch(r"keras>=3[.0-9]*", requirement) for requirement in metadata.requires("tensorflow"))


@covers("tf-keras")
def test_tf_use_legacy_keras_routes_tf_keras_to_tf_keras():
    from tensorflow.python.util import lazy_loader

    # TensorFlow's own rule: the variable counts when it is "true", "True" or "1"
    assert 'os.environ.get("TF_USE_LEGACY_KERAS", None) in ("true", "True", "1")' in inspect.getsource(
        lazy_loader.KerasLazyLoader)
    probe = ("import tensorflow as tf, keras\n"
             "print(keras.__version__)\n"
             "try:\n    print(tf.keras.__version__)\nexcept ImportError as error:\n    print('ImportError:', error)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    keras_version, tf_keras_line = result.stdout.split("\n")[:2]
    assert keras_version == keras.__version__  # import keras stays Keras 3
    if importlib.util.find_spec("tf_keras") is None:
        assert tf_keras_line.startswith("ImportError:") and "TF_USE_LEGACY_KERAS" in result.stderr
    else:
        assert tf_keras_line.startswith("2.")


@covers("samples-generator")
def test_make_blobs_moved_to_sklearn_datasets():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sklearn.datasets.samples_generator")
    from sklearn.datasets import make_blobs

    features, labels = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    assert features.shape == (1000, 2) and set(labels) == {0, 1, 2}
    np.testing.assert_array_equal(features[:500].astype("float32"), ln.load_blobs().x_train)


@covers("np-utils")
def test_to_categorical_lives_in_keras_utils():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("keras.utils.np_utils")
    np.testing.assert_array_equal(keras.utils.to_categorical([0, 2, 1], 3), np.eye(3)[[0, 2, 1]])


@covers("wrappers")
def test_scikit_learn_wrappers_moved(blobs):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("keras.wrappers.scikit_learn")
    from sklearn.base import clone

    from keras.wrappers import SKLearnClassifier

    def build(X, y):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(shape=(X.shape[1],)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(y.shape[1], activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR0), loss="categorical_crossentropy")
        return model

    classifier = clone(SKLearnClassifier(model=build, fit_kwargs={"epochs": 1, "batch_size": 250, "verbose": 0}))
    classifier.fit(blobs.x_train, blobs.labels("train"))
    assert list(classifier.classes_) == [0, 1, 2]
    # scikit-learn's API: class labels, decoded from the fitted Keras model's probabilities
    probabilities = classifier.model_.predict(blobs.x_test, verbose=0)
    np.testing.assert_array_equal(classifier.predict(blobs.x_test), np.argmax(probabilities, axis=-1))


# --------------------------------------------------------------------------
# The notebook and this file


def _table_items() -> list[str]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    items = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            items += re.findall(r"^\|\s*\{ref\}`([a-z0-9-]+) <migration-\1>`\s*\|", cell.source, flags=re.MULTILINE)
    return items


def test_the_table_and_the_tests_cover_the_same_items():
    items = _table_items()
    assert len(items) == len(set(items)), f"duplicate items in the table: {items}"
    assert set(items) == COVERED, (
        f"in the table but not tested: {sorted(set(items) - COVERED)}; "
        f"tested but not in the table: {sorted(COVERED - set(items))}"
    )


def test_every_item_links_to_a_section_that_names_it():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    for item in _table_items():
        match = re.search(rf"^\(migration-{re.escape(item)}\)=\n(?:\(migration-[a-z0-9-]+\)=\n)*(#+ .*)$", text, re.MULTILINE)
        assert match, f"no section labelled migration-{item}"
        assert f"`{item}`" in match.group(1), f"the section of {item} does not name it: {match.group(1)}"


def test_old_lr_spelling_only_in_markdown():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not re.search(r"\blr\s*=\s*[0-9.]", cell.source), cell.source
