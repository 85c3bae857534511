"""The epoch loop that both engines share, and the pieces they have in common.

An engine trains the runs of one configuration (several seeds, or several
configurations that stack) epoch by epoch, as Keras' ``fit`` does, and
records what :mod:`lrnotes.records` describes. :mod:`lrnotes.engine_stacked`
trains runs side by side in one graph; :mod:`lrnotes.engine_keras` trains
one seed at a time through a real ``keras.Model`` (callbacks with batch hooks
or that need a whole model, optimizers that couple a variable's elements).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lrnotes._runtime import keras, tf
from lrnotes.config import RunConfig
from lrnotes.data import Dataset
from lrnotes.records import EpochResult, Recorder

__all__ = ["EVAL_CHUNK", "ROW_ALIGNMENT", "Engine", "correct_predictions", "evaluation_chunks", "last_update_step",
           "loss_function", "padded"]

#: Examples per evaluation chunk.
EVAL_CHUNK = 4096
#: Rows and weight arrays are padded to multiples of this many elements.
ROW_ALIGNMENT = 16
def padded(rows: int) -> int:
    """``rows`` rounded up to a multiple of 16 (a full AVX-512 vector of floats)."""
    return -(-rows // ROW_ALIGNMENT) * ROW_ALIGNMENT



def last_update_step(optimizer: keras.optimizers.Optimizer, calls: int | None = None) -> int:
    """The step at which Keras evaluated the schedule for the optimizer's last update (before any: its first).

    Keras evaluates a schedule at ``optimizer._iterations``, which counts
    calls of ``apply``; with ``gradient_accumulation_steps=k`` the weights
    change on every k-th call (calls ``k - 1``, ``2k - 1``, ...), and
    ``optimizer.iterations`` is ``_iterations // k``. ``calls`` is the
    number of calls of ``apply`` to ask about (default: those made so far).

    Examples
    --------
    >>> import keras
    >>> optimizer = keras.optimizers.SGD(gradient_accumulation_steps=4)
    >>> _ = optimizer._iterations.assign(10)  # ten calls: updates at calls 3 and 7
    >>> last_update_step(optimizer), last_update_step(keras.optimizers.SGD())
    (7, 0)
    >>> last_update_step(optimizer, calls=4)
    3
    """
    steps = optimizer.gradient_accumulation_steps or 1
    if calls is None:
        calls = int(keras.ops.convert_to_numpy(optimizer._iterations))
    return (calls // steps) * steps - 1 if calls >= steps else steps - 1


def loss_function(dataset: Dataset):
    """Per-example loss as Keras computes it (from the logits behind the output activation)."""
    if dataset.binary:
        return keras.losses.binary_crossentropy
    return keras.losses.categorical_crossentropy


def correct_predictions(dataset: Dataset, y_true, y_pred):
    """Per-example accuracy as Keras' ``"accuracy"`` metric computes it."""
    if dataset.binary:
        return tf.cast(tf.equal(y_true[..., 0], tf.cast(y_pred[..., 0] > 0.5, y_true.dtype)), tf.float32)
    return tf.cast(tf.equal(tf.argmax(y_true, axis=-1), tf.argmax(y_pred, axis=-1)), tf.float32)


def evaluation_chunks(dataset: Dataset) -> tuple[list[tuple[Any, Any]], dict[str, slice]]:
    """Training, validation then test examples, zero-padded to a multiple of 16 rows, in chunks.

    Returns the chunks and, for each split, its slice of the concatenated rows.
    """
    parts = [dataset.split(name) for name in ("train", "validation", "test")]
    x = np.concatenate([features for features, _ in parts])
    y = np.concatenate([targets for _, targets in parts])
    bounds = np.cumsum([0, *(features.shape[0] for features, _ in parts)])
    slices = {name: slice(int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(("train", "val", "test"))}
    rows = x.shape[0]
    padding = padded(rows) - rows
    x = np.concatenate([x, np.zeros((padding, *x.shape[1:]), x.dtype)])
    y = np.concatenate([y, np.zeros((padding, *y.shape[1:]), y.dtype)])
    chunks = [
        (tf.constant(x[start : start + EVAL_CHUNK]), tf.constant(y[start : start + EVAL_CHUNK]))
        for start in range(0, x.shape[0], EVAL_CHUNK)
    ]
    return chunks, slices


class Engine:
    """The epoch loop shared by both engines.

    Subclasses provide ``_first_evaluation()`` and ``_epoch(order, callbacks)``,
    each returning an :class:`EpochResult` (``_epoch`` trains one epoch on
    the given ``[S, n]`` order first), and ``_rates_used(epoch)``: the rate
    of the last update made by the end of that epoch (before any update: the
    rate of the first one). An engine that can train several epochs in one
    call when no run has callbacks also provides ``_epochs(orders)`` and
    says how many in ``_epochs_per_call()``; the records are the same.

    The loop follows Keras 3's ``fit`` (``keras/src/backend/tensorflow/trainer.py``):
    ``on_epoch_end`` gets ``fit``'s logs, the running means of the epoch's
    batches and ``val_*`` on the validation split, also when they are NaN;
    training stops only when a callback sets ``model.stop_training``; and
    ``on_train_end`` gets the last epoch's logs.
    """

    config: RunConfig
    seeds: list[int]
    optimizer: keras.optimizers.Optimizer
    model: keras.Model | None = None

    def _setup_evaluation(self) -> None:
        self.eval_chunks, self.split_rows = evaluation_chunks(self.dataset)

    def _metrics(self, result: EpochResult) -> dict[str, np.ndarray]:
        loss, correct = (np.asarray(output, dtype=np.float64) for output in (result.loss, result.correct))
        count = len(self.seeds)
        metrics = {}
        if result.examples:
            # fit's metrics: float32 totals divided by the float32 count
            examples = np.float32(result.examples)
            with np.errstate(invalid="ignore", over="ignore"):
                metrics["loss"] = (np.asarray(result.loss_total, np.float32) / examples).astype(np.float64)
                metrics["accuracy"] = (np.asarray(result.correct_total, np.float32) / examples).astype(np.float64)
        else:
            metrics["loss"] = metrics["accuracy"] = np.full(count, np.nan)
        # evaluate's losses include the regularisation term, the same for every example
        penalty = np.zeros(count) if result.penalty is None else np.asarray(result.penalty, dtype=np.float64)
        metrics["penalty"] = penalty
        # float64 means over each seed's row: the same order whatever the stack size
        with np.errstate(invalid="ignore", over="ignore"):
            for split, rows in self.split_rows.items():
                metrics[f"{split}_loss"] = loss[:, rows].mean(axis=1) + penalty
                metrics[f"{split}_accuracy"] = correct[:, rows].mean(axis=1)
        return metrics

    def run(self, on_epoch: Callable[[float], None] | None = None, *,
            after_epoch: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Train; ``on_epoch(runs)`` reports progress in (fractions of) runs.

        Each run's callbacks (:meth:`_callback_lists`, one list per run, or
        none) are called as ``fit`` calls them; a run whose callbacks set
        ``model.stop_training`` ends there, the others train on. Without
        callbacks an engine may train several epochs per call, and report
        progress once per call; ``after_epoch(epoch)``, when given, is called
        after every epoch, with the weights and the optimizer's state as that
        epoch left them (the epochs then train one per call).
        """
        config = self.config
        count = len(self.seeds)
        reported = 0.0
        recorder = Recorder(config, self.seeds)
        generators = [np.random.default_rng(seed) for seed in self.seeds]
        n = self.dataset.x_train.shape[0]
        lists = self._callback_lists()
        running = np.ones(count, dtype=bool)
        logs: list[dict | None] = [None] * count
        for callbacks in lists:
            callbacks.on_train_begin()
        start = time.perf_counter()
        first = self._first_evaluation()
        recorder.add(0, self._metrics(first), self._rates_used(0), time.perf_counter() - start, 0)
        several = not lists and after_epoch is None and self._epochs_per_call() > 1
        if several:
            # No callback needs the loop between epochs: several epochs per call.
            epoch = 1
            while epoch <= config.epochs:
                chunk = min(self._epochs_per_call(), config.epochs - epoch + 1)
                start = time.perf_counter()
                orders = np.stack([np.stack([generator.permutation(n) for generator in generators])
                                   for _ in range(chunk)]).astype(np.int32)
                results = self._epochs(orders)
                seconds = (time.perf_counter() - start) / chunk
                for offset, result in enumerate(results):
                    recorder.add(epoch + offset, self._metrics(result), self._rates_used(epoch + offset), seconds,
                                 result.updates)
                if on_epoch is not None:
                    on_epoch(count * chunk / config.epochs)
                    reported += count * chunk / config.epochs
                epoch += chunk
        for epoch in range(1, config.epochs + 1) if not several else ():
            start = time.perf_counter()
            order = np.stack([generator.permutation(n) for generator in generators]).astype(np.int32)
            active = np.flatnonzero(running) if lists else ()
            for slot in active:
                lists[slot].on_epoch_begin(epoch - 1)
            result = self._epoch(order, lists[0] if lists else None)
            metrics = self._metrics(result)
            rates = self._rates_used(epoch)
            for slot in active:  # fit's logs, the run's own
                logs[slot] = {name: float(metrics[name][slot]) for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
                lists[slot].on_epoch_end(epoch - 1, logs[slot])
            recorder.add(epoch, metrics, rates, time.perf_counter() - start, result.updates, running)
            if on_epoch is not None:
                on_epoch(running.sum() / config.epochs)
                reported += running.sum() / config.epochs
            if after_epoch is not None:
                after_epoch(epoch)
            for slot in active:
                if lists[slot].model.stop_training:
                    running[slot] = False
                    lists[slot].on_train_end(logs[slot])
                    self._stopped(slot)
            if not running.any():
                break
        for slot in np.flatnonzero(running) if lists else ():
            lists[slot].on_train_end(logs[slot])
        self._finished()
        if on_epoch is not None and count - reported > 1e-9:
            on_epoch(count - reported)  # stopped early: the runs are done
        return recorder.frame()

    def _callback_lists(self) -> list[keras.callbacks.CallbackList]:
        """One ``CallbackList`` per run, or none when the runs have no callbacks."""
        return []

    def _stopped(self, slot: int) -> None:
        """Run ``slot`` stopped (its callbacks have had ``on_train_end``)."""

    def _finished(self) -> None:
        """Every run has ended."""

    def _epochs_per_call(self) -> int:
        """How many epochs :meth:`_epochs` may train in one call when no run has callbacks (1: call ``_epoch``)."""
        return 1

    def _epochs(self, orders: np.ndarray) -> list[EpochResult]:
        """Train one epoch on each ``[S, n]`` order of ``orders`` (``[epochs, S, n]``)."""
        raise NotImplementedError

    def _rates_used(self, epoch: int):
        """The rate of the last update up to the end of ``epoch`` (before any update: of the first)."""
        raise NotImplementedError


