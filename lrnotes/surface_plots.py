"""Contour plots of the 2-D surfaces with optimizer paths drawn on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lrnotes import validation
from lrnotes.paths import Path
from lrnotes.surfaces import Surface

__all__ = ["contour_levels", "plot_paths"]



def contour_levels(surface: Surface, values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
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
    >>> from lrnotes.paths import optimizer_path
    >>> from lrnotes.surfaces import Quadratic
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
    validation.integer("levels", levels, minimum=2)
    xs = np.linspace(x_low, x_high, resolution)
    ys = np.linspace(y_low, y_high, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = np.asarray(surface.value(np.stack([grid_x, grid_y], axis=-1)), dtype=float)
    shown, level_values = contour_levels(surface, values, int(levels))
    ax.contour(grid_x, grid_y, shown, levels=level_values, cmap="Greys_r", linewidths=0.6, alpha=0.6)
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
