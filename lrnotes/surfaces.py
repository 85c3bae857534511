"""Two-dimensional test surfaces, and the paths real Keras optimizers take on them.

A surface is a function of a point ``w = (x, y)`` written with TensorFlow
ops, so that its gradient can be fed to a Keras optimizer stepping on a
``keras.Variable`` of shape ``(2,)``: :func:`optimizer_path` does exactly
what a training step does (``optimizer.apply([gradient], [variable])``), on
a problem small enough to draw. The surfaces of the book:

- :class:`Quadratic`: ``f = (a x² + b y²) / 2``, a badly conditioned bowl
  whose Hessian is constant, so :func:`stability_limit` can say exactly which
  learning rates converge;
- :class:`Rosenbrock`: the curved, flat-bottomed valley of Rosenbrock (1960);
- :class:`Saddle`: ``f = (a x² - b y²) / 2``, a saddle point at the origin.

:func:`optimizer_paths` runs several paths at once (several starts or several
learning rates) as the rows of one ``(R, 2)`` variable. Every optimizer it
accepts (SGD, Adagrad, Adadelta, RMSprop, Adam, Adamax, Nadam, AdamW) updates
each coordinate from that coordinate's own gradient and state, so the rows do
not interact: each row is the path it would be alone.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrnotes._runtime import keras, tf
from lrnotes.training import ELEMENTWISE_OPTIMIZERS

__all__ = [
    "Path",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "Surface",
    "best_path",
    "iteration_matrix",
    "optimizer_path",
    "optimizer_paths",
    "plot_paths",
    "spectral_radius",
    "stability_limit",
]


def _real(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive, finite number" if positive else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def _as_points(w: Any) -> Any:
    """``w`` as a float tensor whose last axis has length 2."""
    if isinstance(w, keras.Variable):
        w = w.value
    try:
        tensor = tf.convert_to_tensor(w)
    except (TypeError, ValueError) as error:
        raise TypeError(f"w must be an array of points (last axis of length 2), got {type(w).__name__}") from error
    if not tensor.dtype.is_floating:
        if not (tensor.dtype.is_integer or tensor.dtype == tf.bool):
            raise TypeError(f"w must hold numbers, got dtype {tensor.dtype.name}")
        tensor = tf.cast(tensor, tf.float32)
    if tensor.shape.rank == 0 or tensor.shape[-1] != 2:
        raise ValueError(f"w must have a last axis of length 2 (x, y), got shape {tuple(tensor.shape)}")
    return tensor


class Surface:
    """A function of two variables, written with TensorFlow ops.

    Subclasses define ``_value(x, y)`` and ``_gradient(x, y)`` on tensors,
    :attr:`center` (the minimum, or the stationary point of interest),
    :attr:`minimum` (``None`` when the surface is unbounded below) and
    :attr:`bounds` (the default plotting window).
    """

    bounds: tuple[tuple[float, float], tuple[float, float]] = ((-2.0, 2.0), (-2.0, 2.0))

    @property
    def minimum(self) -> tuple[float, float] | None:
        """The location of the minimum, or ``None`` (unbounded below)."""
        raise NotImplementedError

    @property
    def center(self) -> tuple[float, float]:
        """The minimum, or the stationary point paths are measured from."""
        return self.minimum

    def value(self, w: Any) -> Any:
        """``f(w)`` for points ``w`` of shape ``(..., 2)``; a tensor of shape ``(...)``."""
        w = _as_points(w)
        return self._value(w[..., 0], w[..., 1])

    def gradient(self, w: Any) -> Any:
        """``∇f(w)`` for points ``w`` of shape ``(..., 2)``; a tensor of the same shape."""
        w = _as_points(w)
        return tf.stack(self._gradient(w[..., 0], w[..., 1]), axis=-1)

    def hessian(self, w: Any) -> np.ndarray:
        """The 2×2 Hessian at one point (by automatic differentiation of :meth:`gradient`)."""
        w = _as_points(w)
        if w.shape.rank != 1:
            raise ValueError(f"hessian takes one point of shape (2,), got shape {tuple(w.shape)}")
        w = tf.cast(w, tf.float64)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(w)
            gradient = self.gradient(w)
            parts = [gradient[0], gradient[1]]
        rows = [tape.gradient(part, w) for part in parts]
        del tape
        return np.stack([np.zeros(2) if row is None else row.numpy() for row in rows])

    def __call__(self, w: Any) -> Any:
        return self.value(w)

    def _value(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def _gradient(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Quadratic(Surface):
    """The quadratic bowl ``f = (a u² + b v²) / 2``, with ``(u, v)`` the point rotated by ``-angle``.

    With ``angle = 0`` (the default) ``u = x`` and ``v = y``: the bowl's axes
    are the coordinate axes. Its Hessian is the same everywhere, with
    eigenvalues ``a`` and ``b``, so gradient descent on it is a linear
    recurrence whose stability :func:`stability_limit` computes. With ``b``
    much larger than ``a`` the bowl is a long, narrow valley: badly
    conditioned (condition number ``b / a``). A non-zero ``angle`` turns the
    valley away from the axes, which matters to optimizers that scale each
    coordinate separately (Adagrad, RMSprop, Adam) and to no other.

    Parameters
    ----------
    a, b : float
        The two curvatures (the eigenvalues of the Hessian), both positive.
    angle : float, default 0
        Rotation of the bowl's axes against the coordinate axes, in degrees.

    Examples
    --------
    >>> bowl = Quadratic(1.0, 25.0)
    >>> float(bowl.value([2.0, 1.0]))
    14.5
    >>> bowl.gradient([2.0, 1.0]).numpy().tolist()
    [2.0, 25.0]
    >>> bowl.eigenvalues, bowl.condition_number
    ((1.0, 25.0), 25.0)
    >>> Quadratic(1.0, 25.0, angle=90.0).hessian([0.0, 0.0]).round(9) + 0.0
    array([[25.,  0.],
           [ 0.,  1.]])
    >>> Quadratic(1.0, -1.0)
    Traceback (most recent call last):
    ...
    ValueError: b must be a positive, finite number, got -1.0
    """

    a: float = 1.0
    b: float = 25.0
    angle: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _real("a", self.a, positive=True))
        object.__setattr__(self, "b", _real("b", self.b, positive=True))
        object.__setattr__(self, "angle", _real("angle", self.angle))

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The default plotting window."""
        return ((-5.0, 5.0), (-2.0, 2.0)) if self.angle == 0 else ((-4.5, 4.5), (-4.5, 4.5))

    @property
    def minimum(self) -> tuple[float, float]:
        return (0.0, 0.0)

    @property
    def eigenvalues(self) -> tuple[float, float]:
        """The eigenvalues of the Hessian, smallest first."""
        return (min(self.a, self.b), max(self.a, self.b))

    @property
    def condition_number(self) -> float:
        """Largest over smallest eigenvalue of the Hessian."""
        low, high = self.eigenvalues
        return high / low

    def _rotate(self, x, y):
        if self.angle == 0:
            return x, y
        cos, sin = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        return cos * x + sin * y, cos * y - sin * x

    def _value(self, x, y):
        u, v = self._rotate(x, y)
        return 0.5 * (self.a * u * u + self.b * v * v)

    def _gradient(self, x, y):
        if self.angle == 0:
            return self.a * x, self.b * y
        u, v = self._rotate(x, y)
        cos, sin = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        du, dv = self.a * u, self.b * v
        return cos * du - sin * dv, sin * du + cos * dv


@dataclass(frozen=True)
class Rosenbrock(Surface):
    """Rosenbrock's valley ``f(x, y) = (a - x)² + b (y - x²)²`` (Rosenbrock, 1960).

    The minimum ``f = 0`` lies at ``(a, a²)`` at the end of a curved, almost
    flat valley: easy to find, slow to follow.

    Parameters
    ----------
    a : float, default 1
        Position of the minimum.
    b : float, default 100
        Steepness of the valley walls (positive).

    Examples
    --------
    >>> valley = Rosenbrock()
    >>> float(valley.value([1.0, 1.0])), valley.minimum
    (0.0, (1.0, 1.0))
    >>> valley.gradient([0.0, 0.0]).numpy().tolist()
    [-2.0, 0.0]
    >>> valley.hessian([1.0, 1.0]).tolist()
    [[802.0, -400.0], [-400.0, 200.0]]
    """

    a: float = 1.0
    b: float = 100.0
    bounds = ((-2.0, 2.0), (-1.0, 3.0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _real("a", self.a))
        object.__setattr__(self, "b", _real("b", self.b, positive=True))

    @property
    def minimum(self) -> tuple[float, float]:
        return (self.a, self.a * self.a)

    def _value(self, x, y):
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def _gradient(self, x, y):
        inner = y - x * x
        return -2.0 * (self.a - x) - 4.0 * self.b * x * inner, 2.0 * self.b * inner


@dataclass(frozen=True)
class Saddle(Surface):
    """The saddle ``f(x, y) = (a x² - b y²) / 2``: a minimum along x, a maximum along y.

    The origin is a stationary point (zero gradient) but not a minimum; the
    surface is unbounded below, so a path that escapes the saddle runs off
    to infinity along y.

    Parameters
    ----------
    a, b : float, default 1
        Curvature upwards (along x) and downwards (along y), both positive.

    Examples
    --------
    >>> saddle = Saddle()
    >>> float(saddle.value([1.0, 1.0])), saddle.minimum, saddle.center
    (0.0, None, (0.0, 0.0))
    >>> saddle.gradient([1.0, 2.0]).numpy().tolist()
    [1.0, -2.0]
    """

    a: float = 1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _real("a", self.a, positive=True))
        object.__setattr__(self, "b", _real("b", self.b, positive=True))

    @property
    def minimum(self) -> None:
        return None

    @property
    def center(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def _value(self, x, y):
        return 0.5 * (self.a * x * x - self.b * y * y)

    def _gradient(self, x, y):
        return self.a * x, -self.b * y


# --------------------------------------------------------------------------
# Stability of (heavy-ball and Nesterov) gradient descent on a quadratic


def _momentum(value: Any) -> float:
    value = _real("momentum", value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {value!r}")
    return value


def iteration_matrix(h: float, momentum: float = 0.0, nesterov: bool = False) -> np.ndarray:
    """The matrix of Keras' SGD update along one eigendirection of a quadratic.

    Along an eigenvector with curvature ``λ`` the gradient is ``g = λ w``.
    With ``h = learning_rate · λ`` and ``β = momentum``, Keras' SGD
    (``m ← β m − lr·g``, then ``w ← w + m``, or ``w ← w + β m − lr·g`` with
    Nesterov) maps ``(w, m)`` linearly to the next ``(w, m)``; this is that
    2×2 matrix. The iteration converges iff both eigenvalues lie inside the
    unit circle.

    Examples
    --------
    >>> iteration_matrix(0.5, 0.9).tolist()
    [[0.5, 0.9], [-0.5, 0.9]]
    """
    h = _real("h", h)
    beta = _momentum(momentum)
    if nesterov:
        return np.array([[1.0 - h * (1.0 + beta), beta * beta], [-h, beta]])
    return np.array([[1.0 - h, beta], [-h, beta]])


def spectral_radius(h: float, momentum: float = 0.0, nesterov: bool = False) -> float:
    """The largest eigenvalue modulus of :func:`iteration_matrix`: the factor by
    which the distance to the minimum shrinks (or grows) per step, in the long run.

    Examples
    --------
    >>> round(spectral_radius(1.98), 6), round(spectral_radius(2.02), 6)
    (0.98, 1.02)
    """
    return float(np.max(np.abs(np.linalg.eigvals(iteration_matrix(h, momentum, nesterov)))))


def stability_limit(surface: Surface, momentum: float = 0.0, *, nesterov: bool = False,
                    at: Sequence[float] | None = None) -> float:
    """The largest learning rate at which Keras' SGD converges on a quadratic.

    With ``λmax`` the largest Hessian eigenvalue and ``β`` the momentum,
    gradient descent converges for ``0 < lr < 2 (1 + β) / λmax`` (``2/λmax``
    without momentum), and Keras' Nesterov variant for
    ``0 < lr < 2 (1 + β) / ((1 + 2β) λmax)``. At the limit an eigenvalue of
    :func:`iteration_matrix` reaches −1: just below it the path converges
    (slowly, zigzagging), just above it the zigzag grows without bound.

    On a surface that is not quadratic the same formula, with the Hessian at
    a point, is the *local* limit: the largest rate at which the iteration
    can settle at that point (a minimum, by default).

    Parameters
    ----------
    surface : Surface
        A :class:`Quadratic` (the Hessian is the same everywhere), or any
        surface with a minimum (or ``at``).
    momentum : float, default 0
        Keras' ``momentum`` (β), in [0, 1).
    nesterov : bool, default False
        Keras' ``nesterov`` flag.
    at : pair of float, optional
        Where to take the Hessian; defaults to the minimum.

    Raises
    ------
    ValueError
        If the Hessian there is not positive definite (a saddle: no rate converges).

    Examples
    --------
    >>> bowl = Quadratic(1.0, 25.0)
    >>> stability_limit(bowl), round(stability_limit(bowl, 0.9), 6), round(stability_limit(bowl, 0.9, nesterov=True), 6)
    (0.08, 0.152, 0.054286)
    >>> round(stability_limit(Rosenbrock()), 6)
    0.001997
    >>> stability_limit(Saddle())
    Traceback (most recent call last):
    ...
    ValueError: Saddle has no minimum; give the point with at=
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    beta = _momentum(momentum)
    if not isinstance(nesterov, bool):
        raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
    if isinstance(surface, Quadratic) and at is None:
        curvatures = surface.eigenvalues
    else:
        if at is None:
            if surface.minimum is None:
                raise ValueError(f"{type(surface).__name__} has no minimum; give the point with at=")
            at = surface.minimum
        point = _check_start(at, "at")
        curvatures = tuple(np.linalg.eigvalsh(surface.hessian(point)))
        if curvatures[0] <= 0:
            raise ValueError(
                f"the Hessian at {tuple(point.tolist())} has eigenvalue {curvatures[0]:g} <= 0: "
                "no learning rate converges there"
            )
    largest = float(max(curvatures))
    if nesterov:
        return 2.0 * (1.0 + beta) / ((1.0 + 2.0 * beta) * largest)
    return 2.0 * (1.0 + beta) / largest


# --------------------------------------------------------------------------
# Paths of real Keras optimizers


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
        tol = _real("tol", tol, positive=True)
        if self.surface.minimum is None:
            raise ValueError(f"{type(self.surface).__name__} has no minimum to converge to")
        outside = np.flatnonzero(self.distances() > tol)
        if self.diverged or (outside.size and outside[-1] == len(self) - 1):
            return float("nan")
        return float(outside[-1] + 1) if outside.size else 0.0

    def steps_to_value(self, level: float) -> float:
        """The first step at which the value is at most ``level`` (NaN if never)."""
        level = _real("level", level)
        below = np.flatnonzero(self.values <= level)
        return float(below[0]) if below.size else float("nan")


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a Keras optimizer instance, got {type(optimizer).__name__}")


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be a positive integer, got {type(steps).__name__} {steps!r}")
    if steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return int(steps)


def _check_start(start: Any, name: str = "start") -> np.ndarray:
    try:
        point = np.asarray(start, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a point (x, y), got {start!r}") from error
    if point.shape != (2,):
        raise ValueError(f"{name} must be a point (x, y) of shape (2,), got shape {point.shape}")
    if not np.isfinite(point).all():
        raise ValueError(f"{name} must be finite, got {start!r}")
    return point


class _RowRates(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate per row of an ``(R, 2)`` variable, shaped ``[R, 1]``."""

    def __init__(self, rates: Sequence[float]):
        self.rates = [float(rate) for rate in rates]
        self._tensor = tf.constant(np.asarray(self.rates, np.float32).reshape(-1, 1))

    def __call__(self, step):
        return self._tensor

    def get_config(self) -> dict:
        return {"rates": self.rates}


#: Optimizers that update every coordinate from its own gradient and state only.
_ELEMENTWISE = ELEMENTWISE_OPTIMIZERS


def _constant_rate(optimizer: keras.optimizers.Optimizer) -> float | None:
    if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return None
    return float(str(np.float32(keras.ops.convert_to_numpy(optimizer.learning_rate))))


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


def _check_blowup(blowup: Any) -> float:
    blowup = _real("blowup", blowup, positive=True)
    if blowup <= 1.0:
        raise ValueError(f"blowup must be larger than 1, got {blowup!r}")
    return blowup


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
    point = _check_start(start)
    steps = _check_steps(steps)
    blowup = _check_blowup(blowup)
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
    steps = _check_steps(steps)
    blowup = _check_blowup(blowup)
    array = np.asarray(starts, dtype=object)
    if array.ndim == 1:
        points = _check_start(starts)[None]
    else:
        if array.ndim != 2 or len(starts) == 0:
            raise ValueError("starts must be one point (x, y) or a non-empty list of points")
        points = np.stack([_check_start(start, f"starts[{index}]") for index, start in enumerate(starts)])
    rates = None
    if learning_rates is not None:
        if isinstance(learning_rates, (str, bytes)) or not isinstance(learning_rates, Sequence) or not learning_rates:
            raise TypeError(f"learning_rates must be a non-empty list of numbers, got {learning_rates!r}")
        rates = [_real("learning_rates", rate, positive=True) for rate in learning_rates]
        if len(points) == 1:
            points = np.repeat(points, len(rates), axis=0)
        elif len(points) != len(rates):
            raise ValueError(f"give one start or one start per rate; got {len(points)} starts and {len(rates)} rates")
    if len(points) > 1 or rates is not None:
        name = type(optimizer).__name__
        if name not in _ELEMENTWISE:
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
    >>> paths = optimizer_paths(Quadratic(1.0, 25.0), keras.optimizers.SGD(), (-4.0, 1.0), 300,
    ...                         learning_rates=[0.01, 0.05, 0.1])
    >>> best_path(paths).learning_rate
    0.05
    """
    paths = list(paths)
    if not paths or not all(isinstance(path, Path) for path in paths):
        raise TypeError("paths must be a non-empty list of Path objects (from optimizer_paths)")
    tol = _real("tol", tol, positive=True)
    speeds = [path.steps_to_converge(tol) for path in paths]
    if any(np.isfinite(speeds)):
        return paths[int(np.nanargmin(speeds))]
    finals = [np.inf if path.diverged else path.final_distance for path in paths]
    if not np.isfinite(finals).any():
        raise ValueError("every path diverged: no learning rate to choose")
    return paths[int(np.argmin(finals))]


# --------------------------------------------------------------------------
# Contour plots


def _contour_levels(surface: Surface, values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Values to contour and their levels: log-spaced above the minimum, else linear."""
    if surface.minimum is not None:
        floor = float(np.asarray(surface.value(np.asarray(surface.minimum, np.float64))))
        excess = np.maximum(values - floor, 0.0)
        top = float(np.nanmax(excess))
        positive = excess[excess > 0]
        bottom = max(float(np.nanmin(positive)) if positive.size else top * 1e-4, top * 1e-4)
        return excess, np.geomspace(bottom, top, count)
    return values, np.linspace(float(np.nanmin(values)), float(np.nanmax(values)), count)


def plot_paths(surface: Surface, paths: Any, ax: Any = None, *, labels: Sequence[str] | None = None,
               colors: Sequence[Any] | None = None, bounds: Any = None, levels: int = 20,
               resolution: int = 200, markers: bool = True) -> Any:
    """Contour lines of a surface with optimizer paths drawn on them.

    Parameters
    ----------
    surface : Surface
    paths : Path, array of shape (n, 2), or a list / dict of them
        A dict ``{label: path}`` labels the paths by its keys.
    ax : matplotlib Axes, optional
    labels : list of str, optional
        Legend labels (for a list of paths).
    colors : list of colours, optional
    bounds : ((xmin, xmax), (ymin, ymax)), optional
        The window; defaults to ``surface.bounds``. Paths are clipped to it.
    levels : int, default 20
        Contour levels (log-spaced above the minimum, linear for a saddle).
    resolution : int, default 200
        Grid points per axis.
    markers : bool, default True
        Mark the start (circle), the minimum (star) and the end of a diverged
        path (cross).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import keras
    >>> bowl = Quadratic(1.0, 25.0)
    >>> path = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=0.05), (-4.0, 1.0), steps=50)
    >>> ax = plot_paths(bowl, {"SGD 0.05": path})
    >>> [float(limit) for limit in ax.get_xlim()], len(ax.get_lines())
    ([-5.0, 5.0], 3)
    """
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    if ax is None:
        _, ax = plt.subplots()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    if isinstance(paths, Mapping):
        if labels is not None:
            raise ValueError("give labels either as the keys of a dict of paths or as labels=, not both")
        labels = [str(key) for key in paths]
        paths = list(paths.values())
    elif isinstance(paths, Path) or (isinstance(paths, np.ndarray) and paths.ndim == 2):
        paths = [paths]
    else:
        paths = list(paths)
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"got {len(labels)} labels for {len(paths)} paths")
    if colors is not None and len(colors) != len(paths):
        raise ValueError(f"got {len(colors)} colors for {len(paths)} paths")
    arrays = []
    for index, path in enumerate(paths):
        array = np.asarray(path, dtype=float)
        if array.ndim != 2 or array.shape[1] != 2:
            raise ValueError(f"paths[{index}] must have shape (n, 2), got {array.shape}")
        arrays.append(array)
    (x_low, x_high), (y_low, y_high) = surface.bounds if bounds is None else bounds
    if not (x_low < x_high and y_low < y_high):
        raise ValueError(f"bounds must be ((xmin, xmax), (ymin, ymax)) with min < max, got {bounds!r}")
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 2:
        raise ValueError(f"levels must be an integer of at least 2, got {levels!r}")
    xs = np.linspace(x_low, x_high, resolution)
    ys = np.linspace(y_low, y_high, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = np.asarray(surface.value(np.stack([grid_x, grid_y], axis=-1)), dtype=float)
    shown, contour_levels = _contour_levels(surface, values, int(levels))
    ax.contour(grid_x, grid_y, shown, levels=contour_levels, cmap="Greys_r", linewidths=0.6, alpha=0.6)
    palette = plt.get_cmap("tab10")
    for index, array in enumerate(arrays):
        color = colors[index] if colors is not None else palette(index % 10)
        label = labels[index] if labels is not None else None
        ax.plot(array[:, 0], array[:, 1], color=color, linewidth=1.3, marker="." if len(array) < 150 else None,
                markersize=3, label=label)
        if markers:
            ax.plot(*array[0], marker="o", color=color, markersize=5, markeredgecolor="black")
            if isinstance(paths[index], Path) and paths[index].diverged:
                ax.plot(*np.clip(array[-1], [x_low, y_low], [x_high, y_high]), marker="x", color=color,
                        markersize=8, markeredgewidth=2)
    if markers:
        spot = surface.minimum if surface.minimum is not None else surface.center
        ax.plot(*spot, marker="*", color="black", markersize=11, linestyle="none",
                label="minimum" if surface.minimum is not None else "saddle point")
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(False)
    if labels is not None:
        ax.legend(loc="best", fontsize="small")
    return ax
