"""The book's one training function.

:func:`train` trains a model for a :class:`RunConfig` and a seed and returns a
tidy per-epoch record; :func:`train_many` does the same for several seeds.

How it is fast, and why it is still Keras
-----------------------------------------
``model.fit`` spends most of its time on per-batch overhead when the model is
as small as the book's testbed. The engine here compiles a whole epoch (all
of its batches) into one ``tf.function`` and applies the updates with a real
Keras optimizer (``optimizer.apply``), so learning-rate schedules, momentum
and the adaptive optimizers are Keras' own code.

For dense networks without callbacks, runs train *side by side*: the weights
of run ``s`` are row ``s`` of one stacked variable, each row sees its own
shuffled batches and its own learning rate (a constant or a schedule), and
one graph updates them all. This is exact because every Keras optimizer that
may stack updates each weight from that weight's own gradient and state
(nothing couples the rows; ``clipnorm`` would, so it is not stacked), and the
loss of the stack is the sum of the per-run losses. Every operation is chosen
so that a row's arithmetic does not depend on the other rows: batches and
weight rows are padded to multiples of 16 elements, so vectorised kernels
never fall back to scalar tails, and a stack has at least two rows, because
TensorFlow multiplies a batch of one small matrix with another kernel than a
batch of several (oneDNN's, chosen at run time by the CPU's vector width,
against Eigen's, compiled in; see ``_MIN_ROWS``). So a seed trained alone
gives bit-for-bit the record it gives inside a stack of any size, on any
x86-64 CPU (the tests check it with oneDNN on and off and with its
instruction set capped at AVX2). Records of the same configuration, seed,
software and machine are identical; another CPU or another TensorFlow may
round differently in the last bits, which is why the sweep cache keys
every entry on both (:mod:`lrnotes.environment`).

Runs with callbacks, and convolutional networks, use a real ``keras.Model``
(one seed at a time) and call the callbacks as ``fit`` does, so
``ReduceLROnPlateau``, ``LearningRateScheduler``, ``EarlyStopping``,
``ModelCheckpoint`` and ``TerminateOnNaN`` behave as they do under ``fit``.

Which optimizers
----------------
Every optimizer of ``keras.optimizers`` that trains a model on its own is
accepted (:data:`lrnotes.optimizers.OPTIMIZERS`) and checked against
``model.fit`` update by update (``tests/test_fit_equivalence.py``). Those
whose update of a weight reads only that weight's gradient and state
(:data:`ELEMENTWISE_OPTIMIZERS`) stack; ``Lamb``, ``Adafactor`` and ``Muon``
couple the elements of a variable and train one seed at a time, as do runs
with ``clipnorm`` or ``global_clipnorm`` (:func:`stack_refusal` says why).
``gradient_accumulation_steps`` works as under ``fit`` (``updates`` then
counts optimizer steps, Keras' ``iterations``; the weights change on every
k-th). Refused with a clear error: ``use_ema=True`` (Keras evaluates the raw
weights during ``fit`` and swaps in their average only at its end) and the
wrappers ``LossScaleOptimizer``, ``MultiOptimizer`` and ``OptimizerMap``.
``ScheduleFreeAdamW`` keeps its interpolated point ``y`` in the model's
variables, and Keras evaluates that point, during and after ``fit``; the
engine builds every optimizer on the initial weights before training, which
``ScheduleFreeAdamW`` needs (under ``fit`` on the TensorFlow backend, an
optimizer that ``fit`` builds itself starts its sequence ``z`` at zero).

The record
----------
One row per seed and epoch, from epoch 0 (the initial weights) to the last.

- ``loss`` and ``accuracy`` are what ``fit`` reports and hands its callbacks:
  the running mean over the epoch's batches, each measured before that
  batch's update (NaN at epoch 0, before any batch).
- ``train_loss`` and ``train_accuracy`` are measured on the whole training
  set after the epoch, the smooth curves of the figures.
- ``val_loss`` and ``val_accuracy`` are measured on the validation split
  (as ``fit`` measures ``validation_data``); callbacks that monitor
  ``val_loss`` see them, and settings are chosen by them.
- ``test_loss`` and ``test_accuracy`` are measured on the test split, which
  no choice has seen: the numbers the book reports.
- ``learning_rate`` is the rate of the epoch's last update, whatever sets it
  (a schedule, ``ReduceLROnPlateau``, ``LearningRateScheduler``, a range
  test); at epoch 0, the rate of the first update. A rate cut at the end of
  epoch ``e`` shows in the row of epoch ``e + 1``.
- ``updates`` counts the weight updates made so far (a run stopped inside an
  epoch counts the updates it made), ``seconds`` is the wall time of the
  epoch (for seeds trained side by side, the stack's time divided by the
  number of seeds).
- A run whose loss becomes NaN or infinite is marked ``diverged`` from that
  epoch on, and its metrics are NaN. As under ``fit``, its callbacks still
  see every epoch's logs (NaN included) until one of them stops training.
- A run stopped by a callback (``EarlyStopping``) ends at the epoch it
  stopped; weights it restores are those of an earlier row.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lrnotes._runtime import keras, tf
from lrnotes.data import DATASETS, Dataset, load_dataset
from lrnotes.models import CNN, MLP, ModelSpec, build_model
from lrnotes.callbacks import current_learning_rate
from lrnotes.optimizers import make_optimizer

__all__ = [
    "COUPLING_OPTIMIZERS",
    "ELEMENTWISE_OPTIMIZERS",
    "METRIC_COLUMNS",
    "RECORD_COLUMNS",
    "RunConfig",
    "can_stack",
    "stack_key",
    "stack_refusal",
    "train",
    "train_many",
    "train_stacked",
]

#: Columns of a training record, in order.
RECORD_COLUMNS = [
    "seed",
    "epoch",
    "updates",
    "loss",
    "accuracy",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "learning_rate",
    "seconds",
    "diverged",
]

#: What each metric column measures (for figures, tables and the docs).
METRIC_COLUMNS = {
    "loss": "training loss as fit reports it (running mean over the epoch's batches)",
    "accuracy": "training accuracy as fit reports it (running mean over the epoch's batches)",
    "train_loss": "loss on the whole training set after the epoch",
    "train_accuracy": "accuracy on the whole training set after the epoch",
    "val_loss": "loss on the validation split after the epoch (what callbacks monitor)",
    "val_accuracy": "accuracy on the validation split after the epoch",
    "test_loss": "loss on the test split after the epoch",
    "test_accuracy": "accuracy on the test split after the epoch",
}

_EVAL_CHUNK = 4096
_ROW_ALIGNMENT = 16
#: The fewest rows of a stack. TensorFlow's CPU kernel for batched matrix
#: products (``LaunchBatchMatMul`` in ``batch_matmul_op_impl.h``) multiplies
#: a batch of ONE small matrix with its parallel contraction kernel, whose
#: inner loop oneDNN picks at run time by the CPU's vector width (with FMA
#: on AVX2 and AVX-512 machines), and a batch of several small matrices one
#: by one with Eigen's matrix product, compiled into TensorFlow (AVX, no
#: FMA). Which kernel a product gets depends on its shape and on whether the
#: batch has one matrix, never on how many it has beyond that: with two rows
#: or more, every row of every stack goes through the same kernel, on any
#: CPU, so a run's arithmetic does not depend on its neighbours.
_MIN_ROWS = 2


def _padded(rows: int) -> int:
    """``rows`` rounded up to a multiple of 16 (a full AVX-512 vector of floats)."""
    return -(-rows // _ROW_ALIGNMENT) * _ROW_ALIGNMENT


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True, eq=False)
class RunConfig:
    """Everything that defines a training run except the seed.

    Parameters
    ----------
    data : str, default "blobs"
        A data set name (see :func:`lrnotes.load_dataset`).
    model : MLP or CNN, default MLP()
        The network; ``MLP()`` is the testbed's Dense(50) network.
    optimizer : str or keras.optimizers.Optimizer, default "sgd"
        A name (``"sgd"``, ``"adam"``, ...) or a Keras optimizer to copy.
    learning_rate : float or LearningRateSchedule, optional
        With an optimizer name: the rate, or ``None`` for the Keras default.
    options : mapping, optional
        Further optimizer arguments with a name, such as ``{"momentum": 0.9}``.
    batch_size : int or None, default 32
        Examples per update; ``None`` means the whole training set.
    epochs : int, default 200
        Passes over the training data.
    callbacks : sequence of keras.callbacks.Callback, optional
        Templates, deep-copied for every run, so runs never share state.

    Examples
    --------
    >>> config = RunConfig(optimizer="sgd", learning_rate=0.1, epochs=5)
    >>> config.steps_per_epoch
    16
    >>> RunConfig(batch_size=0)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a positive integer, got 0
    """

    data: str = "blobs"
    model: ModelSpec = field(default_factory=MLP)
    optimizer: str | keras.optimizers.Optimizer = "sgd"
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = 32
    epochs: int = 200
    callbacks: Sequence[keras.callbacks.Callback] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.data, str) or self.data not in DATASETS:
            raise ValueError(f"unknown data set {self.data!r}; expected one of: {', '.join(sorted(DATASETS))}")
        if not isinstance(self.model, (MLP, CNN)):
            raise TypeError(f"model must be an lrnotes MLP or CNN specification, got {type(self.model).__name__}")
        _positive_int("batch_size", self.batch_size, allow_none=True)
        _positive_int("epochs", self.epochs)
        if not isinstance(self.options, Mapping):
            raise TypeError(f"options must be a mapping, got {type(self.options).__name__}")
        object.__setattr__(self, "options", dict(self.options))
        callbacks = tuple(self.callbacks)
        for callback in callbacks:
            if not isinstance(callback, keras.callbacks.Callback):
                raise TypeError(f"callbacks must be Keras callbacks, got {type(callback).__name__}")
        object.__setattr__(self, "callbacks", callbacks)
        self.make_optimizer()  # validates optimizer, learning_rate and options

    @property
    def dataset(self) -> Dataset:
        """The data set (loaded once per process)."""
        return load_dataset(self.data)

    @property
    def effective_batch_size(self) -> int:
        """The batch size, with ``None`` and oversize batches mapped to the training-set size."""
        n = self.dataset.x_train.shape[0]
        return n if self.batch_size is None else min(self.batch_size, n)

    @property
    def steps_per_epoch(self) -> int:
        """Weight updates per epoch."""
        return math.ceil(self.dataset.x_train.shape[0] / self.effective_batch_size)

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """A fresh optimizer for one run."""
        return make_optimizer(self.optimizer, self.learning_rate, self.options)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)


#: Optimizers whose update of a weight depends only on that weight's own
#: gradient and state (read in Keras' source): runs stacked along a leading
#: axis do not interact.
ELEMENTWISE_OPTIMIZERS = ("SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "Adamax", "Nadam", "AdamW", "Ftrl",
                          "Lion", "ScheduleFreeAdamW")

#: Optimizers whose update couples the elements of a variable, and how.
COUPLING_OPTIMIZERS = {
    "Lamb": "it scales each variable's step by the ratio of the variable's norm to the step's norm",
    "Adafactor": "it factors each kernel's second moments into row and column means",
    "Muon": "it orthogonalises each 2-D kernel's momentum as a whole (Newton-Schulz iterations)",
}


def _optimizer_parts(config: RunConfig) -> tuple[type, dict, Any]:
    """The optimizer's class, its settings other than the rate, and the rate."""
    optimizer = config.make_optimizer()
    settings = dict(optimizer.get_config())
    settings.pop("name", None)
    rate = optimizer._learning_rate  # a float variable or a schedule
    settings.pop("learning_rate", None)
    if not isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = current_learning_rate(optimizer)
    return type(optimizer), settings, rate


def stack_refusal(config: RunConfig) -> str | None:
    """Why runs of ``config`` train one seed at a time, or ``None`` when they can stack.

    Runs train side by side (rows of one stacked variable, one graph) only
    when nothing couples the rows: a dense network (:class:`MLP`), no
    callbacks (they act on one model's logs), an optimizer from
    :data:`ELEMENTWISE_OPTIMIZERS`, and no ``clipnorm``/``global_clipnorm``
    (a norm over a stacked variable would mix the runs; ``clipvalue`` clips
    each element and may stack).

    Examples
    --------
    >>> stack_refusal(RunConfig()) is None
    True
    >>> stack_refusal(RunConfig(optimizer="lamb"))
    "Lamb couples the elements of a variable: it scales each variable's step by the ratio of the variable's norm to the step's norm"
    """
    if not isinstance(config.model, MLP):
        return "convolutional networks train through a real keras.Model, one seed at a time"
    if config.callbacks:
        return "callbacks act on one model's logs, so runs with callbacks train one seed at a time"
    cls, settings, _ = _optimizer_parts(config)
    name = cls.__name__
    if name in COUPLING_OPTIMIZERS:
        return f"{name} couples the elements of a variable: {COUPLING_OPTIMIZERS[name]}"
    if name not in ELEMENTWISE_OPTIMIZERS:
        return f"{name} is not one of the optimizers known to update each weight from its own gradient alone"
    if settings.get("clipnorm") is not None:
        return "clipnorm rescales each variable by its norm, which over stacked runs would mix them"
    if settings.get("global_clipnorm") is not None:
        return "global_clipnorm rescales by the norm of all gradients, which over stacked runs would mix them"
    return None


def can_stack(config: RunConfig) -> bool:
    """Whether runs of ``config`` can train side by side in one graph (see :func:`stack_refusal`).

    Examples
    --------
    >>> can_stack(RunConfig()), can_stack(RunConfig(optimizer="lion"))
    (True, True)
    >>> can_stack(RunConfig(optimizer="sgd", options={"global_clipnorm": 1.0}))
    False
    """
    return stack_refusal(config) is None


def stack_key(config: RunConfig) -> str | None:
    """Configurations with the same key train side by side, even with different rates.

    ``None`` when ``config`` cannot be stacked (see :func:`can_stack`). The key
    covers everything but the learning rate: runs with different constant
    rates or different schedules train side by side, each slot with its own
    rate (see ``_SlotRates``).

    Examples
    --------
    >>> stack_key(RunConfig(learning_rate=0.1)) == stack_key(RunConfig(learning_rate=0.01))
    True
    >>> stack_key(RunConfig(batch_size=16)) == stack_key(RunConfig(batch_size=32))
    False
    """
    from lrnotes.fingerprint import digest

    if not can_stack(config):
        return None
    cls, settings, rate = _optimizer_parts(config)
    return digest(
        {
            "data": config.data,
            "model": config.model,
            "optimizer": cls.__qualname__,
            "settings": settings,
            "batch_size": config.effective_batch_size,
            "epochs": config.epochs,
        }
    )


def train(config: RunConfig, seed: int = 0, *, return_model: bool = False):
    """Train one run and return its per-epoch record.

    Parameters
    ----------
    config : RunConfig
        What to train.
    seed : int, default 0
        Seeds the initial weights and the order of the batches.
    return_model : bool, default False
        Also return the trained ``keras.Model``.

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, keras.Model)
        The record (columns :data:`RECORD_COLUMNS`), and the model if asked.

    Examples
    --------
    >>> record = train(RunConfig(learning_rate=0.1, epochs=3), seed=0)
    >>> list(record["epoch"])
    [0, 1, 2, 3]
    >>> bool(record["val_accuracy"].iloc[-1] > 0.6)
    True
    """
    _check_seeds([seed])
    if can_stack(config):
        engine = _StackedDense([config], [seed])
        frame = engine.run().drop(columns="slot")
        return (frame, engine.keras_model(0)) if return_model else frame
    run = _KerasRun(config, seed)
    frame = run.run().drop(columns="slot")
    return (frame, run.model) if return_model else frame


def train_many(config: RunConfig, seeds: Sequence[int]) -> pd.DataFrame:
    """Train one run per seed and return the records, one after the other.

    Seeds train side by side in one graph when :func:`can_stack` allows;
    the result is identical to calling :func:`train` for each seed.

    Examples
    --------
    >>> records = train_many(RunConfig(epochs=2), seeds=[0, 1])
    >>> records.groupby("seed").size().to_dict()
    {0: 3, 1: 3}
    """
    return train_stacked([config], seeds)[0]


def train_stacked(
    configs: Sequence[RunConfig], seeds: Sequence[int], *, on_epoch: Callable[[float], None] | None = None
) -> list[pd.DataFrame]:
    """Train every configuration with every seed; one record per configuration.

    Configurations that share a :func:`stack_key` (they differ at most in a
    constant learning rate) train side by side in one graph, all seeds at
    once; each still gets exactly the record it would get alone.
    ``on_epoch(runs)`` is called after every epoch with the (fraction of)
    runs it completed, for progress bars.

    Examples
    --------
    >>> records = train_stacked([RunConfig(learning_rate=0.1, epochs=2), RunConfig(learning_rate=0.01, epochs=2)], [0])
    >>> [float(record["learning_rate"].iloc[-1]) for record in records]
    [0.1, 0.01]
    """
    seeds = _check_seeds(seeds)
    configs = list(configs)
    for config in configs:
        if not isinstance(config, RunConfig):
            raise TypeError(f"configs must be RunConfig objects, got {type(config).__name__}")
    results: list[pd.DataFrame | None] = [None] * len(configs)
    groups: dict[str, list[int]] = {}
    for index, config in enumerate(configs):
        key = stack_key(config)
        if key is None:
            results[index] = pd.concat(
                [_KerasRun(config, seed).run(on_epoch).drop(columns="slot") for seed in seeds], ignore_index=True
            )
        else:
            groups.setdefault(key, []).append(index)
    for members in groups.values():
        frame = _StackedDense([configs[i] for i in members], seeds).run(on_epoch)
        for position, index in enumerate(members):
            part = frame[frame["slot"] // len(seeds) == position]
            results[index] = part.drop(columns="slot").reset_index(drop=True)
    return results


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise TypeError(f"seeds must be non-negative integers, got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return [int(seed) for seed in seeds]


# --------------------------------------------------------------------------
# Shared pieces


def _loss_function(dataset: Dataset):
    """Per-example loss as Keras computes it (from the logits behind the output activation)."""
    if dataset.binary:
        return keras.losses.binary_crossentropy
    return keras.losses.categorical_crossentropy


def _correct(dataset: Dataset, y_true, y_pred):
    """Per-example accuracy as Keras' ``"accuracy"`` metric computes it."""
    if dataset.binary:
        return tf.cast(tf.equal(y_true[..., 0], tf.cast(y_pred[..., 0] > 0.5, y_true.dtype)), tf.float32)
    return tf.cast(tf.equal(tf.argmax(y_true, axis=-1), tf.argmax(y_pred, axis=-1)), tf.float32)


def _evaluation_chunks(dataset: Dataset) -> tuple[list[tuple[Any, Any]], dict[str, slice]]:
    """Training, validation then test examples, zero-padded to a multiple of 16 rows, in chunks.

    Returns the chunks and, for each split, its slice of the concatenated rows.
    """
    parts = [dataset.split(name) for name in ("train", "validation", "test")]
    x = np.concatenate([features for features, _ in parts])
    y = np.concatenate([targets for _, targets in parts])
    bounds = np.cumsum([0, *(features.shape[0] for features, _ in parts)])
    slices = {name: slice(int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(("train", "val", "test"))}
    rows = x.shape[0]
    padding = _padded(rows) - rows
    x = np.concatenate([x, np.zeros((padding, *x.shape[1:]), x.dtype)])
    y = np.concatenate([y, np.zeros((padding, *y.shape[1:]), y.dtype)])
    chunks = [
        (tf.constant(x[start : start + _EVAL_CHUNK]), tf.constant(y[start : start + _EVAL_CHUNK]))
        for start in range(0, x.shape[0], _EVAL_CHUNK)
    ]
    return chunks, slices


@dataclass
class _EpochResult:
    """What an engine hands back after an epoch (or the evaluation before training).

    ``loss`` and ``correct`` are per-example arrays ``[S, rows]`` over the
    training, validation and test examples; ``loss_total`` and
    ``correct_total`` (``[S]``) sum, over the epoch's batches, each batch's
    mean loss times its size and its correct predictions, as ``fit``'s
    metrics accumulate them; ``examples`` is the number of examples those
    batches held (0 before training) and ``updates`` the updates made.
    """

    loss: Any
    correct: Any
    loss_total: Any = None
    correct_total: Any = None
    examples: int = 0
    updates: int = 0


class _Recorder:
    """Collects per-epoch metrics of S runs and marks divergence."""

    def __init__(self, config: RunConfig, seeds: list[int]):
        self.config = config
        self.seeds = seeds
        self.rows: list[dict[str, np.ndarray]] = []
        self.diverged = np.zeros(len(seeds), dtype=bool)
        self.updates = 0

    def add(self, epoch: int, metrics: dict[str, np.ndarray], learning_rate, seconds: float, updates: int) -> None:
        finite = np.ones(len(self.seeds), dtype=bool)
        for name in ("train_loss", "val_loss", "test_loss") + (("loss",) if epoch > 0 else ()):
            finite &= np.isfinite(metrics[name])
        self.diverged |= ~finite
        self.updates += updates
        row = {name: np.where(self.diverged, np.nan, value) for name, value in metrics.items()}
        row["epoch"] = np.full(len(self.seeds), epoch)
        row["updates"] = np.full(len(self.seeds), self.updates)
        row["learning_rate"] = np.broadcast_to(np.asarray(learning_rate, dtype=float), len(self.seeds)).copy()
        row["seconds"] = np.full(len(self.seeds), seconds / len(self.seeds))
        row["diverged"] = self.diverged.copy()
        self.rows.append(row)

    def frame(self) -> pd.DataFrame:
        columns = {name: np.stack([row[name] for row in self.rows], axis=1).ravel() for name in self.rows[0]}
        frame = pd.DataFrame(columns)
        frame.insert(0, "seed", np.repeat(self.seeds, len(self.rows)))
        frame.insert(0, "slot", np.repeat(np.arange(len(self.seeds)), len(self.rows)))
        frame["epoch"] = frame["epoch"].astype(int)
        frame["updates"] = frame["updates"].astype(int)
        frame["diverged"] = frame["diverged"].astype(bool)
        return frame[["slot", *RECORD_COLUMNS]]


class _Engine:
    """The epoch loop shared by both engines.

    Subclasses provide ``_first_evaluation()`` and ``_epoch(order, callbacks)``,
    each returning an :class:`_EpochResult` (``_epoch`` trains one epoch on
    the given ``[S, n]`` order first), and ``_rates_used()``: the rate of the
    last update made (before any update: the rate of the first one).

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
        self.eval_chunks, self.split_rows = _evaluation_chunks(self.dataset)

    def _metrics(self, result: _EpochResult) -> dict[str, np.ndarray]:
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
        # float64 means over each seed's row: the same order whatever the stack size
        with np.errstate(invalid="ignore", over="ignore"):
            for split, rows in self.split_rows.items():
                metrics[f"{split}_loss"] = loss[:, rows].mean(axis=1)
                metrics[f"{split}_accuracy"] = correct[:, rows].mean(axis=1)
        return metrics

    def run(self, on_epoch: Callable[[float], None] | None = None) -> pd.DataFrame:
        """Train; ``on_epoch(runs)`` reports progress in (fractions of) runs."""
        config = self.config
        reported = 0.0
        recorder = _Recorder(config, self.seeds)
        generators = [np.random.default_rng(seed) for seed in self.seeds]
        n = self.dataset.x_train.shape[0]
        callbacks = self._callback_list()
        callbacks.on_train_begin()
        start = time.perf_counter()
        first = self._first_evaluation()
        recorder.add(0, self._metrics(first), self._rates_used(), time.perf_counter() - start, 0)
        logs = None
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            order = np.stack([generator.permutation(n) for generator in generators]).astype(np.int32)
            callbacks.on_epoch_begin(epoch - 1)
            result = self._epoch(order, callbacks)
            metrics = self._metrics(result)
            rates = self._rates_used()
            if self.model is not None:  # one run with a real keras.Model: fit's logs to its callbacks
                logs = {name: float(metrics[name][0]) for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
                callbacks.on_epoch_end(epoch - 1, logs)
            recorder.add(epoch, metrics, rates, time.perf_counter() - start, result.updates)
            if on_epoch is not None:
                on_epoch(len(self.seeds) / config.epochs)
                reported += len(self.seeds) / config.epochs
            if self.model is not None and self.model.stop_training:
                break
        callbacks.on_train_end(logs)
        if on_epoch is not None and len(self.seeds) - reported > 1e-9:
            on_epoch(len(self.seeds) - reported)  # stopped early: the run is done
        return recorder.frame()

    def _callback_list(self) -> keras.callbacks.CallbackList:
        return keras.callbacks.CallbackList([], model=self.model)

    def _rates_used(self):
        raise NotImplementedError


# --------------------------------------------------------------------------
# Seeds side by side: dense networks without callbacks


@tf.custom_gradient
def _add_bias(x, bias):
    """``x + bias`` per slice (``bias`` of shape ``[S, 1, units]``), with a bias
    gradient whose summation order does not depend on the number of slices
    (``tf.reduce_sum`` over the middle axis does, by a rounding error)."""

    def gradient(upstream):
        return upstream, tf.reduce_sum(tf.transpose(upstream, [0, 2, 1]), axis=-1)[:, None, :]

    return x + bias, gradient


class _SlotRates(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of every stacked run, shaped ``[S, 1]``.

    ``rates`` has one entry per configuration (a constant or a Keras
    schedule), repeated for each of its ``seeds`` slots. Every update rule of
    the elementwise optimizers multiplies by the rate (or by a step size
    computed elementwise from it), so the rate of slot ``s`` reaches exactly
    the weights of slot ``s``, with the value its schedule would have alone.
    """

    def __init__(self, rates: Sequence[Any], seeds: int, spare: int = 0):
        self.rates = list(rates)
        self.seeds = int(seeds)
        self.spare = int(spare)  # rows added to the stack (see _MIN_ROWS) repeat the last slot's rate
        self.constant = not any(isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) for rate in rates)
        if self.constant:
            values = self._pad(np.repeat(np.asarray(self.rates, np.float32), self.seeds))
            self._tensor = tf.constant(values.reshape(-1, 1))

    def _pad(self, values):
        if not self.spare:
            return values
        if isinstance(values, np.ndarray):
            return np.concatenate([values, np.repeat(values[-1:], self.spare)])
        return tf.concat([values, tf.repeat(values[-1:], self.spare)], axis=0)

    def __call__(self, step):
        if self.constant:
            return self._tensor
        values = [
            tf.cast(rate(step), tf.float32)
            if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
            else tf.constant(rate, tf.float32)
            for rate in self.rates
        ]
        return tf.reshape(self._pad(tf.repeat(tf.stack(values), self.seeds)), [-1, 1])

    def values(self, step) -> np.ndarray:
        """The rate of every slot at ``step``, as the shortest decimals of their float32 values."""
        per_config = [
            float(str(np.float32(rate(step)))) if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
            else float(str(np.float32(rate)))
            for rate in self.rates
        ]
        return np.repeat(per_config, self.seeds)

    def get_config(self) -> dict:
        return {"rates": [repr(rate) for rate in self.rates], "seeds": self.seeds, "spare": self.spare}


@functools.lru_cache(maxsize=256)
def _initial_weights(spec: MLP, data: str, seed: int) -> tuple[np.ndarray, ...]:
    """The initial weights that ``spec.build(dataset, seed)`` has (memoised)."""
    return tuple(build_model(spec, load_dataset(data), seed).get_weights())


class _StackedDense(_Engine):
    def __init__(self, configs: list[RunConfig], seeds: list[int]):
        self.config = config = configs[0]
        self.seeds = [seed for _ in configs for seed in seeds]
        self.dataset = dataset = config.dataset
        per_slot = [_initial_weights(config.model, config.data, seed) for seed in self.seeds]
        # A stack has at least _MIN_ROWS rows: TensorFlow's CPU BatchMatMul
        # sends a batch of one matrix to another kernel than a batch of
        # several (see _MIN_ROWS), so a lone run gets a spare copy of itself.
        self.spare = max(0, _MIN_ROWS - len(per_slot))
        per_slot += [per_slot[-1]] * self.spare
        # All weights of a slot live in ONE flat row of one variable: the
        # optimizer then updates everything with a single set of elementwise
        # ops. Each weight array starts at a multiple of 16 elements and the
        # row is padded to one, so the optimizer's kernels process every slot
        # in full vectors, never in a scalar tail whose rounding (of sqrt, for
        # one) differs. Padding gets zero gradients and stays zero under every
        # elementwise optimizer.
        self.shapes = [weights.shape for weights in per_slot[0]]
        self.offsets = []
        total = 0
        for shape in self.shapes:
            self.offsets.append(total)
            total += _padded(int(np.prod(shape)))
        flat = np.zeros((len(per_slot), total), np.float32)
        for i, (shape, offset) in enumerate(zip(self.shapes, self.offsets)):
            flat[:, offset : offset + int(np.prod(shape))] = np.stack([weights[i].ravel() for weights in per_slot])
        self.variable = keras.Variable(flat, name="stacked_weights")
        self.variables = [self.variable]
        spec: MLP = config.model
        hidden = keras.activations.get(spec.activation)
        self.activations = [hidden] * len(spec.hidden) + [None]  # the output layer gives logits
        cls, settings, _ = _optimizer_parts(config)
        self.slot_rates = _SlotRates([_optimizer_parts(c)[2] for c in configs], len(seeds), self.spare)
        self.optimizer = cls(learning_rate=self.slot_rates, **settings)
        self.optimizer.build(self.variables)
        self._setup_evaluation()
        x_train = tf.constant(dataset.x_train)
        y_train = tf.constant(dataset.y_train)
        size = len(per_slot)
        self.padded_batch = _padded(config.effective_batch_size)
        binary = dataset.binary

        def per_example_loss(y, logits):
            # What Keras' cross-entropy computes for a softmax (sigmoid) output:
            # it takes the logits behind the activation.
            if binary:
                return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), axis=-1)
            return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)

        def evaluate():
            losses, hits = [], []
            for x, y in self.eval_chunks:
                x = tf.broadcast_to(x[None], [size, *x.shape])
                y = tf.broadcast_to(y[None], [size, *y.shape])
                logits = self._forward(x)
                losses.append(per_example_loss(y, logits))
                hits.append(_correct(dataset, y, tf.sigmoid(logits) if binary else logits))
            return tf.concat(losses, axis=1), tf.concat(hits, axis=1)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, size, self.padded_batch], tf.int32),
                tf.TensorSpec([None, self.padded_batch], tf.float32),
            ]
        )
        def train_epoch(index, weights):
            # fit's running metrics: each batch's mean loss times its size, and
            # its correct predictions, summed over the epoch (float32, as Keras' Mean)
            loss_total = tf.zeros([size], tf.float32)
            correct_total = tf.zeros([size], tf.float32)
            for step in tf.range(tf.shape(index)[0]):
                x_batch = tf.gather(x_train, index[step])
                y_batch = tf.gather(y_train, index[step])
                real = tf.cast(weights[step] > 0, tf.float32)
                with tf.GradientTape() as tape:
                    logits = self._forward(x_batch)
                    batch_means = tf.reduce_sum(per_example_loss(y_batch, logits) * weights[step], axis=-1)
                    total = tf.reduce_sum(batch_means)
                gradients = tape.gradient(total, self.variables)
                self.optimizer.apply(gradients, self.variables)
                loss_total += batch_means * tf.reduce_sum(real)
                hits = _correct(dataset, y_batch, tf.sigmoid(logits) if binary else logits)
                correct_total += tf.reduce_sum(hits * real, axis=-1)
            return (*evaluate(), loss_total, correct_total)

        self._train_epoch = train_epoch.get_concrete_function()
        # Zero steps: the evaluation alone, through the same traced function.
        self._no_steps = (tf.zeros([0, size, self.padded_batch], tf.int32), tf.zeros([0, self.padded_batch]))

    def _rates_used(self):
        """Each slot's rate at the last update made (before training: at the first)."""
        return self.slot_rates.values(max(int(self.optimizer.iterations.numpy()) - 1, 0))

    def _weights(self, index: int, *, bias: bool):
        """Weight array ``index`` of every slot, in its layer's shape."""
        shape, offset = self.shapes[index], self.offsets[index]
        flat = self.variable[:, offset : offset + int(np.prod(shape))]
        return tf.reshape(flat, [-1, 1, *shape] if bias else [-1, *shape])

    def _forward(self, x):
        """The logits of every slot (the output activation is left to the loss)."""
        for layer, activation in enumerate(self.activations):
            kernel = self._weights(2 * layer, bias=False)
            bias = self._weights(2 * layer + 1, bias=True)
            x = _add_bias(tf.matmul(x, kernel), bias)
            if activation is not None:
                x = activation(x)
        return x

    def _real_rows(self, outputs):
        """The outputs of the real runs (without the spare rows)."""
        count = len(self.seeds)
        return tuple(output[:count] for output in outputs)

    def _first_evaluation(self):
        loss, correct, _, _ = self._real_rows(self._train_epoch(*self._no_steps))
        return _EpochResult(loss, correct)

    def _epoch(self, order: np.ndarray, callbacks):
        if self.spare:
            order = np.concatenate([order, np.repeat(order[-1:], self.spare, axis=0)])
        loss, correct, loss_total, correct_total = self._real_rows(self._train_epoch(*self._batches(order)))
        return _EpochResult(loss, correct, loss_total, correct_total, examples=order.shape[1],
                            updates=self.config.steps_per_epoch)

    def _batches(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split each seed's shuffled order into batches padded to a common width.

        Padding rows repeat example 0 and carry zero weight in the loss, so
        they change no gradient; they keep every tensor a multiple of 16 rows
        per seed, so vectorised kernels never fall back to scalar tails whose
        rounding differs (which would make a seed's result depend on its
        neighbours in the stack).
        """
        size, n = order.shape
        batch = self.config.effective_batch_size
        steps = self.config.steps_per_epoch
        index = np.zeros((steps, size, self.padded_batch), dtype=np.int32)
        weights = np.zeros((steps, self.padded_batch), dtype=np.float32)
        for step in range(steps):
            chunk = order[:, step * batch : (step + 1) * batch]
            index[step, :, : chunk.shape[1]] = chunk
            weights[step, : chunk.shape[1]] = np.float32(1.0) / np.float32(chunk.shape[1])  # the batch mean
        return tf.constant(index), tf.constant(weights)

    def slot_weights(self, slot: int) -> list[np.ndarray]:
        """The weights of one slot, in the shapes of its Keras model's ``get_weights()``."""
        row = self.variable.numpy()[slot]
        return [row[offset : offset + int(np.prod(shape))].reshape(shape) for shape, offset in zip(self.shapes, self.offsets)]

    def trace_updates(self, count: int) -> list[list[list[np.ndarray]]]:
        """Train update by update, on the batches :meth:`run` would use; the weights after each.

        Returns ``count`` entries, one per update, each holding every real
        slot's weights (as :meth:`slot_weights`). Each update goes through
        the same traced function as a whole epoch, cut to one step, so the
        tests can compare the engine with ``model.fit`` after every update.
        """
        generators = [np.random.default_rng(seed) for seed in self.seeds]
        n = self.dataset.x_train.shape[0]
        trace: list[list[list[np.ndarray]]] = []
        while len(trace) < count:
            order = np.stack([generator.permutation(n) for generator in generators]).astype(np.int32)
            if self.spare:
                order = np.concatenate([order, np.repeat(order[-1:], self.spare, axis=0)])
            index, weights = self._batches(order)
            for step in range(index.shape[0]):
                self._train_epoch(index[step : step + 1], weights[step : step + 1])
                trace.append([self.slot_weights(slot) for slot in range(len(self.seeds))])
                if len(trace) == count:
                    break
        return trace

    def keras_model(self, slot: int) -> keras.Model:
        """A real Keras model holding the weights of one slot."""
        model = build_model(self.config.model, self.dataset, self.seeds[slot])
        model.set_weights(self.slot_weights(slot))
        return model


# --------------------------------------------------------------------------
# One seed with a real keras.Model: callbacks, convolutional networks


def _needs_batch_hooks(callback: keras.callbacks.Callback) -> bool:
    base = keras.callbacks.Callback
    return any(
        getattr(type(callback), hook) is not getattr(base, hook)
        for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    )


class _KerasRun(_Engine):
    def __init__(self, config: RunConfig, seed: int):
        import copy

        self.config = config
        self.seeds = [seed]
        self.dataset = dataset = config.dataset
        self.model = model = build_model(config.model, dataset, seed)
        self.optimizer = config.make_optimizer()
        self.loss_fn = _loss_function(dataset)
        model.compile(
            optimizer=self.optimizer,
            loss="binary_crossentropy" if dataset.binary else "categorical_crossentropy",
            metrics=["accuracy"],
        )
        # Build the compiled metrics, so callbacks can tell "accuracy" is to be maximised.
        model.compute_metrics(dataset.x_train[:1], dataset.y_train[:1], model(dataset.x_train[:1]))
        model.reset_metrics()
        self.callbacks = [copy.deepcopy(callback) for callback in config.callbacks]
        self.batch_hooks = any(_needs_batch_hooks(callback) for callback in self.callbacks)
        self._setup_evaluation()
        x_train = tf.constant(dataset.x_train)
        y_train = tf.constant(dataset.y_train)
        n = dataset.x_train.shape[0]
        batch = config.effective_batch_size
        steps = config.steps_per_epoch
        variables = model.trainable_variables
        self.optimizer.build(variables)

        def step(x_batch, y_batch):
            with tf.GradientTape() as tape:
                probabilities = model(x_batch, training=True)
                loss = tf.reduce_mean(self.loss_fn(y_batch, probabilities))
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            return loss, tf.reduce_sum(_correct(dataset, y_batch, probabilities))

        def evaluate():
            losses, hits = [], []
            for x, y in self.eval_chunks:
                probabilities = model(x, training=False)
                losses.append(self.loss_fn(y, probabilities))
                hits.append(_correct(dataset, y, probabilities))
            return tf.concat(losses, axis=0)[None], tf.concat(hits, axis=0)[None]

        @tf.function(input_signature=[tf.TensorSpec([n], tf.int32)])
        def train_epoch(order):
            # fit's running metrics, accumulated in float32 as Keras' Mean does
            loss_total = tf.zeros([], tf.float32)
            correct_total = tf.zeros([], tf.float32)
            for index in tf.range(steps):
                batch_index = order[index * batch : tf.minimum((index + 1) * batch, n)]
                loss, correct = step(tf.gather(x_train, batch_index), tf.gather(y_train, batch_index))
                loss_total += loss * tf.cast(tf.size(batch_index), tf.float32)
                correct_total += correct
            return (*evaluate(), loss_total[None], correct_total[None])

        self._evaluate = tf.function(evaluate).get_concrete_function()
        if self.batch_hooks:
            shape = [None, *dataset.input_shape]
            self._train_step = tf.function(
                step,
                input_signature=[tf.TensorSpec(shape, tf.float32), tf.TensorSpec([None, dataset.output_units], tf.float32)],
            ).get_concrete_function()
        else:
            self._train_epoch = train_epoch.get_concrete_function()
        self._rate = current_learning_rate(self.optimizer)

    def _callback_list(self) -> keras.callbacks.CallbackList:
        self.model.stop_training = False
        return keras.callbacks.CallbackList(
            self.callbacks, model=self.model, epochs=self.config.epochs, steps=self.config.steps_per_epoch, verbose=0
        )

    def _rates_used(self):
        return self._rate

    def _first_evaluation(self):
        loss, correct = self._evaluate()
        return _EpochResult(loss, correct)

    def _epoch(self, order: np.ndarray, callbacks):
        schedule = self.optimizer._learning_rate
        if not self.batch_hooks:
            # No callback runs between the epoch's updates: a rate variable
            # keeps the value it has now; a schedule moves with the steps.
            rate = current_learning_rate(self.optimizer)
            loss, correct, loss_total, correct_total = self._train_epoch(tf.constant(order[0]))
            if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
                rate = _schedule_value(schedule, int(self.optimizer.iterations.numpy()) - 1)
            self._rate = rate
            return _EpochResult(loss, correct, loss_total, correct_total, examples=order.shape[1],
                                updates=self.config.steps_per_epoch)
        # Batch by batch, calling the batch hooks as fit does (and stopping
        # inside the epoch when a callback sets model.stop_training).
        batch = self.config.effective_batch_size
        loss_total = correct_total = np.float32(0.0)
        examples = updates = 0
        for index in range(self.config.steps_per_epoch):
            batch_index = order[0, index * batch : (index + 1) * batch]
            callbacks.on_train_batch_begin(index)
            self._rate = current_learning_rate(self.optimizer)  # the rate of this update
            loss, correct = self._train_step(tf.constant(self.dataset.x_train[batch_index]),
                                             tf.constant(self.dataset.y_train[batch_index]))
            updates += 1
            examples += batch_index.size
            loss_total = np.float32(loss_total + np.float32(loss) * np.float32(batch_index.size))
            correct_total = np.float32(correct_total + np.float32(correct))
            # fit hands the batch hooks its metrics so far: running means over the epoch's batches
            with np.errstate(invalid="ignore", over="ignore"):
                running = {"loss": float(loss_total / np.float32(examples)),
                           "accuracy": float(correct_total / np.float32(examples))}
            callbacks.on_train_batch_end(index, running)
            if self.model.stop_training:
                break
        loss, correct = self._evaluate()
        return _EpochResult(loss, correct, np.array([loss_total]), np.array([correct_total]),
                            examples=examples, updates=updates)


def _schedule_value(schedule, step: int) -> float:
    """A schedule's rate at ``step`` (at least 0), as the shortest decimal of its float32 value."""
    return float(str(np.float32(schedule(max(step, 0)))))
