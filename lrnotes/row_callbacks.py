"""Keras callbacks for runs trained side by side: each row of a stack with its own callbacks.

``fit`` hands its callbacks a model; a stack (:mod:`lrnotes.engine_stacked`)
holds many runs in one set of variables. Each run of a stack gets its own
deep copies of its configuration's callbacks and a :class:`RowModel`: a
stand-in for that run's ``keras.Model`` with exactly what the epoch-level
callbacks of :data:`STACKABLE_CALLBACKS` use (read in Keras' source,
``keras/src/callbacks``):

- ``model.optimizer.learning_rate``, read and set by ``ReduceLROnPlateau``
  and ``LearningRateScheduler``: the run's own entry of the stack's rate
  variable, rounded to float32 on assignment as a Keras optimizer's rate
  variable rounds it;
- ``model.stop_training``, set by ``EarlyStopping``: that run stops (its
  record ends at that epoch, its callbacks get ``on_train_end``) while the
  others train on;
- ``model.get_weights()`` and ``model.set_weights()``, with which
  ``EarlyStopping(restore_best_weights=True)`` keeps and restores the best
  weights: the run's own row;
- ``model.metrics``, from which a callback in ``mode="auto"`` learns whether
  ``"accuracy"`` is maximised: the compiled metrics of a real model of the
  configuration.

The callbacks are called in ``fit``'s order at the end of every epoch, with
the run's own logs, so each row does what it would do alone. A callback with
batch hooks, or of another kind (``ModelCheckpoint`` saves a whole model;
an arbitrary callback may touch anything), trains one seed at a time through
a real ``keras.Model`` (:func:`callbacks_refusal` says why).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrnotes._runtime import keras
from lrnotes.data import load_dataset
from lrnotes.models import build_model

__all__ = ["STACKABLE_CALLBACKS", "RowModel", "RowOptimizer", "callbacks_refusal", "compiled_metrics",
           "row_callback_lists"]

#: Callbacks that train side by side: they act at the end or the beginning of
#: an epoch, through the rate, ``stop_training`` and the weights only.
STACKABLE_CALLBACKS = (
    keras.callbacks.ReduceLROnPlateau,
    keras.callbacks.LearningRateScheduler,
    keras.callbacks.EarlyStopping,
)


def callbacks_refusal(callbacks: Sequence[Any], learning_rate: Any) -> str | None:
    """Why runs with these callbacks train one seed at a time, or ``None`` when they can stack.

    Parameters
    ----------
    callbacks : sequence of keras.callbacks.Callback
        A configuration's callbacks.
    learning_rate : float or keras.optimizers.schedules.LearningRateSchedule
        The configuration's rate: callbacks stack only with a constant one,
        which they may set (a schedule makes Keras' rate unsettable).

    Examples
    --------
    >>> callbacks_refusal([keras.callbacks.ReduceLROnPlateau()], 0.1) is None
    True
    >>> callbacks_refusal([keras.callbacks.TerminateOnNaN()], 0.1)
    'TerminateOnNaN is not one of the callbacks that train side by side (ReduceLROnPlateau, LearningRateScheduler, EarlyStopping)'
    """
    for callback in callbacks:
        if type(callback) not in STACKABLE_CALLBACKS:  # exactly these: a subclass may touch more of the model
            names = ", ".join(kind.__name__ for kind in STACKABLE_CALLBACKS)
            return f"{type(callback).__name__} is not one of the callbacks that train side by side ({names})"
    if callbacks and isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return "callbacks train side by side only with a constant rate (a schedule makes the rate unsettable)"
    return None


class RowOptimizer:
    """The optimizer as one run of a stack sees it: its own learning rate, nothing else."""

    def __init__(self, rates, slot: int):
        self._rates, self._slot = rates, slot

    @property
    def learning_rate(self) -> np.float32:
        return self._rates.rate_of(self._slot)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, keras.optimizers.schedules.LearningRateSchedule) or callable(value):
            raise TypeError("a run trained side by side takes a float learning rate from its callbacks")
        self._rates.set_rate_of(self._slot, float(value))


class RowModel:
    """One run of a stack, as its callbacks see it (see the module notes).

    ``engine`` is the :class:`~lrnotes.engine_stacked.StackedDense` that
    trains it and ``slot`` its row.
    """

    def __init__(self, engine, slot: int):
        self._engine, self._slot = engine, slot
        self.optimizer = RowOptimizer(engine.slot_rates, slot)
        self.stop_training = False
        self._final: np.ndarray | None = None

    def get_weights(self) -> list[np.ndarray]:
        return self._engine.slot_weights(self._slot)

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        shapes = self._engine.shapes
        if len(weights) != len(shapes) or any(np.shape(w) != tuple(s) for w, s in zip(weights, shapes)):
            raise ValueError(f"set_weights needs {len(shapes)} arrays of shapes {[tuple(s) for s in shapes]}")
        self._engine.set_slot_weights(self._slot, weights)

    @property
    def metrics(self) -> list:
        return compiled_metrics(self._engine.config)

    def stopped(self) -> None:
        """Keep the row's weights as they are now (after ``on_train_end``): the stack trains on without it."""
        self._final = self._engine.variable.numpy()[self._slot].copy()

    def restore(self) -> None:
        """Put back the weights kept when the run stopped (after the whole stack has trained)."""
        if self._final is not None:
            values = self._engine.variable.numpy()
            values[self._slot] = self._final
            self._engine.variable.assign(values)


def compiled_metrics(config) -> list:
    """What ``model.metrics`` lists for a model of ``config`` compiled as the engines compile it.

    Examples
    --------
    >>> from lrnotes.config import RunConfig
    >>> [metric.name for metric in compiled_metrics(RunConfig())]
    ['loss', 'compile_metrics']
    """
    return _compiled_metrics(config.model, config.data)


@functools.lru_cache(maxsize=16)
def _compiled_metrics(spec, data: str) -> list:
    dataset = load_dataset(data)
    model = build_model(spec, dataset, 0)
    model.compile(optimizer="sgd", loss="binary_crossentropy" if dataset.binary else "categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = dataset.x_train[:1], dataset.y_train[:1]
    model.compute_metrics(x, y, model(x))
    return model.metrics


def row_callback_lists(engine, configs: Sequence[Any], seeds: int) -> list[keras.callbacks.CallbackList]:
    """One ``CallbackList`` per real row of ``engine``: deep copies of its configuration's callbacks on a :class:`RowModel`.

    ``configs[i]`` owns rows ``i * seeds`` to ``(i + 1) * seeds - 1``. Empty
    when no configuration has callbacks (nothing to call).
    """
    if not any(config.callbacks for config in configs):
        return []
    lists = []
    for index, config in enumerate(configs):
        for offset in range(seeds):
            model = RowModel(engine, index * seeds + offset)
            lists.append(keras.callbacks.CallbackList(
                [copy.deepcopy(callback) for callback in config.callbacks], model=model,
                epochs=config.epochs, steps=config.steps_per_epoch, verbose=0))
    return lists
