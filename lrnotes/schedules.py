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
warmup-stable-decay :func:`wsd_rate`                         :class:`WarmupStableDecay`
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
    "DECAY_SHAPES",
    "EpochSchedule",
    "WarmupStableDecay",
    "exponential_decay",
    "exponential_decay_schedule",
    "legacy_decay",
    "recursive_time_based_decay",
    "scheduler",
    "step_decay",
    "time_based_decay",
    "wsd_rate",
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


#: The shapes of the decay phase of :class:`WarmupStableDecay`, as functions
#: of the decay's progress ``p`` in [0, 1] (1 at its start, 0 at its end).
DECAY_SHAPES = ("linear", "cosine", "sqrt")


def _decay_weight(progress, shape: str, ops):
    if shape == "linear":
        return 1.0 - progress
    if shape == "cosine":  # (1 + cos(pi p)) / 2, written so that both ends are exact in float32
        return ops.square(ops.cos((math.pi / 2.0) * progress))
    return 1.0 - ops.sqrt(progress)  # "sqrt": the 1 - sqrt(p) cooldown of Hägele et al. (2024)


def _check_wsd(peak_learning_rate, total_steps, warmup_steps, decay_steps, floor, shape):
    peak = validation.number("peak_learning_rate", peak_learning_rate, low=0)
    total = validation.integer("total_steps", total_steps)
    warmup = validation.integer("warmup_steps", warmup_steps, minimum=0)
    decay = validation.integer("decay_steps", decay_steps, minimum=0)
    if warmup + decay > total:
        raise ValueError(
            f"warmup_steps + decay_steps must be at most total_steps ({total}), got {warmup} + {decay}"
        )
    floor = validation.number("floor", floor, low=0, low_open=False)
    if floor > peak:
        raise ValueError(f"floor must be at most peak_learning_rate ({peak}), got {floor}")
    validation.one_of("shape", shape, DECAY_SHAPES)
    return peak, total, warmup, decay, floor, shape


def wsd_rate(step, peak_learning_rate: float, total_steps: int, warmup_steps: int = 0, decay_steps: int = 0,
             floor: float = 0.0, shape: str = "linear"):
    """The warmup-stable-decay rate of update ``step`` (from 0), in closed form (NumPy, float64).

    ``peak * step / warmup_steps`` while ``step < warmup_steps`` (from 0, as
    Keras' ``CosineDecay`` warms up); ``peak`` until the decay starts at
    ``start = total_steps - decay_steps``; then ``floor + (peak - floor) *
    w(p)`` with ``p = (step - start) / decay_steps``, where ``w`` is
    ``1 - p`` (linear), ``(1 + cos(pi p)) / 2`` (cosine) or ``1 - sqrt(p)``
    (sqrt); ``floor`` from ``total_steps`` on, the step after the run's last
    update ``total_steps - 1``.

    Examples
    --------
    >>> wsd_rate([0, 5, 10, 80, 90, 100], 1.0, total_steps=100, warmup_steps=10, decay_steps=20).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.0]
    >>> round(wsd_rate(95, 1.0, 100, decay_steps=20, floor=0.1, shape="sqrt"), 4)  # 0.1 + 0.9 * (1 - sqrt(0.75))
    0.2206
    """
    peak, total, warmup, decay, floor, shape = _check_wsd(peak_learning_rate, total_steps, warmup_steps,
                                                          decay_steps, floor, shape)
    t = np.asarray(step, dtype=float)
    start = total - decay
    progress = np.clip((t - start) / decay, 0.0, 1.0) if decay else (t >= start).astype(float)
    if shape == "cosine":
        weight = (1.0 + np.cos(np.pi * progress)) / 2.0
    else:
        weight = _decay_weight(progress, shape, np)
    rate = np.where(t < start, peak, floor + (peak - floor) * weight)
    if warmup:
        rate = np.where(t < warmup, peak * t / warmup, rate)
    return float(rate) if rate.ndim == 0 else rate


@keras.saving.register_keras_serializable(package="lrnotes")
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup-stable-decay (WSD): a linear warmup, a constant plateau, a decay over the last updates.

    The schedule of many recent training recipes (MiniCPM, Hu et al. 2024;
    Hägele et al. 2024): unlike cosine decay, the rate does not depend on the
    budget until the decay starts, so one long stable run can be branched at
    any update and decayed, giving a finished model for each budget. Update
    ``t`` (``optimizer.iterations``, from 0) uses :func:`wsd_rate` ``(t,
    ...)``.

    Parameters
    ----------
    peak_learning_rate : float
        The rate of the plateau.
    total_steps : int
        Updates in the run (epochs × steps per epoch).
    warmup_steps : int, default 0
        Updates of the linear warmup from 0 (0: start at the peak).
    decay_steps : int, optional
        Updates of the decay, the last of the run. Give this or
        ``decay_fraction``, not both.
    decay_fraction : float, default 0.2
        The decay's share of ``total_steps`` (rounded to whole updates), used
        when ``decay_steps`` is not given.
    floor : float, default 0.0
        The rate the decay ends at (``total_steps`` and after).
    shape : {"linear", "cosine", "sqrt"}, default "linear"
        The decay's shape: a straight line, half a cosine, or ``1 - sqrt(p)``.
    name : str, default "WarmupStableDecay"

    Examples
    --------
    >>> schedule = WarmupStableDecay(0.1, total_steps=100, warmup_steps=10, decay_fraction=0.2)
    >>> schedule.decay_start, [round(float(schedule(step)), 6) for step in (0, 5, 50, 90, 100)]
    (80, [0.0, 0.05, 0.1, 0.05, 0.0])
    >>> config = schedule.get_config()
    >>> keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule)).get_config() == config
    True
    >>> WarmupStableDecay(0.1, total_steps=100, shape="exp")
    Traceback (most recent call last):
    ...
    ValueError: unknown shape 'exp'; expected one of: linear, cosine, sqrt
    """

    def __init__(self, peak_learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
                 decay_steps: int | None = None, decay_fraction: float = 0.2, floor: float = 0.0,
                 shape: str = "linear", name: str = "WarmupStableDecay") -> None:
        super().__init__()
        total = validation.integer("total_steps", total_steps)
        if decay_steps is None:
            fraction = validation.number("decay_fraction", decay_fraction, low=0, high=1, low_open=False,
                                         high_open=False)
            decay_steps = int(round(fraction * total))
        (self.peak_learning_rate, self.total_steps, self.warmup_steps, self.decay_steps, self.floor,
         self.shape) = _check_wsd(peak_learning_rate, total, warmup_steps, decay_steps, floor, shape)
        self.name = name

    @property
    def decay_start(self) -> int:
        """The first update of the decay, ``total_steps - decay_steps``."""
        return self.total_steps - self.decay_steps

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        peak, floor = self.peak_learning_rate, self.floor
        start = float(self.decay_start)
        if self.decay_steps:
            progress = ops.clip((step - start) / float(self.decay_steps), 0.0, 1.0)
        else:
            progress = ops.cast(step >= start, "float32")
        decayed = floor + (peak - floor) * _decay_weight(progress, self.shape, ops)
        rate = ops.where(step < start, peak * ops.ones_like(step), decayed)
        if self.warmup_steps:
            rate = ops.where(step < float(self.warmup_steps), peak * (step / float(self.warmup_steps)), rate)
        return rate

    def get_config(self) -> dict:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "floor": self.floor,
            "shape": self.shape,
            "name": self.name,
        }
