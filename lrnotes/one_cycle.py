"""The one-cycle learning-rate policy of Smith & Topin, as a Keras schedule.

One cycle over the whole run: the rate climbs from ``max_learning_rate /
initial_divisor`` to ``max_learning_rate`` during the first
``warmup_fraction`` of the updates, then falls to ``max_learning_rate /
(initial_divisor * final_divisor)``, far below where it started, by the last
update. The defaults are those of PyTorch's ``OneCycleLR`` (warm-up 30 %,
divisors 25 and 10^4, cosine); fastai's ``fit_one_cycle`` uses a warm-up of
25 % and a final divisor of 10^5. Smith's papers ramp linearly
(``annealing="linear"``) and also cycle the momentum the other way; a
``LearningRateSchedule`` only sets the rate, so momentum stays constant here.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from lrnotes import validation
from lrnotes._runtime import keras, tf

__all__ = ["ANNEALING", "OneCycle", "one_cycle_rate", "schedule_rates"]

#: The shapes of the two ramps.
ANNEALING = ("cos", "linear")


def one_cycle_rate(step, max_learning_rate: float, total_steps: int, warmup_fraction: float = 0.3,
                   initial_divisor: float = 25.0, final_divisor: float = 1e4, annealing: str = "cos"):
    """The one-cycle rate of update ``step`` (from 0), in NumPy: the closed form for plots and checks.

    With ``peak = warmup_fraction * (total_steps - 1)`` and ``last = total_steps - 1``:

    - ``step <= peak``: ramp from ``max / initial_divisor`` up to ``max``;
    - ``peak < step <= last``: ramp from ``max`` down to
      ``max / (initial_divisor * final_divisor)``;
    - later steps keep the final rate.

    A cosine ramp from ``a`` to ``b`` over the fraction ``p`` of its phase is
    ``b + (a - b) * (1 + cos(pi * p)) / 2`` (computed as
    ``b + (a - b) * cos(pi * p / 2) ** 2``, the same number without the
    float32 cancellation near ``p = 1``); a linear one ``a + (b - a) * p``
    (computed as ``b + (a - b) * (1 - p)``).

    Examples
    --------
    >>> rates = one_cycle_rate([0, 15, 30, 65, 100, 150], 1.0, total_steps=101, warmup_fraction=0.3)
    >>> [float(f"{rate:.4g}") for rate in rates]
    [0.04, 0.52, 1.0, 0.5, 4e-06, 4e-06]
    """
    schedule = OneCycle(max_learning_rate, total_steps, warmup_fraction=warmup_fraction,
                        initial_divisor=initial_divisor, final_divisor=final_divisor, annealing=annealing)
    step = np.minimum(np.asarray(step, dtype=float), schedule.last_step)
    peak, last = schedule.peak_step, schedule.last_step
    up = np.clip(step / peak, 0.0, 1.0) if peak > 0 else np.ones_like(step)
    down = np.clip((step - peak) / (last - peak), 0.0, 1.0)

    def ramp(start, end, fraction):
        weight = np.cos(np.pi * fraction / 2.0) ** 2 if annealing == "cos" else 1.0 - fraction
        return end + (start - end) * weight

    top = schedule.max_learning_rate
    rate = np.where(step <= peak, ramp(schedule.initial_learning_rate, top, up),
                    ramp(top, schedule.final_learning_rate, down))
    return float(rate) if np.ndim(rate) == 0 else rate


@keras.saving.register_keras_serializable(package="lrnotes")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Smith & Topin's one-cycle policy: warm up to ``max_learning_rate``, then anneal far below the start.

    Update ``t`` (Keras' ``optimizer.iterations``, from 0) uses
    :func:`one_cycle_rate` ``(t, ...)``: the first update uses
    ``max_learning_rate / initial_divisor``, update
    ``warmup_fraction * (total_steps - 1)`` the maximum, and update
    ``total_steps - 1`` (the last of the run) the final rate
    ``max_learning_rate / (initial_divisor * final_divisor)``.

    Parameters
    ----------
    max_learning_rate : float
        The peak rate (a range test's upper end is the usual choice).
    total_steps : int
        Updates in the whole run (epochs × steps per epoch), at least 2.
    warmup_fraction : float, default 0.3
        Fraction of the run spent climbing, in [0, 1).
    initial_divisor : float, default 25
        The first rate is ``max_learning_rate / initial_divisor`` (>= 1).
    final_divisor : float, default 1e4
        The last rate is the first rate divided by this (>= 1).
    annealing : {"cos", "linear"}, default "cos"
        Shape of both ramps: half a cosine (flat at both ends of each phase,
        PyTorch's and fastai's default) or a straight line (Smith's papers).
    name : str, default "OneCycle"

    Examples
    --------
    >>> schedule = OneCycle(0.5, total_steps=101, warmup_fraction=0.2)
    >>> [round(float(schedule(step)), 6) for step in (0, 20, 100)]
    [0.02, 0.5, 2e-06]
    >>> config = schedule.get_config()
    >>> OneCycle.from_config(config).get_config() == config
    True
    >>> keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule)).peak_step
    20.0
    >>> OneCycle(0.5, total_steps=100, annealing="cosine")
    Traceback (most recent call last):
    ...
    ValueError: annealing must be one of cos, linear, got 'cosine'
    """

    def __init__(self, max_learning_rate: float, total_steps: int, *, warmup_fraction: float = 0.3,
                 initial_divisor: float = 25.0, final_divisor: float = 1e4, annealing: str = "cos",
                 name: str = "OneCycle") -> None:
        super().__init__()
        self.max_learning_rate = validation.number("max_learning_rate", max_learning_rate, low=0)
        self.total_steps = validation.integer("total_steps", total_steps, minimum=2)
        self.warmup_fraction = validation.number("warmup_fraction", warmup_fraction, low=0, high=1, low_open=False)
        self.initial_divisor = validation.number("initial_divisor", initial_divisor, low=1, low_open=False)
        self.final_divisor = validation.number("final_divisor", final_divisor, low=1, low_open=False)
        if annealing not in ANNEALING:
            raise ValueError(f"annealing must be one of {', '.join(ANNEALING)}, got {annealing!r}")
        self.annealing = annealing
        self.name = name

    @property
    def initial_learning_rate(self) -> float:
        """The rate of the first update."""
        return self.max_learning_rate / self.initial_divisor

    @property
    def final_learning_rate(self) -> float:
        """The rate of the last update."""
        return self.initial_learning_rate / self.final_divisor

    @property
    def peak_step(self) -> float:
        """The update at which the rate peaks (a fractional step falls between two updates)."""
        return self.warmup_fraction * (self.total_steps - 1)

    @property
    def last_step(self) -> int:
        """The last update of the cycle, ``total_steps - 1``."""
        return self.total_steps - 1

    def _ramp(self, start, end, fraction):
        ops = keras.ops
        # weight 1 at the start of the phase, 0 at its end; (1 + cos(pi p)) / 2 is
        # written cos(pi p / 2)**2, and the ramp end + (start - end) * weight,
        # so that both ends come out exact in float32
        if self.annealing == "cos":
            weight = ops.square(ops.cos((math.pi / 2.0) * fraction))
        else:
            weight = 1.0 - fraction
        return end + (start - end) * weight

    def __call__(self, step):
        ops = keras.ops
        step = ops.minimum(ops.cast(step, "float32"), float(self.last_step))
        peak, last = self.peak_step, float(self.last_step)
        up = ops.clip(step / peak, 0.0, 1.0) if peak > 0 else ops.ones_like(step)
        down = ops.clip((step - peak) / (last - peak), 0.0, 1.0)
        rising = self._ramp(self.initial_learning_rate, self.max_learning_rate, up)
        falling = self._ramp(self.max_learning_rate, self.final_learning_rate, down)
        return ops.where(step <= peak, rising, falling)

    def get_config(self) -> dict:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "initial_divisor": self.initial_divisor,
            "final_divisor": self.final_divisor,
            "annealing": self.annealing,
            "name": self.name,
        }


def schedule_rates(schedule, steps) -> np.ndarray:
    """The rate of ``schedule`` at every update in ``steps``, evaluated in one graph.

    Calling a Keras schedule once per update from Python takes milliseconds
    per call; a run of thousands of updates is better evaluated in one
    ``tf.function``. ``schedule`` may also be a plain number (a constant
    rate). Steps are passed as int64, the dtype of ``optimizer.iterations``.

    Examples
    --------
    >>> schedule = keras.optimizers.schedules.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=5)
    >>> schedule_rates(schedule, [0, 1, 5, 10, 15, 20]).round(4).tolist()
    [0.0, 0.2, 1.0, 0.5, 0.0, 0.0]
    >>> schedule_rates(0.1, [0, 1]).tolist()
    [0.1, 0.1]
    """
    steps = np.asarray(steps)
    if steps.size == 0 or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(f"steps must be a non-empty array of integers, got {steps.dtype} of shape {steps.shape}")
    if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
        return np.full(steps.shape, float(schedule))
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        raise TypeError(f"schedule must be a number or a LearningRateSchedule, got {type(schedule).__name__}")

    @tf.function(autograph=False)
    def evaluate(values):
        return tf.map_fn(lambda step: tf.cast(schedule(step), tf.float32), values, fn_output_signature=tf.float32)

    # One trace per call is the point (every schedule is a new graph); keep
    # TensorFlow's "frequent retracing" warning out of notebooks.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        rates = evaluate(tf.constant(steps.ravel().astype(np.int64))).numpy()
    finally:
        logger.setLevel(level)
    return rates.astype(float).reshape(steps.shape)
