"""The book's one training function.

:func:`train` trains a model for a :class:`~lrnotes.config.RunConfig` and a
seed and returns a tidy per-epoch record (:mod:`lrnotes.records`);
:func:`train_many` does the same for several seeds, :func:`train_stacked` for
several configurations.

How it is fast, and why it is still Keras
-----------------------------------------
``model.fit`` spends most of its time on per-batch overhead when the model is
as small as the book's testbed. The engine here compiles a whole epoch (all
of its batches) into one ``tf.function`` and applies the updates with a real
Keras optimizer (``optimizer.apply``), so learning-rate schedules, momentum
and the adaptive optimizers are Keras' own code.

Runs train *side by side*: the weights
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
against Eigen's, compiled in; see ``MIN_ROWS``). So a seed trained alone
gives bit-for-bit the record it gives inside a stack of any size, on any
x86-64 CPU (the tests check it with oneDNN on and off and with its
instruction set capped at AVX2). Records of the same configuration, seed,
software and machine are identical; another CPU or another TensorFlow may
round differently in the last bits, which is why the sweep cache keys
every entry on both (:mod:`lrnotes.environment`).

Runs with the epoch-level callbacks ``ReduceLROnPlateau``,
``LearningRateScheduler`` and ``EarlyStopping`` train side by side too: each
run has its own copies of its callbacks, called with its own logs, which set
its own rate and stop it alone (:mod:`lrnotes.row_callbacks`); its record is
bit for bit the one it gets alone. Runs with other callbacks (batch hooks,
``ModelCheckpoint``, ``TerminateOnNaN``, a callback of the reader's) use a
real ``keras.Model`` (one seed at a time) and call the callbacks as ``fit``
does. A convolutional network stacks too, each row through its own
convolutions (:mod:`lrnotes.stacked_forward`).

"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from lrnotes import validation
from lrnotes._runtime import keras
from lrnotes.config import RunConfig
from lrnotes.engine_keras import KerasRun
from lrnotes.engine_stacked import StackedDense
from lrnotes.stacking import can_stack, stack_key

__all__ = ["train", "train_many", "train_stacked", "train_with_model"]


def train(config: RunConfig, seed: int = 0) -> pd.DataFrame:
    """Train one run and return its per-epoch record.

    Parameters
    ----------
    config : RunConfig
        What to train.
    seed : int, default 0
        Seeds the initial weights and the order of the batches.

    Returns
    -------
    pandas.DataFrame
        The record (columns :data:`lrnotes.records.RECORD_COLUMNS`).

    Examples
    --------
    >>> record = train(RunConfig(learning_rate=0.1, epochs=3), seed=0)
    >>> list(record["epoch"])
    [0, 1, 2, 3]
    >>> bool(record["val_accuracy"].iloc[-1] > 0.6)
    True
    """
    validation.seeds([seed])
    if can_stack(config):  # no Keras model to build: building one resets TensorFlow's seed and its caches
        return StackedDense([config], [seed]).run().drop(columns="slot")
    return KerasRun(config, seed).run().drop(columns="slot")


def train_with_model(config: RunConfig, seed: int = 0) -> tuple[pd.DataFrame, keras.Model]:
    """Train one run; return its record and the trained ``keras.Model``.

    The model holds the weights the run ended with (those an
    ``EarlyStopping(restore_best_weights=True)`` restored, if it did).

    Examples
    --------
    >>> record, model = train_with_model(RunConfig(learning_rate=0.1, epochs=2), seed=0)
    >>> len(record), model.count_params()
    (3, 303)
    """
    validation.seeds([seed])
    if can_stack(config):
        engine = StackedDense([config], [seed])
        return engine.run().drop(columns="slot"), engine.keras_model(0)
    run = KerasRun(config, seed)
    return run.run().drop(columns="slot"), run.model


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
    ``on_epoch(runs)`` is called after every epoch, or every call of
    several epochs, with the (fraction of) runs it completed, for progress
    bars.

    Examples
    --------
    >>> records = train_stacked([RunConfig(learning_rate=0.1, epochs=2), RunConfig(learning_rate=0.01, epochs=2)], [0])
    >>> [float(record["learning_rate"].iloc[-1]) for record in records]
    [0.1, 0.01]
    """
    seeds = validation.seeds(seeds)
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
                [KerasRun(config, seed).run(on_epoch).drop(columns="slot") for seed in seeds], ignore_index=True
            )
        else:
            groups.setdefault(key, []).append(index)
    for members in groups.values():
        frame = StackedDense([configs[i] for i in members], seeds).run(on_epoch)
        for position, index in enumerate(members):
            part = frame[frame["slot"] // len(seeds) == position]
            results[index] = part.drop(columns="slot").reset_index(drop=True)
    return results
