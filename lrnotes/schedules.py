"""Learning-rate decay: closed forms for plotting, and the Keras objects that implement them.

Conventions: ``t`` counts weight updates (Keras' ``optimizer.iterations``)
and ``epoch`` counts passes over the data, both from 0.

==================  =======================================  ==========================================
schedule            formula                                  Keras 3
==================  =======================================  ==========================================
time-based          ``lr0 / (1 + decay * t)``                ``InverseTimeDecay(lr0, 1, decay)``
step (drop-based)   ``lr0 * drop ** floor((1 + epoch) / n)``  ``LearningRateScheduler`` (epoch-wise)
exponential         ``lr0 * exp(-k * epoch)``                 ``ExponentialDecay(lr0, steps, exp(-k),
                                                              staircase=True)`` or a scheduler callback
==================  =======================================  ==========================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lrnotes import validation
from lrnotes._runtime import keras

__all__ = [
    "EpochSchedule",
    "exponential_decay",
    "exponential_decay_schedule",
    "legacy_decay",
    "recursive_time_based_decay",
    "scheduler",
    "step_decay",
    "time_based_decay",
]


def time_based_decay(lr0: float, decay: float, t) -> np.ndarray:
    """Time-based decay ``lr0 / (1 + decay * t)``, with ``t`` counted in weight updates.

    This is what Keras 2's ``decay=`` argument did to every optimizer, and what
    ``keras.optimizers.schedules.InverseTimeDecay(lr0, decay_steps=1,
    decay_rate=decay)`` does in Keras 3.

    Examples
    --------
    >>> time_based_decay(0.01, 0.1, [0, 10, 100]).round(6).tolist()
    [0.01, 0.005, 0.000909]
    """
    validation.number("lr0", lr0, low=0)
    validation.number("decay", decay, low=0, low_open=False)
    return lr0 / (1.0 + decay * np.asarray(t, dtype=float))


def recursive_time_based_decay(lr0: float, decay: float, epochs: int) -> np.ndarray:
    """The per-epoch recursion ``lr_e = lr_{e-1} / (1 + decay * e)`` of older texts.

    Returns the rates of epochs ``0 .. epochs - 1`` (``lr_0 = lr0``). Keras never
    implemented this form; it decays much faster than :func:`time_based_decay`.

    Examples
    --------
    >>> recursive_time_based_decay(0.1, 0.001, 4).round(7).tolist()
    [0.1, 0.0999001, 0.0997007, 0.0994025]
    """
    validation.number("lr0", lr0, low=0)
    validation.number("decay", decay, low=0, low_open=False)
    validation.integer("epochs", epochs)
    rates = [float(lr0)]
    for epoch in range(1, epochs):
        rates.append(rates[-1] / (1.0 + decay * epoch))
    return np.asarray(rates)


def legacy_decay(lr0: float, decay: float) -> keras.optimizers.schedules.InverseTimeDecay:
    """The Keras 3 replacement for Keras 2's ``SGD(lr=lr0, decay=decay)``.

    Keras 3 optimizers no longer accept ``decay=``: they warn and ignore it.
    Pass this schedule as ``learning_rate`` instead.

    Examples
    --------
    >>> schedule = legacy_decay(0.01, 1e-3)
    >>> round(float(schedule(1000)), 6)
    0.005
    """
    validation.number("lr0", lr0, low=0)
    validation.number("decay", decay, low=0, low_open=False)
    return keras.optimizers.schedules.InverseTimeDecay(lr0, decay_steps=1, decay_rate=decay)


def step_decay(epoch: int, lr0: float = 0.1, drop: float = 0.5, epochs_drop: int = 10) -> float:
    """Drop-based decay ``lr0 * drop ** floor((1 + epoch) / epochs_drop)``.

    The formula of the classic tutorials, epoch counted from 0, so the first
    drop happens at epoch ``epochs_drop - 1``.

    Examples
    --------
    >>> [step_decay(epoch) for epoch in (0, 8, 9, 19, 29)]
    [0.1, 0.1, 0.05, 0.025, 0.0125]
    """
    validation.number("lr0", lr0, low=0)
    validation.number("drop", drop, low=0)
    validation.integer("epochs_drop", epochs_drop)
    return float(lr0 * drop ** math.floor((1 + epoch) / epochs_drop))


def exponential_decay(epoch, lr0: float = 0.1, k: float = 0.1):
    """Exponential decay ``lr0 * exp(-k * epoch)``.

    Examples
    --------
    >>> round(exponential_decay(10), 6)
    0.036788
    """
    validation.number("lr0", lr0, low=0)
    validation.number("k", k, low=0, low_open=False)
    value = lr0 * np.exp(-k * np.asarray(epoch, dtype=float))
    return float(value) if np.ndim(value) == 0 else value


def exponential_decay_schedule(
    lr0: float, k: float, steps_per_epoch: int
) -> keras.optimizers.schedules.ExponentialDecay:
    """``ExponentialDecay`` that equals :func:`exponential_decay` epoch by epoch.

    ``lr0 * exp(-k) ** floor(t / steps_per_epoch)`` is ``lr0 * exp(-k * epoch)``
    for every update ``t`` of epoch ``epoch``.

    Examples
    --------
    >>> schedule = exponential_decay_schedule(0.1, 0.1, steps_per_epoch=16)
    >>> round(float(schedule(16 * 10 + 5)), 6)
    0.036788
    """
    validation.number("lr0", lr0, low=0)
    validation.number("k", k, low=0, low_open=False)
    return keras.optimizers.schedules.ExponentialDecay(
        lr0, decay_steps=steps_per_epoch, decay_rate=math.exp(-k), staircase=True
    )


@dataclass(frozen=True)
class EpochSchedule:
    """``function(epoch, **parameters)`` as a ``LearningRateScheduler`` schedule.

    ``LearningRateScheduler`` calls its schedule as ``schedule(epoch, current_rate)``;
    this wrapper ignores the current rate, so the rate of epoch ``e`` is a
    function of ``e`` alone (a closed form never compounds).
    """

    function: Callable[..., float]
    parameters: dict = field(default_factory=dict)

    def __call__(self, epoch: int, learning_rate: float | None = None) -> float:
        return float(self.function(epoch, **self.parameters))


def scheduler(function: Callable[..., float], **parameters) -> keras.callbacks.LearningRateScheduler:
    """A ``LearningRateScheduler`` whose rate at epoch ``e`` is ``function(e, **parameters)``.

    Examples
    --------
    >>> callback = scheduler(step_decay, lr0=0.1, drop=0.5, epochs_drop=10)
    >>> callback.schedule(9, 0.1), callback.schedule(19, 0.05)
    (0.05, 0.025)
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    return keras.callbacks.LearningRateScheduler(EpochSchedule(function, dict(parameters)))
