"""The explorer of optimizer paths on a 2-D surface: :func:`explore_paths` (see :mod:`lrnotes.explore`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lrnotes.explore import (
    AXIS_STYLE,
    TAB10,
    Explorer,
    TraceTable,
    base_layout,
    css_color,
    rounded,
    value_text,
)

__all__ = ["explore_paths", "simplify"]


def simplify(points: Any, tolerance: float) -> np.ndarray:
    """Indices of the points of a polyline to keep so that no dropped point is farther than ``tolerance`` from it.

    The Ramer-Douglas-Peucker rule: the first and last points stay, and a
    stretch is split at its farthest point while that point is more than
    ``tolerance`` from the chord. A zigzag wider than ``tolerance`` keeps every
    turn; a stretch straighter than that keeps its ends. Non-finite points end
    the polyline (a diverged path).

    Examples
    --------
    >>> simplify([[0, 0], [1, 0.001], [2, 0], [3, 1], [4, 0]], 0.01).tolist()
    [0, 2, 3, 4]
    """
    array = np.asarray(points, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {array.shape}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance!r}")
    finite = np.all(np.isfinite(array), axis=1)
    count = int(np.argmin(finite)) if not finite.all() else len(array)
    if count <= 2:
        return np.arange(count)
    keep = np.zeros(count, dtype=bool)
    keep[0] = keep[count - 1] = True
    stack = [(0, count - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        start, end = array[first], array[last]
        inner = array[first + 1:last]
        chord = end - start
        length = float(np.hypot(*chord))
        if length == 0.0:
            distances = np.hypot(*(inner - start).T)
        else:
            distances = np.abs(chord[0] * (inner[:, 1] - start[1]) - chord[1] * (inner[:, 0] - start[0])) / length
        farthest = int(np.argmax(distances))
        if distances[farthest] > tolerance:
            middle = first + 1 + farthest
            keep[middle] = True
            stack += [(first, middle), (middle, last)]
    return np.flatnonzero(keep)


def explore_paths(
    paths: Mapping[tuple[str, str], Sequence[Any]],
    surfaces: Mapping[str, Any],
    *,
    limits: Mapping[tuple[str, str], float] | None = None,
    colors: Mapping[str, Any] | None = None,
    bounds: Mapping[str, Any] | None = None,
    levels: int = 20,
    resolution: int = 80,
    title: str = "optimizer paths and the learning rate",
    height: int = 460,
) -> Explorer:
    """An explorer of optimizer paths: pick a surface, an optimizer and a learning rate.

    The left panel draws the surface's contour lines (log-spaced above the
    minimum, as :func:`lrnotes.plot_paths`) and the path of the chosen rate,
    from its start (circle) to its end (a cross if it diverged); the right
    panel the final distance to the minimum against the rate for that
    optimizer on that surface, the stability limit as a dotted line, and the
    chosen rate ringed. The path is simplified (:func:`simplify`) to within a
    thousandth of the window, below what the figure can show.

    Parameters
    ----------
    paths : dict
        ``{(surface name, optimizer name): [Path, ...]}``, one path per learning rate
        (:func:`lrnotes.optimizer_paths`).
    surfaces : dict
        ``{surface name: Surface}`` for every surface named in ``paths``.
    limits : dict, optional
        ``{(surface name, optimizer name): rate}``: the stability limit (:func:`lrnotes.stability_limit`).
    colors : dict, optional
        A colour per optimizer name (default C0, C1, … in order).
    bounds : dict, optional
        A window ``((xmin, xmax), (ymin, ymax))`` per surface (default ``surface.bounds``).
    levels, resolution : int
        Contour levels, and grid points per axis of the contour data.

    Returns
    -------
    Explorer

    Raises
    ------
    ValueError
        For a path without a constant learning rate, a surface missing from ``surfaces``, or a
        ``limits`` key that names no paths.

    Examples
    --------
    >>> import keras
    >>> from lrnotes.paths import optimizer_paths
    >>> from lrnotes.stability import stability_limit
    >>> from lrnotes.surfaces import Quadratic
    >>> bowl = Quadratic(1.0, 25.0)
    >>> paths = optimizer_paths(bowl, keras.optimizers.SGD(), (-4.0, 1.5), 100, learning_rates=[0.05, 0.1])
    >>> limits = {("bowl", "SGD"): stability_limit(bowl)}
    >>> explorer = explore_paths({("bowl", "SGD"): paths}, {"bowl": bowl}, limits=limits)
    >>> explorer.spec["states"][explorer.key(surface="bowl", optimizer="SGD", learning_rate=0.1)]["status"]
    'SGD on the bowl, learning rate 0.1 (1.25 × the stability limit 0.08): diverged after ... steps'
    """
    from lrnotes.paths import Path as OptimizerPath
    from lrnotes.surface_plots import contour_levels

    if not isinstance(paths, Mapping) or not paths:
        raise TypeError("paths must be a non-empty dict {(surface name, optimizer name): [Path, ...]}")
    limits = dict(limits or {})
    for key in limits:
        if key not in paths:
            raise ValueError(f"limits names {key!r}, which has no paths; keys are {sorted(paths)}")
    surface_names = list(dict.fromkeys(key[0] for key in paths))
    optimizer_names = list(dict.fromkeys(key[1] for key in paths))
    for name in surface_names:
        if name not in surfaces:
            raise ValueError(f"surfaces has no {name!r}; it has {sorted(surfaces)}")
    rates: list[float] = []
    for key, runs in paths.items():
        for run in runs:
            if not isinstance(run, OptimizerPath):
                raise TypeError(f"paths[{key!r}] must hold Path objects, got {type(run).__name__}")
            if run.learning_rate is None:
                raise ValueError(f"paths[{key!r}] has a path without a constant learning rate")
            rates.append(float(run.learning_rate))
    rates = sorted(set(rates))
    colors = {name: css_color(colors[name]) if colors and name in colors else TAB10[index % 10]
              for index, name in enumerate(optimizer_names)}
    windows = {name: (bounds or {}).get(name, surfaces[name].bounds) for name in surface_names}

    figure = TraceTable()
    contour_traces = {}
    for name in surface_names:
        (x_low, x_high), (y_low, y_high) = windows[name]
        xs = np.linspace(x_low, x_high, resolution)
        ys = np.linspace(y_low, y_high, resolution)
        grid_x, grid_y = np.meshgrid(xs, ys)
        values = np.asarray(surfaces[name].value(np.stack([grid_x, grid_y], axis=-1)), dtype=float)
        shown, level_values = contour_levels(surfaces[name], values, levels)
        logged = bool(level_values[0] > 0 and np.allclose(np.diff(np.log(level_values)),
                                                             np.log(level_values[1] / level_values[0])))
        z = np.log10(np.maximum(shown, level_values[0] / 10)) if logged else shown
        edges = np.log10(level_values) if logged else level_values
        contour_traces[name] = figure.trace({
            "type": "contour", "name": f"{name}: contour lines", "meta": {"role": "contour", "surface": name},
            "x": rounded(xs), "y": rounded(ys), "z": [rounded(row) for row in z],
            "contours": {"coloring": "lines", "start": float(edges[0]), "end": float(edges[-1]),
                         "size": float((edges[-1] - edges[0]) / max(levels - 1, 1))},
            "colorscale": [[0, "#555555"], [1, "#bbbbbb"]], "showscale": False, "line": {"width": 0.7},
            "hoverinfo": "skip", "showlegend": False, "xaxis": "x", "yaxis": "y",
        })
    path_trace = figure.trace({"type": "scatter", "mode": "lines+markers", "name": "path",
                               "meta": {"role": "path"}, "line": {"width": 1.4, "color": colors[optimizer_names[0]]},
                               "marker": {"size": 3}, "xaxis": "x", "yaxis": "y", "showlegend": False,
                               "hovertemplate": "(%{x:.3g}, %{y:.3g})<extra></extra>"})
    start_trace = figure.trace({"type": "scatter", "mode": "markers", "name": "start", "meta": {"role": "start"},
                                "marker": {"size": 9, "color": "white", "line": {"color": "black", "width": 1.5}},
                                "xaxis": "x", "yaxis": "y", "hoverinfo": "skip"})
    minimum_trace = figure.trace({"type": "scatter", "mode": "markers", "name": "minimum",
                                  "meta": {"role": "minimum"},
                                  "marker": {"symbol": "star", "size": 13, "color": "black"},
                                  "xaxis": "x", "yaxis": "y", "hoverinfo": "skip"})
    end_trace = figure.trace({"type": "scatter", "mode": "markers", "name": "diverged (clipped to the window)",
                              "meta": {"role": "diverged"},
                              "marker": {"symbol": "x", "size": 11, "color": "crimson"},
                              "xaxis": "x", "yaxis": "y", "hoverinfo": "skip"})
    curve_trace = figure.trace({"type": "scatter", "mode": "lines+markers", "name": "final distance",
                                "meta": {"role": "final_distance"}, "line": {"width": 2}, "marker": {"size": 5},
                                "xaxis": "x2", "yaxis": "y2", "showlegend": False,
                                "hovertemplate": "rate %{x:g}: %{y:.3g}<extra></extra>"})
    bad_trace = figure.trace({"type": "scatter", "mode": "markers", "name": "diverged rate",
                              "meta": {"role": "diverged_rates"},
                              "marker": {"symbol": "x", "size": 9, "color": "crimson"},
                              "xaxis": "x2", "yaxis": "y2", "showlegend": False,
                              "hovertemplate": "rate %{x:g}: diverged<extra></extra>"})
    limit_trace = figure.trace({"type": "scatter", "mode": "lines", "name": "stability limit",
                                "meta": {"role": "limit"}, "line": {"color": "black", "dash": "dot", "width": 1.5},
                                "xaxis": "x2", "yaxis": "y2", "hoverinfo": "skip"})
    ring_trace = figure.trace({"type": "scatter", "mode": "markers", "name": "the rate on the left",
                               "meta": {"role": "current"},
                               "marker": {"symbol": "circle-open", "size": 16, "color": "black", "line": {"width": 2}},
                               "xaxis": "x2", "yaxis": "y2", "hoverinfo": "skip"})
    finals = [max(run.final_distance, 1e-12) for runs in paths.values() for run in runs
              if not run.diverged and np.isfinite(run.final_distance)]
    floor, ceiling = min(finals, default=1e-12), max(finals, default=1.0)
    top = ceiling * 10  # the row of crosses for diverged rates
    right_range = [math.log10(floor) - 0.3, math.log10(top) + 0.3]

    keys = []
    for (surface_name, optimizer_name), runs in paths.items():
        surface = surfaces[surface_name]
        (x_low, x_high), (y_low, y_high) = windows[surface_name]
        tolerance = 1e-3 * max(x_high - x_low, y_high - y_low)
        by_rate = sorted(runs, key=lambda run: float(run.learning_rate))
        run_rates = np.array([float(run.learning_rate) for run in by_rate])
        distances = [np.nan if run.diverged else max(run.final_distance, 1e-12) for run in by_rate]
        limit = limits.get((surface_name, optimizer_name))
        for run in by_rate:
            index = (surface_names.index(surface_name), optimizer_names.index(optimizer_name),
                     rates.index(float(run.learning_rate)))
            keys.append(index)
            points = np.asarray(run.points, dtype=float)
            kept = points[simplify(points, tolerance)]
            traces: list = [False] * len(figure.styles)
            traces[contour_traces[surface_name]] = None
            traces[path_trace] = [figure.x(kept[:, 0]), rounded(kept[:, 1])]
            traces[start_trace] = [figure.x(points[:1, 0]), rounded(points[:1, 1])]
            spot = surface.minimum if surface.minimum is not None else surface.center
            traces[minimum_trace] = [figure.x([spot[0]]), rounded([spot[1]])]
            if run.diverged and len(kept):
                end = np.clip(kept[-1], [x_low, y_low], [x_high, y_high])
                traces[end_trace] = [figure.x([end[0]]), rounded([end[1]])]
            else:
                traces[end_trace] = [figure.x([]), []]
            traces[curve_trace] = [figure.x(run_rates), rounded(distances)]
            bad = run_rates[[run.diverged for run in by_rate]]
            traces[bad_trace] = [figure.x(bad), rounded(np.full(len(bad), top))]
            if limit is None:
                traces[limit_trace] = [figure.x([]), []]
            else:
                traces[limit_trace] = [figure.x([limit, limit]), rounded([10 ** right_range[0], 10 ** right_range[1]])]
            here = float(run.learning_rate)
            traces[ring_trace] = [figure.x([here]), rounded([top if run.diverged else max(run.final_distance, 1e-12)])]
            if run.diverged:
                outcome = f"diverged after {len(run) - 1} steps"
            else:
                outcome = f"ends {run.final_distance:.2g} from the minimum after {run.steps} steps"
            where = "" if limit is None else f" ({here / limit:.3g} × the stability limit {limit:.3g})"
            status = f"{optimizer_name} on the {surface_name}, learning rate {here:g}{where}: {outcome}"
            color = colors[optimizer_name]
            figure.states["|".join(map(str, index))] = {
                "traces": traces, "status": status,
                "layout": {"xaxis.range": [x_low, x_high], "yaxis.range": [y_low, y_high]},
                "style": color,
            }
    # The path and the curve take the optimizer's colour: a per-state style.
    for state in figure.states.values():
        color = state.pop("style")
        state["traces"][path_trace] = state["traces"][path_trace] + [{"line": {"width": 1.4, "color": color},
                                                                      "marker": {"size": 3, "color": color}}]
        state["traces"][curve_trace] = state["traces"][curve_trace] + [{"line": {"width": 2, "color": color},
                                                                        "marker": {"size": 5, "color": color}}]
    keys.sort()
    first_surface = windows[surface_names[0]]
    layout = base_layout(height) | {
        "xaxis": {**AXIS_STYLE, "domain": [0.0, 0.5], "anchor": "y", "title": {"text": "x"},
                  "range": list(first_surface[0])},
        "yaxis": {**AXIS_STYLE, "anchor": "x", "title": {"text": "y"}, "range": list(first_surface[1])},
        "xaxis2": {**AXIS_STYLE, "domain": [0.62, 1.0], "anchor": "y2", "type": "log", "title": {"text": "learning rate"},
                   "range": [math.log10(rates[0]) - 0.15, math.log10(rates[-1]) + 0.15]},
        "yaxis2": {**AXIS_STYLE, "anchor": "x2", "type": "log", "title": {"text": "final distance to the minimum"},
                   "range": right_range},
    }
    controls = [
        {"name": "surface", "label": "surface", "kind": "select", "options": surface_names},
        {"name": "optimizer", "label": "optimizer", "kind": "select", "options": optimizer_names},
        {"name": "learning_rate", "label": "learning rate", "kind": "range", "options": [value_text(r) for r in rates]},
    ]
    key_texts = ["|".join(map(str, index)) for index in keys]
    initial = key_texts[0]
    for index in keys:  # the first optimizer's first rate above its limit, or the middle rate
        limit = limits.get((surface_names[index[0]], optimizer_names[index[1]]))
        if index[:2] == keys[0][:2] and limit is not None and rates[index[2]] < limit:
            initial = "|".join(map(str, index))
    return figure.explorer(title, controls, key_texts, initial, layout)
