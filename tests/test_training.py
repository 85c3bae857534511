"""The training function: determinism, stacked runs, divergence, callbacks, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lrnotes as ln
import keras

DETERMINISTIC = [column for column in ln.RECORD_COLUMNS if column != "seconds"]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return a[DETERMINISTIC].reset_index(drop=True).equals(b[DETERMINISTIC].reset_index(drop=True))


def test_record_shape_and_columns():
    record = ln.train(ln.RunConfig(learning_rate=0.1, epochs=4), seed=3)
    assert list(record.columns) == ln.RECORD_COLUMNS
    assert list(record["epoch"]) == [0, 1, 2, 3, 4]
    assert list(record["updates"]) == [0, 16, 32, 48, 64]
    assert (record["seed"] == 3).all() and not record["diverged"].any()
    assert record["train_loss"].iloc[-1] < record["train_loss"].iloc[0]
    # fit's running means exist only once batches have run
    assert np.isnan(record["loss"].iloc[0]) and record[["loss", "accuracy"]].iloc[1:].notna().all().all()
    for split in ("train", "val", "test"):
        assert record[[f"{split}_loss", f"{split}_accuracy"]].notna().all().all()


def test_same_seed_same_record_and_different_seed_different_record():
    config = ln.RunConfig(learning_rate=0.05, epochs=6)
    first, second = ln.train(config, seed=1), ln.train(config, seed=1)
    assert _same(first, second)
    assert not first["test_loss"].equals(ln.train(config, seed=2)["test_loss"])


def test_keras_path_is_deterministic_too():
    config = ln.RunConfig(model=ln.CNN(filters=(4,), dense=8), data="digits_images", epochs=2, batch_size=64,
                          optimizer="lamb")  # Lamb couples a variable's elements: one seed at a time
    assert not ln.can_stack(config)
    assert _same(ln.train(config, seed=0), ln.train(config, seed=0))


@pytest.mark.parametrize(
    ("optimizer", "options"),
    [("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True}), ("adam", {}), ("rmsprop", {}),
     ("adagrad", {}), ("adadelta", {}), ("adamax", {}), ("nadam", {}), ("adamw", {"weight_decay": 0.01})],
)
def test_runs_side_by_side_equal_runs_alone(optimizer, options):
    """Seeds and rates trained in one stack give bit-for-bit the records they give alone."""
    rates = [0.1, 0.003]
    configs = [ln.RunConfig(optimizer=optimizer, learning_rate=rate, options=options, epochs=6, batch_size=20)
               for rate in rates]
    stacked = ln.train_stacked(configs, seeds=[4, 0, 7])
    for config, record in zip(configs, stacked):
        for seed in (0, 7):
            alone = ln.train(config, seed=seed)
            assert _same(alone, record[record["seed"] == seed]), (optimizer, config.learning_rate, seed)


def test_stacking_is_refused_when_runs_would_interact():
    assert ln.can_stack(ln.RunConfig())
    assert not ln.can_stack(ln.RunConfig(options={"clipnorm": 1.0}))
    assert not ln.can_stack(ln.RunConfig(callbacks=[keras.callbacks.TerminateOnNaN()]))  # acts between batches
    assert ln.can_stack(ln.RunConfig(callbacks=[keras.callbacks.EarlyStopping()]))  # one copy per row
    assert ln.stack_key(ln.RunConfig(callbacks=[keras.callbacks.EarlyStopping()])) != ln.stack_key(ln.RunConfig())
    assert ln.stack_key(ln.RunConfig(learning_rate=0.1)) == ln.stack_key(ln.RunConfig(learning_rate=0.2))
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert ln.stack_key(ln.RunConfig(learning_rate=schedule)) == ln.stack_key(ln.RunConfig(learning_rate=0.1))
    assert ln.stack_key(ln.RunConfig(optimizer="adam")) != ln.stack_key(ln.RunConfig(optimizer="sgd"))


def test_optimizer_instance_and_name_give_the_same_run():
    by_name = ln.train(ln.RunConfig(optimizer="sgd", learning_rate=0.05, options={"momentum": 0.5}, epochs=3))
    instance = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    by_instance = ln.train(ln.RunConfig(optimizer=instance, epochs=3))
    assert _same(by_name, by_instance)


def test_schedules_and_constants_stack_and_equal_their_runs_alone():
    schedules = [keras.optimizers.schedules.InverseTimeDecay(0.05, 1, 0.01),
                 keras.optimizers.schedules.ExponentialDecay(0.1, 16, 0.5, staircase=True), 0.02]
    configs = [ln.RunConfig(optimizer="adam", learning_rate=rate, epochs=4) for rate in schedules]
    for config, record in zip(configs, ln.train_stacked(configs, seeds=[1, 2])):
        assert _same(ln.train(config, seed=2), record[record["seed"] == 2])


def test_schedules_drive_the_recorded_rate():
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.01)
    record = ln.train(ln.RunConfig(learning_rate=schedule, epochs=3))
    # the rate of each epoch's last update (update u is made at step u - 1); epoch 0: the first update's
    expected = [0.1 / (1 + 0.01 * max(updates - 1, 0)) for updates in record["updates"]]
    np.testing.assert_allclose(record["learning_rate"], expected, rtol=1e-6)


def test_divergence_is_recorded_not_plotted_as_garbage():
    configs = ln.grid(ln.RunConfig(epochs=8), learning_rate=[1e4, 0.1])
    records = ln.sweep(configs, seeds=[0, 1], by="lr", cache=False)
    exploded = records[records["lr"] == 1e4]
    assert exploded.groupby("seed")["diverged"].any().all()
    after = exploded[exploded["diverged"]]
    metrics = ["loss", "accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
               "test_accuracy"]
    assert after[metrics].isna().all().all()
    assert len(exploded) == 2 * 9  # every epoch keeps its row
    healthy = records[records["lr"] == 0.1]
    assert not healthy["diverged"].any() and healthy["test_accuracy"].notna().all()
    table = ln.summarize(records, "lr")
    assert table.loc["10000", "diverged"] == "2/2" and table.loc["10000", "test accuracy"] == "—"


def test_divergence_on_the_keras_path_fills_the_remaining_epochs():
    config = ln.RunConfig(learning_rate=1e4, epochs=6, callbacks=[keras.callbacks.History()])
    record = ln.train(config)
    assert record["diverged"].iloc[-1] and len(record) == 7
    assert record.loc[record["diverged"], "val_loss"].isna().all()
    assert record["updates"].tolist() == [0, 16, 32, 48, 64, 80, 96]  # training goes on, as under fit


def test_early_stopping_stops_and_restores():
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=10.0, restore_best_weights=True)
    record, model = ln.train_with_model(ln.RunConfig(learning_rate=0.1, epochs=50, callbacks=[stopper]))
    assert record["epoch"].max() == 3  # epoch 1 is the best with min_delta=10, then 2 epochs of patience
    blobs = ln.load_blobs()
    loss = keras.losses.categorical_crossentropy(blobs.y_val, model(blobs.x_val)).numpy().mean()
    assert loss == pytest.approx(record["val_loss"].iloc[1], rel=1e-4)  # the restored (best) weights


def test_callbacks_are_copied_for_every_run():
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5, min_delta=1e6)
    config = ln.RunConfig(learning_rate=0.1, epochs=3, callbacks=[plateau])
    first, second = ln.train_many(config, seeds=[0, 1]).groupby("seed")
    # the rate each epoch's updates used: a cut at the end of epoch e shows in the row of epoch e + 1
    assert first[1]["learning_rate"].tolist() == second[1]["learning_rate"].tolist() == [0.1, 0.1, 0.1, 0.05]
    assert plateau.wait == 0 and getattr(plateau, "model", None) is None  # the template is untouched


def test_return_model_of_a_stacked_run_has_its_weights():
    record, model = ln.train_with_model(ln.RunConfig(learning_rate=0.1, epochs=3), seed=5)
    blobs = ln.load_blobs()
    accuracy = (model(blobs.x_test).numpy().argmax(1) == blobs.labels("test")).mean()
    assert accuracy == pytest.approx(record["test_accuracy"].iloc[-1])


def test_binary_data_and_full_batch():
    record = ln.train(ln.RunConfig(data="ionosphere", model=ln.MLP(hidden=(34,)), learning_rate=0.1,
                                   batch_size=None, epochs=5))
    assert list(record["updates"]) == [0, 1, 2, 3, 4, 5]
    assert record["test_accuracy"].iloc[-1] > 0.6


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: ln.RunConfig(optimizer="adamm"), ValueError, "unknown optimizer 'adamm'; expected one of: sgd, adagrad"),
        (lambda: ln.RunConfig(learning_rate=0.0), ValueError, "learning_rate must be a positive"),
        (lambda: ln.RunConfig(learning_rate=-0.1), ValueError, "learning_rate must be a positive"),
        (lambda: ln.RunConfig(learning_rate="0.1"), TypeError, "learning_rate must be a positive number"),
        (lambda: ln.RunConfig(data="cifar100"), ValueError, "unknown data set 'cifar100'"),
        (lambda: ln.RunConfig(batch_size=0), ValueError, "batch_size must be a positive integer"),
        (lambda: ln.RunConfig(epochs=2.5), TypeError, "epochs must be a positive integer"),
        (lambda: ln.RunConfig(options={"momentun": 0.9}), ValueError, "accepted: learning_rate, momentum"),
        (lambda: ln.RunConfig(optimizer=keras.optimizers.SGD(), learning_rate=0.1), ValueError, "not both"),
        (lambda: ln.RunConfig(callbacks=["early"]), TypeError, "callbacks must be Keras callbacks"),
        (lambda: ln.RunConfig(model="mlp"), TypeError, "model must be an lrnotes MLP or CNN"),
        (lambda: ln.MLP(hidden=(0,)), ValueError, "hidden must be a non-empty tuple of positive integers"),
        (lambda: ln.train(ln.RunConfig(epochs=1), seed=-1), TypeError, "seeds must be non-negative integers"),
        (lambda: ln.train_many(ln.RunConfig(epochs=1), seeds=[1, 1]), ValueError, "seeds must be distinct"),
        (lambda: ln.train_many(ln.RunConfig(epochs=1), seeds=3), TypeError, "seeds must be a non-empty list"),
    ],
)
def test_bad_input_is_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_mlp_needs_flat_data_and_cnn_needs_images():
    with pytest.raises(ValueError, match="MLP needs flat features"):
        ln.train(ln.RunConfig(data="digits_images", epochs=1))
    with pytest.raises(ValueError, match="CNN needs images"):
        ln.train(ln.RunConfig(model=ln.CNN(), epochs=1))


def test_the_rate_column_is_the_rate_of_each_epochs_last_update_for_every_kind_of_run():
    """One meaning for schedules, LearningRateScheduler, ReduceLROnPlateau and a range test."""
    scheduled = ln.train(ln.RunConfig(learning_rate=0.1, epochs=4, callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch, rate: 0.1 / 2 ** epoch)]))
    # on_epoch_begin(e - 1) sets the rate of epoch e's updates; epoch 0: the optimizer's own first rate
    assert scheduled["learning_rate"].tolist() == [0.1, 0.1, 0.05, 0.025, 0.0125]
    blobs = ln.load_blobs()
    finder = ln.LearningRateRangeTest(start_rate=1e-3, stop_rate=1.0, steps=32, probe=(blobs.x_train, blobs.y_train))
    ranged = ln.train(ln.RunConfig(learning_rate=1e-3, epochs=2, callbacks=[finder]))
    run = finder.runs[-1]
    for epoch in (1, 2):  # the rate of the epoch's last update (the test may stop inside epoch 2)
        last_update = int(ranged["updates"].iloc[epoch])
        assert ranged["learning_rate"].iloc[epoch] == pytest.approx(run.rates[last_update - 1], rel=1e-6)
    assert len(run.rates) == ranged["updates"].iloc[-1]


def test_a_configuration_is_read_only_after_validation():
    config = ln.RunConfig(options={"momentum": 0.9})
    with pytest.raises(TypeError):
        config.options["momentum"] = 0.5
    with pytest.raises(AttributeError):
        config.epochs = 3
    assert config.replace(options={"momentum": 0.5}).options["momentum"] == 0.5


def test_train_returns_a_record_and_train_with_model_a_record_and_a_model():
    config = ln.RunConfig(learning_rate=0.1, epochs=2)
    record = ln.train(config, seed=1)
    assert isinstance(record, pd.DataFrame)
    same, model = ln.train_with_model(config, seed=1)
    assert _same(record, same) and isinstance(model, keras.Model)


def test_the_penalty_column_is_the_l2_term_that_every_loss_includes():
    config = ln.RunConfig(model=ln.MLP(l2=0.01), epochs=2)
    record, model = ln.train_with_model(config, 0)
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in model.layers]
    expected = 0.01 * sum(float((kernel**2).sum()) for kernel in kernels)
    last = record.iloc[-1]
    # float32 sums of about 300 squares: a few parts in a million
    assert last["penalty"] == pytest.approx(expected, rel=1e-5)
    probabilities = model.predict(config.dataset.x_test, verbose=0).astype(np.float64)
    cross_entropy = -np.mean(np.sum(config.dataset.y_test * np.log(probabilities), axis=1))
    assert last["test_loss"] - last["penalty"] == pytest.approx(cross_entropy, rel=1e-5)
    assert (ln.train(config.replace(model=ln.MLP()), 0)["penalty"] == 0).all()


def test_with_gradient_accumulation_the_rate_is_that_of_the_last_real_update():
    """Keras evaluates a schedule at its call count; with k-step accumulation the weights change at calls k-1, 2k-1, ..."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.7)
    config = ln.RunConfig(learning_rate=schedule, options={"gradient_accumulation_steps": 3}, epochs=3)
    expected = [float(np.float32(schedule(step))) for step in (2, 14, 29, 47)]  # 16 calls per epoch
    for record in (ln.train(config, 0), ln.train(config.replace(callbacks=[ln.LearningRateMonitor()]), 0)):
        np.testing.assert_allclose(record["learning_rate"], expected, rtol=1e-6)


def test_a_named_optimizer_is_read_once_and_an_instance_every_time(monkeypatch):
    import pickle

    from lrnotes import stacking

    named = ln.RunConfig(optimizer="sgd", learning_rate=0.1, options={"momentum": 0.9})
    instance = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    held = ln.RunConfig(optimizer=instance)
    assert stacking.optimizer_parts(held)[1:] == stacking.optimizer_parts(named)[1:]

    def no_optimizer(*args, **kwargs):
        raise AssertionError("an optimizer was built")

    # a named one: its parts were worked out when the configuration was made, also after a trip to a worker
    monkeypatch.setattr(ln.RunConfig, "make_optimizer", no_optimizer)
    import cloudpickle  # what the local workers (loky) and Dask send configurations with

    for config in (named, pickle.loads(pickle.dumps(named)), cloudpickle.loads(cloudpickle.dumps(named))):
        cls, settings, rate = stacking.optimizer_parts(config)
        assert (cls, settings["momentum"], rate) == (keras.optimizers.SGD, 0.9, 0.1)
        assert dict(config.options) == {"momentum": 0.9}
        with pytest.raises(TypeError):
            config.options["momentum"] = 0.0  # still read-only
        settings["momentum"] = 0.0  # a copy: the configuration's parts do not change
    assert stacking.optimizer_parts(named)[1]["momentum"] == 0.9
    with pytest.raises(AssertionError, match="built"):
        stacking.optimizer_parts(held)  # an instance is read afresh
    monkeypatch.undo()
    # ... so a change to the instance shows
    instance.momentum = 0.5
    assert stacking.optimizer_parts(held)[1]["momentum"] == 0.5
    assert stacking.stack_key(held) != stacking.stack_key(named)
