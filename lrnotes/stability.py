"""Stability of gradient descent, with heavy-ball or Nesterov momentum, on a quadratic.

Along an eigendirection of curvature ``λ``, Keras' SGD update is linear in
``(w, m)``; :func:`iteration_matrix` is that 2×2 matrix, :func:`spectral_radius`
its largest eigenvalue modulus, and :func:`stability_limit` the largest rate
at which every direction of a surface still converges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lrnotes import validation
from lrnotes.surfaces import Quadratic, Surface, as_point

__all__ = ["iteration_matrix", "spectral_radius", "stability_limit"]



def _momentum(value: Any) -> float:
    value = validation.number("momentum", value)
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
    h = validation.number("h", h)
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
    >>> from lrnotes.surfaces import Quadratic, Rosenbrock, Saddle
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
        point = as_point(at, "at")
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
