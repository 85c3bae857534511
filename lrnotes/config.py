"""What defines a training run, except its seed: :class:`RunConfig`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from lrnotes import validation
from lrnotes._runtime import keras
from lrnotes.data import DATASETS, Dataset, load_dataset
from lrnotes.models import CNN, MLP, ModelSpec
from lrnotes.optimizers import make_optimizer, parts_of

__all__ = ["RunConfig"]


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
    ValueError: batch_size must be a positive integer or None, got 0
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
        validation.integer("batch_size", self.batch_size, allow_none=True)
        validation.integer("epochs", self.epochs)
        if not isinstance(self.options, Mapping):
            raise TypeError(f"options must be a mapping, got {type(self.options).__name__}")
        # read-only after validation: a configuration cannot change under a cache key
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        callbacks = tuple(self.callbacks)
        for callback in callbacks:
            if not isinstance(callback, keras.callbacks.Callback):
                raise TypeError(f"callbacks must be Keras callbacks, got {type(callback).__name__}")
        object.__setattr__(self, "callbacks", callbacks)
        optimizer = self.make_optimizer()  # validates optimizer, learning_rate and options
        # A name, a rate and read-only options cannot change: their optimizer's parts are kept for
        # lrnotes.stacking.optimizer_parts (and travel with the configuration to a sweep's
        # workers). An optimizer instance can change, and is read afresh.
        object.__setattr__(self, "_optimizer_parts", parts_of(optimizer) if isinstance(self.optimizer, str) else None)

    def __getstate__(self) -> dict[str, Any]:
        # the read-only view of the options does not pickle; the options do
        return {**self.__dict__, "options": dict(self.options)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, options=MappingProxyType(dict(state["options"])))

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
