"""Two-dimensional test surfaces for optimizer paths.

A surface is a function of a point ``w = (x, y)`` written with TensorFlow
ops, so that its gradient can be fed to a Keras optimizer stepping on a
``keras.Variable`` of shape ``(2,)`` (:mod:`lrnotes.paths`). The surfaces of
the book:

- :class:`Quadratic`: ``f = (a x² + b y²) / 2``, a badly conditioned bowl
  whose Hessian is constant, so :func:`lrnotes.stability.stability_limit`
  can say exactly which learning rates converge;
- :class:`Rosenbrock`: the curved, flat-bottomed valley of Rosenbrock (1960);
- :class:`Saddle`: ``f = (a x² - b y²) / 2``, a saddle point at the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrnotes import validation
from lrnotes._runtime import keras, tf

__all__ = ["Quadratic", "Rosenbrock", "Saddle", "Surface", "as_point"]


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



def as_point(start: Any, name: str = "start") -> np.ndarray:
    """``start`` as a finite point ``(x, y)``: an array of shape ``(2,)``; the error names ``name``.

    Examples
    --------
    >>> as_point((1, 2))
    array([1., 2.])
    """
    try:
        point = np.asarray(start, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a point (x, y), got {start!r}") from error
    if point.shape != (2,):
        raise ValueError(f"{name} must be a point (x, y) of shape (2,), got shape {point.shape}")
    if not np.isfinite(point).all():
        raise ValueError(f"{name} must be finite, got {start!r}")
    return point


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
    ValueError: b must be a positive number, got -1.0
    """

    a: float = 1.0
    b: float = 25.0
    angle: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", validation.number("a", self.a, low=0))
        object.__setattr__(self, "b", validation.number("b", self.b, low=0))
        object.__setattr__(self, "angle", validation.number("angle", self.angle))

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
        object.__setattr__(self, "a", validation.number("a", self.a))
        object.__setattr__(self, "b", validation.number("b", self.b, low=0))

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
        object.__setattr__(self, "a", validation.number("a", self.a, low=0))
        object.__setattr__(self, "b", validation.number("b", self.b, low=0))

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
