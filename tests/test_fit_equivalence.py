"""The engine against ``model.fit``, update by update.

The same model (the same initial weights), the same batches in the same order
(a ``tf.data`` pipeline replays the engine's shuffles) and the same optimizer,
trained by ``model.fit`` and by the package: the weights agree after each of
the first 10 updates, and the logs ``fit`` writes (``loss``, ``accuracy``,
``val_loss``, ``val_accuracy``) agree with the record at the end of each of
3 epochs. Runs that stack are checked in a stack of two seeds (the checked
seed in the second row) and alone.

Tolerances: the engine and ``fit`` do the same float32 arithmetic in another
order (a stacked matrix product against a layer's, a fused against a separate
bias), so each update differs by a few units in the last place of float32
(about 1e-7 relative to the numbers added); over 10 updates of a
well-conditioned run that stays far below ``rtol=1e-5``. A weight that has
moved close to zero keeps the rounding error of the larger numbers it was
computed from, so each array is compared with ``atol=1e-5 * max|array|``. Logs are means over hundreds of examples, measured after up
to 48 updates: ``rtol=1e-5`` with ``atol=1e-6``. A real difference (one
update more or less, a rate off by 1 %, another batch) is orders of magnitude
larger: the negative controls check that these tolerances see it.
"""

from __future__ import annotations

import copy

import keras
import numpy as np
import pytest

import lrnotes as ln
from replay import engine_batches
from lrnotes.engine_stacked import StackedDense

UPDATES = 10
EPOCHS = 3
OTHER_SEED = 5  # the stack's other row


class _Capture(keras.callbacks.Callback):
    """Weights after each of the first ``count`` updates; deep copies share the list (the engine copies callbacks)."""

    def __init__(self, count: int, weights: list | None = None):
        super().__init__()
        self.count = count
        self.weights = [] if weights is None else weights

    def __deepcopy__(self, memo):
        return _Capture(self.count, self.weights)

    def on_train_batch_end(self, batch, logs=None):
        if len(self.weights) < self.count:
            self.weights.append([np.array(w) for w in self.model.get_weights()])


def _fit(config: ln.RunConfig, seed: int, *, build_first: bool = True):
    """``model.fit`` on the engine's batches: weights after the first updates, History, final weights.

    The optimizer is built on the model's weights before ``fit``, as the
    engine builds it; it matters for ``ScheduleFreeAdamW`` only (see
    :func:`test_fit_zeroes_schedule_free_momentum_unless_the_optimizer_is_built_first`).
    """
    dataset = config.dataset
    model = ln.build_model(config.model, dataset, seed)
    optimizer = config.make_optimizer()
    if build_first:
        optimizer.build(model.trainable_variables)
    model.compile(optimizer=optimizer,
                  loss="binary_crossentropy" if dataset.binary else "categorical_crossentropy", metrics=["accuracy"])
    capture = _Capture(UPDATES)
    history = model.fit(
        engine_batches(config, seed), epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
        shuffle=False, verbose=0, validation_data=(dataset.x_val, dataset.y_val),
        callbacks=[*(copy.deepcopy(callback) for callback in config.callbacks), capture],
    )
    return capture.weights, history.history, model.get_weights()


def _engine(config: ln.RunConfig, seed: int, *, stacked: bool):
    """The package on the same run: weights after the first updates, the record, final weights.

    Runs with callbacks that stack call them per row of the stack; their
    first updates are captured through the batch-hook path (a capturing
    callback has batch hooks, so it trains through a real ``keras.Model``).
    """
    seeds = [OTHER_SEED, seed] if stacked else [seed]
    slot = len(seeds) - 1
    if ln.can_stack(config) and not config.callbacks:
        trace = StackedDense([config], seeds).trace_updates(UPDATES)
        record = ln.train_many(config, seeds)
        record = record[record["seed"] == seed].reset_index(drop=True)
        _, model = ln.train_with_model(config, seed)
        return [weights[slot] for weights in trace], record, model.get_weights()
    capture = _Capture(UPDATES)
    ln.train(config.replace(callbacks=[*config.callbacks, capture]), seed)  # the batch-hook path
    if ln.can_stack(config):  # the callbacks of each row of a stack
        engine = StackedDense([config], seeds)
        record = engine.run()
        record = record[record["seed"] == seed].drop(columns="slot").reset_index(drop=True)
        return capture.weights, record, engine.slot_weights(slot)
    record, model = ln.train_with_model(config, seed)  # the traced path, as used
    return capture.weights, record, model.get_weights()


def _assert_same_weights(ours, theirs, what):
    assert len(ours) == len(theirs), what
    for update, (mine, fits) in enumerate(zip(ours, theirs), start=1):
        for index, (a, b) in enumerate(zip(mine, fits)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(np.abs(b).max()),
                                       err_msg=f"{what}: weight array {index} after update {update}")


def _assert_same_logs(record, history, what):
    epochs = len(history["loss"])
    assert record["epoch"].max() == epochs, f"{what}: the record ends at epoch {record['epoch'].max()}, fit at {epochs}"
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        ours = record[name].to_numpy()[1 : epochs + 1]
        np.testing.assert_allclose(ours, history[name], rtol=1e-5, atol=1e-6, err_msg=f"{what}: {name}")


def _schedule():
    return keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.7)


BASE = ln.RunConfig(learning_rate=0.05, epochs=EPOCHS)
CASES = {
    "sgd": BASE,
    "momentum": BASE.replace(options={"momentum": 0.9}),
    "nesterov": BASE.replace(options={"momentum": 0.9, "nesterov": True}),
    "adam": BASE.replace(optimizer="adam", learning_rate=0.01),
    "adamw": BASE.replace(optimizer="adamw", learning_rate=0.01, options={"weight_decay": 0.05}),
    "rmsprop": BASE.replace(optimizer="rmsprop", learning_rate=0.005),
    "adagrad": BASE.replace(optimizer="adagrad", learning_rate=0.1),
    "adadelta": BASE.replace(optimizer="adadelta", learning_rate=1.0),
    "adamax": BASE.replace(optimizer="adamax", learning_rate=0.01),
    "nadam": BASE.replace(optimizer="nadam", learning_rate=0.01),
    "ftrl": BASE.replace(optimizer="ftrl", learning_rate=0.1),
    "lion": BASE.replace(optimizer="lion", learning_rate=0.001),
    "schedule_free_adamw": BASE.replace(optimizer="schedule_free_adamw", learning_rate=0.01),
    "lamb": BASE.replace(optimizer="lamb", learning_rate=0.01),
    "adafactor": BASE.replace(optimizer="adafactor", learning_rate=0.01),
    "muon": BASE.replace(optimizer="muon", learning_rate=0.01),
    "l2 in the loss": BASE.replace(model=ln.MLP(l2=0.01), options={"momentum": 0.9}),
    "adam with l2": BASE.replace(model=ln.MLP(l2=0.01), optimizer="adam", learning_rate=0.01),
    "l2 one at a time": BASE.replace(model=ln.MLP(l2=0.01), options={"clipnorm": 1.0}),
    "clipvalue": BASE.replace(learning_rate=0.5, options={"clipvalue": 0.05}),
    "clipnorm": BASE.replace(learning_rate=0.5, options={"clipnorm": 0.1}),
    "gradient accumulation": BASE.replace(options={"momentum": 0.9, "gradient_accumulation_steps": 3}),
    "schedule": BASE.replace(learning_rate=_schedule()),
    "warmup-stable-decay": BASE.replace(learning_rate=ln.WarmupStableDecay(0.1, total_steps=48, warmup_steps=8,
                                                                           decay_steps=16, shape="sqrt")),
    "plateau on loss": BASE.replace(callbacks=[keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=1e3)]),
    "plateau on val_loss": BASE.replace(callbacks=[keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=0, min_delta=1e3)]),
    "scheduler": BASE.replace(callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, rate: 0.1 / (1 + epoch))]),
    "early stopping": BASE.replace(epochs=EPOCHS + 3, callbacks=[keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=1, min_delta=1e3, restore_best_weights=True)]),
    "ionosphere": ln.RunConfig(data="ionosphere", model=ln.MLP(hidden=(34,)), learning_rate=0.05, epochs=EPOCHS),
    "cnn": ln.RunConfig(data="digits_images", model=ln.CNN(filters=(4,), dense=16), learning_rate=0.05,
                        epochs=EPOCHS, batch_size=64),
    "cnn with pooling and adam": ln.RunConfig(data="digits_images", model=ln.CNN(filters=(4, 8), dense=16),
                                              optimizer="adam", learning_rate=0.003, epochs=EPOCHS, batch_size=64),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_update_by_update_and_epoch_by_epoch_as_fit(name):
    config = CASES[name]
    seed = 3
    fit_weights, history, fit_final = _fit(config, seed)
    for stacked in ((False, True) if ln.can_stack(config) else (False,)):
        what = f"{name} ({'stacked' if stacked else 'alone'})"
        ours, record, final = _engine(config, seed, stacked=stacked)
        _assert_same_weights(ours, fit_weights, what)
        _assert_same_logs(record, history, what)
        for a, b in zip(final, fit_final):  # after the last epoch (restored best weights, for early stopping)
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=f"{what}: final weights")


def test_the_early_stopping_case_stops_and_restores():
    """The early-stopping case above is only a check if fit really stops early and restores."""
    _, history, final = _fit(CASES["early stopping"], 3)
    assert len(history["loss"]) == 2  # epoch 1 is best (min_delta 1e3), patience 1
    record = ln.train(CASES["early stopping"], 3)
    assert record["epoch"].max() == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "change",
    ["a rate 1% higher", "one update more", "another seed's batches"],
)
def test_the_tolerances_see_a_real_difference(change):
    config, seed = CASES["momentum"], 3
    fit_weights, history, _ = _fit(config, seed)
    if change == "a rate 1% higher":
        ours, record, _ = _engine(config.replace(learning_rate=0.05 * 1.01), seed, stacked=False)
    elif change == "one update more":
        ours, record, _ = _engine(config, seed, stacked=False)
        ours = ours[1:] + ours[-1:]
    else:
        ours, record, _ = _engine(config, seed + 1, stacked=False)
    with pytest.raises(AssertionError):
        _assert_same_weights(ours, fit_weights, change)


def test_fit_zeroes_schedule_free_momentum_unless_the_optimizer_is_built_first():
    """What Keras 3.15 does with ``ScheduleFreeAdamW`` under ``fit`` (TensorFlow backend).

    ``ScheduleFreeAdamW.build`` starts its sequence ``z`` (the ``momentum``
    variable) at the model's weights. When ``fit`` builds the optimizer
    itself, that copy does not take: ``z`` starts at zero, and the first
    update sets every weight to about ``±learning_rate``, losing the
    initialisation. Built on the model's weights before ``compile``/``fit``
    (as the engine does), it starts where the algorithm says. The book
    states this; if a Keras release changes it, this test says so.
    """
    config = CASES["schedule_free_adamw"]
    rate = 0.01
    initial = ln.build_model(config.model, config.dataset, 3).get_weights()
    unbuilt, _, _ = _fit(config.replace(epochs=1), 3, build_first=False)
    built, _, _ = _fit(config.replace(epochs=1), 3, build_first=True)
    kernel_unbuilt, kernel_built = unbuilt[0][0], built[0][0]
    np.testing.assert_allclose(np.abs(kernel_unbuilt), rate, rtol=1e-3)  # wiped to +-rate
    assert np.abs(kernel_built - initial[0]).max() <= rate * 1.001  # one step of size <= rate from the start


# --------------------------------------------------------------------------
# Callbacks around a loss that turns NaN, and updates made before a stop


class _Log(keras.callbacks.Callback):
    """Every hook call with its logs; deep copies share the list."""

    def __init__(self, calls: list | None = None):
        super().__init__()
        self.calls = [] if calls is None else calls

    def __deepcopy__(self, memo):
        return _Log(self.calls)

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs or {})))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", None, dict(logs or {})))


def _same_calls(ours, theirs):
    assert [call[:2] for call in ours] == [call[:2] for call in theirs]
    for (_, _, mine), (_, _, fits) in zip(ours, theirs):
        for name in ("loss", "val_loss"):
            if name in fits:
                assert np.isnan(mine[name]) == np.isnan(fits[name]), (name, mine, fits)


@pytest.mark.parametrize("terminate", [False, True])
def test_a_nan_loss_reaches_the_callbacks_as_under_fit(terminate):
    callbacks = [keras.callbacks.TerminateOnNaN()] if terminate else []
    config = ln.RunConfig(learning_rate=1e4, epochs=3, callbacks=callbacks)
    theirs, ours = _Log(), _Log()
    dataset = config.dataset
    model = ln.build_model(config.model, dataset, 0)
    model.compile(optimizer=config.make_optimizer(), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(engine_batches(config, 0), epochs=3, steps_per_epoch=config.steps_per_epoch, verbose=0, shuffle=False,
              validation_data=(dataset.x_val, dataset.y_val), callbacks=[*copy.deepcopy(callbacks), theirs])
    fit_updates = int(model.optimizer.iterations.numpy())
    record = ln.train(config.replace(callbacks=[*callbacks, ours]), seed=0)
    _same_calls(ours.calls, theirs.calls)
    assert record["diverged"].iloc[-1]
    assert record["updates"].iloc[-1] == fit_updates  # the updates actually made
    if terminate:  # stopped inside the first epoch, at the batch whose loss is NaN
        assert record["epoch"].max() == 1 and fit_updates < config.steps_per_epoch
    else:
        assert record["epoch"].max() == 3 and fit_updates == 3 * config.steps_per_epoch


def test_a_range_test_counts_the_updates_it_made():
    blobs = ln.load_blobs()
    finder = ln.LearningRateRangeTest(start_rate=1e-4, stop_rate=1e3, steps=200, probe=(blobs.x_train, blobs.y_train))
    record = ln.train(ln.RunConfig(learning_rate=1e-4, epochs=20, callbacks=[finder]), seed=0)
    run = finder.runs[-1]
    assert run.stop_reason == "diverged"
    made = len(run.rates)  # with a probe, every update is recorded
    assert record["updates"].iloc[-1] == made < 20 * 16  # stopped inside an epoch by the divergence rule


# --------------------------------------------------------------------------
# Which optimizers train, stacked or alone, and which are refused


def _keras_optimizer_classes():
    return {name: cls for name, cls in vars(keras.optimizers).items()
            if isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer)
            and cls is not keras.optimizers.Optimizer}


def test_every_keras_optimizer_is_trained_with_a_test_or_refused_with_a_reason():
    from lrnotes.optimizers import OPTIMIZERS, REFUSED_OPTIMIZERS

    tested = {type(CASES[name].make_optimizer()).__name__ for name in CASES}
    for name, cls in _keras_optimizer_classes().items():
        if name in REFUSED_OPTIMIZERS:
            assert cls not in OPTIMIZERS.values()
            continue
        assert cls in OPTIMIZERS.values(), f"keras.optimizers.{name} is neither accepted nor refused"
        assert name in tested, f"keras.optimizers.{name} is accepted but no equivalence case trains it"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()), "LossScaleOptimizer is not supported"),
        (lambda: keras.optimizers.Adam(use_ema=True), "use_ema=True is not supported"),
    ],
)
def test_refused_optimizers_are_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        ln.RunConfig(optimizer=make())
    with pytest.raises(ValueError, match="use_ema=True is not supported"):
        ln.RunConfig(optimizer="adam", options={"use_ema": True})


def test_only_elementwise_updates_stack():
    from lrnotes.stacking import stack_refusal

    for name in ("sgd", "adam", "adamw", "lion", "ftrl", "schedule_free_adamw", "nadam", "adamax", "adagrad",
                 "adadelta", "rmsprop"):
        assert ln.can_stack(ln.RunConfig(optimizer=name)), name
    for name, reason in (("lamb", "norm"), ("adafactor", "row and column"), ("muon", "orthogonalises")):
        assert "couples the elements of a variable: " in stack_refusal(ln.RunConfig(optimizer=name))
        assert reason in stack_refusal(ln.RunConfig(optimizer=name))
    assert "clipnorm" in stack_refusal(ln.RunConfig(options={"clipnorm": 1.0}))
    assert "global_clipnorm" in stack_refusal(ln.RunConfig(options={"global_clipnorm": 1.0}))
    assert ln.can_stack(ln.RunConfig(options={"clipvalue": 1.0}))
    assert "callbacks" in stack_refusal(ln.RunConfig(callbacks=[keras.callbacks.History()]))
    assert stack_refusal(ln.RunConfig(data="digits_images", model=ln.CNN())) is None  # each row its own convolutions


@pytest.mark.slow
def test_the_tolerances_see_a_missing_penalty():
    """Without its L2 term the engine's run is told apart from fit's run with it."""
    config, seed = CASES["l2 in the loss"], 3
    fit_weights, history, _ = _fit(config, seed)
    ours, record, _ = _engine(config.replace(model=ln.MLP()), seed, stacked=False)
    with pytest.raises(AssertionError):
        _assert_same_weights(ours, fit_weights, "no penalty")
    with pytest.raises(AssertionError):
        _assert_same_logs(record, history, "no penalty")
