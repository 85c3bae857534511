"""The learning-rate range test of Smith (2017), as a Keras callback.

One short training run in which the learning rate grows exponentially, batch
by batch, from a tiny ``start_rate`` to a huge ``stop_rate``. The loss is
recorded after every update and smoothed; the run stops when the smoothed loss
explodes. Plotted against the rate (log axis), the loss stays flat while the
rate is too small to matter, falls once the rate is large enough to learn, and
shoots up once it is too large: a good rate sits on the falling stretch.

Which loss to record
--------------------
Two choices, both supported:

``probe=(x, y)`` (recommended)
    After every update the callback computes the model's loss
    (``model.compute_loss``) on a fixed set of examples given to its
    constructor, for instance the whole training set of a small problem.
    Every point of the curve is then the loss of the current weights on the
    *same* examples, measured *after* the update made at that point's rate:
    the curve's only noise is the training itself, not which batch happened
    to be drawn, and it shows the effect of each rate without delay. It costs
    one forward pass over the probe per update.
``probe=None``
    The loss of each training batch, as fastai's ``lr_find`` records it. It
    is free, but noisy (each point is a different batch) and one update late
    (a batch's loss is computed before the update at its rate). Keras 3's
    ``fit`` does not hand callbacks the batch loss: ``logs["loss"]`` is the
    running mean of the epoch's batch losses so far, weighted by batch size
    (:func:`lrnotes.train` does the same). The callback undoes the mean,
    ``loss_b = (b + 1) * mean_b - b * mean_{b-1}``, which is exact when the
    batches have equal sizes; the last batch of an epoch, which is smaller
    when the batch size does not divide the number of examples, would come
    out wrong, so it is left out of the record (its rate is still applied).

The smoothed loss is the bias-corrected exponentially weighted mean of Adam
and fastai, ``avg_k = beta * avg_{k-1} + (1 - beta) * loss_k`` and
``smooth_k = avg_k / (1 - beta ** (k + 1))``.

Under :func:`lrnotes.train`
---------------------------
:class:`lrnotes.RunConfig` deep-copies its callbacks for every run. A deep
copy of this callback shares :attr:`LearningRateRangeTest.runs` with the
original, so the object you hold collects every run, one entry per seed.
Use :func:`lrnotes.train` or :func:`lrnotes.train_many`, not
:func:`lrnotes.sweep`: a sweep may answer from its cache without training,
and then the callback records nothing.
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from lrnotes import validation
from lrnotes._runtime import keras, tf
from lrnotes.optimizers import rate_setting
from lrnotes.range_test_run import SUGGESTION_RULES, RangeTestRun

__all__ = ["SUGGESTION_RULES", "LearningRateRangeTest", "RangeTestRun"]


class LearningRateRangeTest(keras.callbacks.Callback):
    """Smith's learning-rate range test: grow the rate exponentially, record the loss, stop on explosion.

    Update ``k`` (from 0) uses the rate
    ``start_rate * (stop_rate / start_rate) ** (k / (steps - 1))``, set on the
    optimizer before the batch (the optimizer needs a float rate, not a
    schedule). The loss after each update is recorded and smoothed (see the
    module notes); training stops (``model.stop_training = True``) after
    ``steps`` updates, or as soon as the smoothed loss exceeds
    ``divergence`` times the lowest smoothed loss so far, or is not finite.

    Parameters
    ----------
    start_rate, stop_rate : float, default 1e-7 and 10
        The first and the last rate of the test (``start_rate < stop_rate``).
    steps : int, default 100
        Updates from ``start_rate`` to ``stop_rate`` (at least 3). Train for
        at least :meth:`epochs_needed` epochs.
    smoothing : float, optional
        ``beta`` of the exponentially weighted mean, in [0, 1); 0 means no
        smoothing. By default 0.9 with a probe and 0.98 (fastai's value)
        without: batch losses carry the noise of the batch draw, probe
        losses do not, and every bit of smoothing delays the curve.
    divergence : float, default 4
        Stop when the smoothed loss exceeds this multiple of its lowest value
        (> 1; ``math.inf`` never stops early).
    probe : tuple (x, y), optional
        Fixed examples on which the loss is measured after every update.
        None records the training batches' losses instead.

    Attributes
    ----------
    runs : list of RangeTestRun
        One record per training run (shared with deep copies).

    Examples
    --------
    >>> import lrnotes as ln
    >>> blobs = ln.load_blobs()
    >>> finder = LearningRateRangeTest(1e-4, 10.0, steps=40, smoothing=0.7, probe=(blobs.x_train, blobs.y_train))
    >>> config = ln.RunConfig(learning_rate=1e-4, epochs=finder.epochs_needed(16), callbacks=[finder])
    >>> record = ln.train(config, seed=0)
    >>> finder.stop_reason in ("completed", "diverged"), len(finder.runs)
    (True, 1)
    >>> bool(1e-3 < finder.suggestion() < 1.0)
    True
    >>> LearningRateRangeTest(start_rate=1.0, stop_rate=0.1)
    Traceback (most recent call last):
    ...
    ValueError: stop_rate must be greater than start_rate, got start_rate=1.0 and stop_rate=0.1
    """

    def __init__(
        self,
        start_rate: float = 1e-7,
        stop_rate: float = 10.0,
        steps: int = 100,
        *,
        smoothing: float | None = None,
        divergence: float = 4.0,
        probe: tuple | None = None,
    ) -> None:
        super().__init__()
        self.start_rate = validation.number("start_rate", start_rate, low=0.0)
        self.stop_rate = validation.number("stop_rate", stop_rate, low=0.0)
        if self.stop_rate <= self.start_rate:
            raise ValueError(
                f"stop_rate must be greater than start_rate, got start_rate={start_rate!r} and stop_rate={stop_rate!r}"
            )
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
            raise TypeError(f"steps must be an integer, got {type(steps).__name__} {steps!r}")
        if steps < 3:
            raise ValueError(f"steps must be at least 3, got {steps!r}")
        self.steps = int(steps)
        self._probe = self._check_probe(probe)
        if smoothing is None:
            smoothing = 0.9 if self._probe is not None else 0.98
        self.smoothing = validation.number("smoothing", smoothing, low=0.0, high=1.0, low_open=False)
        self.divergence = validation.number("divergence", divergence, low=1.0, allow_inf=True)
        self.runs: list[RangeTestRun] = []
        self._run: RangeTestRun | None = None

    @staticmethod
    def _check_probe(probe):
        if probe is None:
            return None
        if not isinstance(probe, (tuple, list)) or len(probe) != 2:
            raise TypeError(f"probe must be a pair (x, y) of arrays or None, got {type(probe).__name__}")
        x, y = (np.asarray(part, dtype=np.float32) for part in probe)
        if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"probe must be (x, y) with the same positive number of rows, got shapes {x.shape} and {y.shape}")
        return x, y

    def __deepcopy__(self, memo):
        # RunConfig deep-copies its callbacks for every run; the copy reports
        # its run to the list of the object the user holds.
        clone = copy.copy(self)
        memo[id(self)] = clone
        clone._run = None
        clone._model = None
        return clone

    # ------------------------------------------------------------------ the schedule

    def rate(self, step: int) -> float:
        """The rate of update ``step`` (from 0); after the last step it stays at ``stop_rate``.

        Examples
        --------
        >>> finder = LearningRateRangeTest(1e-4, 1.0, steps=5)
        >>> [round(finder.rate(k), 6) for k in range(5)]
        [0.0001, 0.001, 0.01, 0.1, 1.0]
        """
        fraction = min(step, self.steps - 1) / (self.steps - 1)
        return float(self.start_rate * (self.stop_rate / self.start_rate) ** fraction)

    def epochs_needed(self, steps_per_epoch: int) -> int:
        """Epochs of ``steps_per_epoch`` updates that hold the whole test.

        Examples
        --------
        >>> LearningRateRangeTest(steps=100).epochs_needed(16)
        7
        """
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, numbers.Integral) or steps_per_epoch <= 0:
            raise ValueError(f"steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
        return math.ceil(self.steps / steps_per_epoch)

    # ------------------------------------------------------------------ the last run

    def _last(self) -> RangeTestRun:
        if not self.runs:
            raise ValueError("the range test has not run yet: train a model with this callback first")
        return self.runs[-1]

    @property
    def rates(self) -> list[float]:
        """Rates of the last run."""
        return self._last().rates

    @property
    def losses(self) -> list[float]:
        """Recorded losses of the last run."""
        return self._last().losses

    @property
    def smoothed(self) -> list[float]:
        """Smoothed losses of the last run."""
        return self._last().smoothed

    @property
    def stop_reason(self) -> str | None:
        """Why the last run stopped (see :class:`RangeTestRun`)."""
        return self._last().stop_reason

    def suggestion(self, rule: str = "steepest") -> float:
        """The suggested rate of the last run (see :meth:`RangeTestRun.suggestion`)."""
        return self._last().suggestion(rule)

    def plot(self, ax=None, **options):
        """Plot the last run (see :meth:`RangeTestRun.plot`); returns the axes."""
        return self._last().plot(ax, **options)

    # ------------------------------------------------------------------ Keras hooks

    def _probe_loss(self) -> float:
        return float(self._probe_function())

    def on_train_begin(self, logs=None) -> None:
        optimizer = self.model.optimizer
        if optimizer is None:
            raise ValueError("the model has no optimizer: compile it before the range test")
        if isinstance(rate_setting(optimizer), keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                "the range test sets the learning rate itself: give the optimizer a float learning_rate, "
                "not a LearningRateSchedule"
            )
        self._step = 0
        self._average = 0.0
        self._best = math.inf
        self._previous_mean = None
        self._run = RangeTestRun(source="probe" if self._probe is not None else "batches")
        self.runs.append(self._run)
        if self._probe is not None:
            model = self.model
            x, y = (tf.constant(part) for part in self._probe)

            @tf.function
            def probe_loss():
                return model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)

            self._probe_function = probe_loss
            self._run.initial_loss = self._probe_loss()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._previous_mean = None

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if self._step < self.steps:
            self.model.optimizer.learning_rate = self.rate(self._step)

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self._run is None or self._run.stop_reason is not None:
            return
        rate = self.rate(self._step)
        self._step += 1
        if self._probe is not None:
            loss = self._probe_loss()
        else:
            loss = self._batch_loss(batch, logs)
        if loss is not None:
            self._add(rate, loss)
        if self._run.stop_reason is None and self._step >= self.steps:
            self._run.stop_reason = "completed"
        if self._run.stop_reason is not None:
            self.model.stop_training = True

    def _batch_loss(self, batch: int, logs) -> float | None:
        """The batch's own loss, recovered from the running mean of the epoch (equal batch sizes)."""
        mean = float((logs or {}).get("loss", math.nan))
        previous, self._previous_mean = self._previous_mean, mean
        if batch == 0 or previous is None:
            return mean
        steps = (self.params or {}).get("steps")
        if steps is not None and batch == steps - 1:
            return None  # possibly a smaller batch: its weight in the mean is unknown
        return (batch + 1) * mean - batch * previous

    def _add(self, rate: float, loss: float) -> None:
        run = self._run
        beta = self.smoothing
        self._average = beta * self._average + (1.0 - beta) * loss
        smoothed = self._average / (1.0 - beta ** (len(run.losses) + 1))
        run.rates.append(rate)
        run.losses.append(loss)
        run.smoothed.append(smoothed)
        if not math.isfinite(smoothed) or smoothed > self.divergence * self._best:
            run.stop_reason = "diverged"
        self._best = min(self._best, smoothed)

    def on_train_end(self, logs=None) -> None:
        if self._run is not None and self._run.stop_reason is None:
            self._run.stop_reason = "out of epochs"
