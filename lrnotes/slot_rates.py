"""The learning rate of every row of a stack (:mod:`lrnotes.engine_stacked`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lrnotes._runtime import keras, tf

__all__ = ["SlotRates", "all_constant"]


class SlotRates(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of every stacked run, shaped ``[S, 1]``.

    ``rates`` has one entry per configuration (a constant or a Keras
    schedule), repeated for each of its ``seeds`` slots. Every update rule of
    the elementwise optimizers multiplies by the rate (or by a step size
    computed elementwise from it), so the rate of slot ``s`` reaches exactly
    the weights of slot ``s``, with the value its schedule would have alone.
    Constant rates are the values of a variable, so a traced stack can train
    other rates (:meth:`set_rates`); schedules are part of the graph.
    """

    def __init__(self, rates: Sequence[Any], seeds: int, spare: int = 0):
        self.rates = list(rates)
        self.seeds = int(seeds)
        self.spare = int(spare)  # rows added to the stack (see MIN_ROWS) repeat the last slot's rate
        self.constant = all_constant(self.rates)
        if self.constant:
            self._held = self._constant_values()  # what the variable holds (only the methods below assign it)
            self._variable = tf.Variable(self._held, trainable=False, name="slot_rates")
            self._decimals: np.ndarray | None = None

    def _constant_values(self) -> np.ndarray:
        values = self._pad(np.repeat(np.asarray(self.rates, np.float32), self.seeds))
        return values.reshape(-1, 1)

    def _pad(self, values):
        if not self.spare:
            return values
        if isinstance(values, np.ndarray):
            return np.concatenate([values, np.repeat(values[-1:], self.spare)])
        return tf.concat([values, tf.repeat(values[-1:], self.spare)], axis=0)

    def set_rates(self, rates: Sequence[Any], seeds: int, spare: int = 0) -> None:
        """Give the slots other rates: constants for as many rows as before, or (with schedules) the same ones.

        Raises
        ------
        ValueError
            When the new rates would change the graph: constants in place of
            schedules or the other way round, another number of rows, or
            (with schedules) another layout of configurations and seeds.
        """
        rates, seeds, spare = list(rates), int(seeds), int(spare)
        rows = len(rates) * seeds + spare
        if all_constant(rates) != self.constant or rows != len(self.rates) * self.seeds + self.spare:
            raise ValueError("set_rates needs rates of the same kind (constants or schedules) for as many rows")
        if not self.constant and (len(rates), seeds, spare) != (len(self.rates), self.seeds, self.spare):
            raise ValueError("set_rates with schedules needs the same configurations, seeds and spare rows")
        self.rates, self.seeds, self.spare = rates, seeds, spare
        if self.constant:
            self._held = self._constant_values()
            self._variable.assign(self._held)
            self._decimals = None

    def __call__(self, step):
        if self.constant:
            return tf.convert_to_tensor(self._variable)
        values = [
            tf.cast(rate(step), tf.float32)
            if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
            else tf.constant(rate, tf.float32)
            for rate in self.rates
        ]
        return tf.reshape(self._pad(tf.repeat(tf.stack(values), self.seeds)), [-1, 1])

    def current(self, rows: int) -> np.ndarray:
        """The constant rate each of the first ``rows`` slots has now (callbacks may have set them), as shortest decimals."""
        if not self.constant:
            raise ValueError("current() reads constant rates; these slots follow schedules")
        if self._decimals is None:  # read once per change, not once per epoch
            self._decimals = np.array([float(str(value)) for value in self._held[:, 0]])
        return self._decimals[:rows].copy()

    def rate_of(self, slot: int) -> np.float32:
        """The constant rate of one slot, as the float32 a Keras optimizer's ``learning_rate`` holds."""
        if not self.constant:
            raise ValueError("rate_of() reads constant rates; these slots follow schedules")
        return np.float32(self._held[slot, 0])

    def set_rate_of(self, slot: int, value: float) -> None:
        """Give one slot another constant rate, rounded to float32 as a Keras optimizer's rate variable rounds it."""
        if not self.constant:
            raise ValueError("set_rate_of() sets constant rates; these slots follow schedules")
        self._held = self._held.copy()
        self._held[slot, 0] = np.float32(value)
        self._variable.assign(self._held)
        self._decimals = None

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


def all_constant(rates: Sequence[Any]) -> bool:
    """Whether every rate is a constant (no Keras schedule among them).

    Examples
    --------
    >>> all_constant([0.1, 0.01])
    True
    """
    return not any(isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) for rate in rates)
