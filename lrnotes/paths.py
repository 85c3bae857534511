"""The paths real Keras optimizers take on the 2-D surfaces of :mod:`lrnotes.surfaces`.

:func:`optimizer_path` does exactly what a training step does
(``optimizer.apply([gradient], [variable])``), on a problem small enough to
draw. :func:`optimizer_paths` runs several paths at once (several starts or
several learning rates) as the rows of one ``(R, 2)`` variable; every
optimizer it accepts (:data:`lrnotes.stacking.ELEMENTWISE_OPTIMIZERS`)
updates each coordinate from that coordinate's own gradient and state, so the
rows do not interact: each row is the path it would be alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrnotes import validation
from lrnotes._runtime import keras, tf
from lrnotes.optimizers import rate_setting
from lrnotes.stacking import ELEMENTWISE_OPTIMIZERS
from lrnotes.surfaces import Surface, as_point

__all__ = ["Path", "best_path", "optimizer_path", "optimizer_paths"]



@dataclass(frozen=True, eq=False)
class Path:
    """The points an optimizer visited on a surface, from the start on.

    Behaves like an array of shape ``(steps + 1, 2)`` (``np.asarray(path)``).

    Attributes
    ----------
    points : ndarray, shape (n + 1, 2)
        The start, then the position after every update (float32 values).
    values : ndarray, shape (n + 1,)
        The surface's value at every point.
    diverged : bool
        The path was stopped because a coordinate became non-finite or the
        distance from ``surface.center`` exceeded ``blowup`` times its
        initial value (at least ``blowup``). ``len(path) - 1 < steps`` then.
    surface : Surface
    optimizer : str
        The optimizer's class name.
    learning_rate : float or None
        The constant learning rate, if the optimizer had one.
    steps : int
        The updates asked for.

    Examples
    --------
    >>> import keras
    >>> from lrnotes.surfaces import Quadratic
    >>> path = optimizer_path(Quadratic(1.0, 4.0), keras.optimizers.SGD(learning_rate=0.1), (1.0, 1.0), steps=3)
    >>> np.asarray(path).shape, path.optimizer, path.learning_rate
    ((4, 2), 'SGD', 0.1)
    """

    points: np.ndarray
    values: np.ndarray
    diverged: bool
    surface: Surface
    optimizer: str
    learning_rate: float | None
    steps: int

    def __array__(self, dtype=None, copy=None):
        return np.array(self.points, dtype=dtype)

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        rate = "" if self.learning_rate is None else f", learning_rate={self.learning_rate:g}"
        state = "diverged" if self.diverged else "finished"
        return (f"Path({self.optimizer}{rate} on {type(self.surface).__name__}: "
                f"{len(self) - 1} of {self.steps} steps, {state})")

    def distances(self) -> np.ndarray:
        """Distance of every point from ``surface.center`` (the minimum, or the saddle point)."""
        return np.linalg.norm(self.points - np.asarray(self.surface.center), axis=-1)

    @property
    def final_distance(self) -> float:
        """Distance of the last point from ``surface.center``."""
        return float(self.distances()[-1])

    def steps_to_converge(self, tol: float) -> float:
        """The first step from which the path stays within ``tol`` of the minimum.

        NaN if it does not end there (or diverged); a float, so it sits in a
        table next to other NaNs.
        """
        tol = validation.number("tol", tol, low=0)
        if self.surface.minimum is None:
            raise ValueError(f"{type(self.surface).__name__} has no minimum to converge to")
        outside = np.flatnonzero(self.distances() > tol)
        if self.diverged or (outside.size and outside[-1] == len(self) - 1):
            return float("nan")
        return float(outside[-1] + 1) if outside.size else 0.0

    def steps_to_value(self, level: float) -> float:
        """The first step at which the value is at most ``level`` (NaN if never)."""
        level = validation.number("level", level)
        below = np.flatnonzero(self.values <= level)
        return float(below[0]) if below.size else float("nan")


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a Keras optimizer instance, got {type(optimizer).__name__}")


class _RowRates(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate per row of an ``(R, 2)`` variable, shaped ``[R, 1]``."""

    def __init__(self, rates: Sequence[float]):
        self.rates = [float(rate) for rate in rates]
        self._tensor = tf.constant(np.asarray(self.rates, np.float32).reshape(-1, 1))

    def __call__(self, step):
        return self._tensor

    def get_config(self) -> dict:
        return {"rates": self.rates}


def _constant_rate(optimizer: keras.optimizers.Optimizer) -> float | None:
    rate = rate_setting(optimizer)
    return None if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) else rate


def _run(surface: Surface, optimizer: keras.optimizers.Optimizer, starts: np.ndarray, steps: int,
         rates: list[float] | None, blowup: float, single: bool) -> list[Path]:
    """Step a fresh copy of ``optimizer`` from every row of ``starts`` at once."""
    from lrnotes.optimizers import make_optimizer

    fresh = make_optimizer(optimizer)  # a copy through the config: fresh state
    if rates is not None:
        settings = dict(fresh.get_config())
        settings.pop("name", None)
        settings.pop("learning_rate", None)
        fresh = type(fresh)(learning_rate=_RowRates(rates), **settings)
    variable = keras.Variable(starts[0] if single else starts, dtype="float32", name="position")
    fresh.build([variable])
    center = tf.constant(np.asarray(surface.center, np.float32))
    initial = np.linalg.norm(starts - np.asarray(surface.center), axis=-1)
    limit = tf.constant(np.float32(blowup) * np.maximum(initial, 1.0).astype(np.float32))

    def alive(point):
        finite = tf.reduce_all(tf.math.is_finite(point), axis=-1)
        near = tf.norm(point - center, axis=-1) <= limit
        return tf.logical_and(finite, near)

    def condition(step, trail):
        return tf.logical_and(step < steps, tf.reduce_any(alive(variable.value)))

    def body(step, trail):
        fresh.apply([surface.gradient(variable.value)], [variable])
        return step + 1, trail.write(step + 1, variable.value)

    def loop():
        trail = tf.TensorArray(tf.float32, size=steps + 1)
        trail = trail.write(0, variable.value)
        done, trail = tf.while_loop(condition, body, (tf.constant(0), trail))
        return trail.stack()[: done + 1]

    trail = tf.function(loop, autograph=False).get_concrete_function()().numpy()
    if single:
        trail = trail[:, None, :]
    paths = []
    name = type(fresh).__name__
    own_rate = _constant_rate(fresh) if rates is None else None
    for row in range(starts.shape[0]):
        points = trail[:, row, :].astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            distance = np.linalg.norm(points - np.asarray(surface.center), axis=-1)
            bad = ~np.isfinite(points).all(axis=-1) | ~(distance <= float(limit.numpy()[row]))
        diverged = bool(bad.any())
        if diverged:
            first = int(np.argmax(bad))
            keep = first + 1 if np.isfinite(points[first]).all() else first
            points = points[:keep]
        values = np.asarray(surface.value(points), dtype=np.float64)
        rate = float(rates[row]) if rates is not None else own_rate
        paths.append(Path(points, values, diverged, surface, name, rate, steps))
    return paths


def optimizer_path(surface: Surface, optimizer: keras.optimizers.Optimizer, start: Sequence[float], steps: int,
                   *, blowup: float = 1e6) -> Path:
    """The path of a real Keras optimizer on a surface.

    A ``keras.Variable`` of shape ``(2,)`` starts at ``start``; every step
    computes the surface's gradient there and calls
    ``optimizer.apply([gradient], [variable])``, as a training step does for
    a network's weights. The loop runs in one ``tf.function``.

    Parameters
    ----------
    surface : Surface
    optimizer : keras.optimizers.Optimizer
        Copied through its config, so every path starts with fresh state
        (zero momentum, zero moments, ``iterations = 0``) and the instance you
        pass is left untouched.
    start : pair of float
    steps : int
        Updates to make.
    blowup : float, default 1e6
        Stop, and flag the path as diverged, once its distance from
        ``surface.center`` exceeds ``blowup`` times the start's distance (at
        least ``blowup``), or a coordinate is no longer finite.

    Returns
    -------
    Path

    Examples
    --------
    >>> import keras
    >>> from lrnotes.surfaces import Quadratic
    >>> bowl = Quadratic(1.0, 25.0)
    >>> path = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=0.05), (-4.0, 1.0), steps=200)
    >>> path.diverged, len(path), path.final_distance < 1e-3
    (False, 201, True)
    >>> optimizer_path(bowl, keras.optimizers.SGD(learning_rate=0.09), (-4.0, 1.0), steps=500).diverged
    True
    >>> optimizer_path(bowl, "sgd", (0.0, 1.0), steps=10)
    Traceback (most recent call last):
    ...
    TypeError: optimizer must be a Keras optimizer instance, got str
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface (Quadratic, Rosenbrock, Saddle), got {type(surface).__name__}")
    _check_optimizer(optimizer)
    point = as_point(start)
    steps = validation.integer("steps", steps)
    blowup = validation.number("blowup", blowup, low=1)
    return _run(surface, optimizer, point[None], steps, None, blowup, single=True)[0]


def optimizer_paths(surface: Surface, optimizer: keras.optimizers.Optimizer, starts: Sequence, steps: int, *,
                    learning_rates: Sequence[float] | None = None, blowup: float = 1e6) -> list[Path]:
    """Several paths of one optimizer at once: several starts, or several rates.

    The paths are the rows of one ``(R, 2)`` variable stepped by one copy of
    the optimizer; with ``learning_rates``, row ``r`` uses rate ``r`` (a
    constant rate per row). This is exact because the optimizers accepted
    here update every coordinate from its own gradient and state alone: each
    row is the path it would be on its own (the tests check it against
    :func:`optimizer_path`).

    Parameters
    ----------
    surface, optimizer, steps, blowup
        As for :func:`optimizer_path`.
    starts : pair of float, or sequence of pairs
        One start (shared by every rate) or one per path.
    learning_rates : sequence of float, optional
        One rate per path (replacing the optimizer's); ``None`` keeps it.

    Returns
    -------
    list of Path

    Examples
    --------
    >>> import keras
    >>> from lrnotes.stability import stability_limit
    >>> from lrnotes.surfaces import Quadratic
    >>> bowl = Quadratic(1.0, 25.0)
    >>> limit = stability_limit(bowl)
    >>> paths = optimizer_paths(bowl, keras.optimizers.SGD(), (-4.0, 1.0), 2000,
    ...                         learning_rates=[0.99 * limit, 1.01 * limit])
    >>> [path.diverged for path in paths]
    [False, True]
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface (Quadratic, Rosenbrock, Saddle), got {type(surface).__name__}")
    _check_optimizer(optimizer)
    steps = validation.integer("steps", steps)
    blowup = validation.number("blowup", blowup, low=1)
    array = np.asarray(starts, dtype=object)
    if array.ndim == 1:
        points = as_point(starts)[None]
    else:
        if array.ndim != 2 or len(starts) == 0:
            raise ValueError("starts must be one point (x, y) or a non-empty list of points")
        points = np.stack([as_point(start, f"starts[{index}]") for index, start in enumerate(starts)])
    rates = None
    if learning_rates is not None:
        if isinstance(learning_rates, (str, bytes)) or not isinstance(learning_rates, Sequence) or not learning_rates:
            raise TypeError(f"learning_rates must be a non-empty list of numbers, got {learning_rates!r}")
        rates = [validation.number("learning_rates", rate, low=0) for rate in learning_rates]
        if len(points) == 1:
            points = np.repeat(points, len(rates), axis=0)
        elif len(points) != len(rates):
            raise ValueError(f"give one start or one start per rate; got {len(points)} starts and {len(rates)} rates")
    if len(points) > 1 or rates is not None:
        name = type(optimizer).__name__
        if name not in ELEMENTWISE_OPTIMIZERS:
            raise ValueError(f"{name} may couple the coordinates of different paths; use optimizer_path one by one")
        config = optimizer.get_config()
        if config.get("clipnorm") is not None or config.get("global_clipnorm") is not None:
            raise ValueError("clipnorm and global_clipnorm couple the paths; use optimizer_path one by one")
    return _run(surface, optimizer, points, steps, rates, blowup, single=False)


def best_path(paths: Sequence[Path], tol: float = 1e-3) -> Path:
    """The path that gets within ``tol`` of the minimum, and stays there, soonest.

    How the book picks a learning rate for each optimizer from a sweep of
    rates: among the paths that converge (see :meth:`Path.steps_to_converge`)
    the fastest; if none converges, the non-diverged path that ends closest to
    the minimum. Ties go to the earlier path in the list.

    Examples
    --------
    >>> import keras
    >>> from lrnotes.surfaces import Quadratic
    >>> paths = optimizer_paths(Quadratic(1.0, 25.0), keras.optimizers.SGD(), (-4.0, 1.0), 300,
    ...                         learning_rates=[0.01, 0.05, 0.1])
    >>> best_path(paths).learning_rate
    0.05
    """
    paths = list(paths)
    if not paths or not all(isinstance(path, Path) for path in paths):
        raise TypeError("paths must be a non-empty list of Path objects (from optimizer_paths)")
    tol = validation.number("tol", tol, low=0)
    speeds = [path.steps_to_converge(tol) for path in paths]
    if any(np.isfinite(speeds)):
        return paths[int(np.nanargmin(speeds))]
    finals = [np.inf if path.diverged else path.final_distance for path in paths]
    if not np.isfinite(finals).any():
        raise ValueError("every path diverged: no learning rate to choose")
    return paths[int(np.argmin(finals))]
