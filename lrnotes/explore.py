"""Interactive figures ("explorers") over results a notebook has already computed.

An explorer draws what the static figures draw (the median over seeds, the
inter-quartile band and every single run; the final value against a
hyperparameter), for one setting of its controls at a time. The reader moves
a slider (an ordered setting such as the learning rate) or picks from a menu
(a named one such as the optimizer), and the figure changes to that setting's
runs. Every setting's data is computed here, in Python, and embedded in the
page, rounded to :data:`DIGITS` significant digits: no kernel, server or
Python runs in the browser.

The figures are drawn by Plotly's JavaScript library, which ships inside the
``plotly`` wheel, and by ``explore.js`` of this package, which builds the
controls (labelled, keyboard-operable HTML inputs) and swaps the data. In the
book both scripts are static files of the site, loaded once by each page that
has an explorer (:mod:`lrnotes.sphinxext`); the page itself carries only its
data. Elsewhere (JupyterLab, a notebook run by hand) the first explorer that a
kernel shows carries both scripts inline, so the figures work offline there
too. :data:`SCRIPTS_ENV` chooses between the two.

Functions: :func:`explore_runs` (records of :func:`lrnotes.sweep`) and
:func:`explore_paths` (optimizer paths on a 2-D surface).
"""

from __future__ import annotations

import hashlib
import html
import importlib.resources
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lrnotes import validation

__all__ = ["DIGITS", "SCRIPTS_ENV", "Explorer", "explore_paths", "explore_runs", "rounded", "script_files", "simplify"]

#: Significant digits of every number an explorer embeds.
DIGITS = 4

#: Environment variable: ``site`` when the page loads the scripts itself (the book's build sets it),
#: anything else (or unset) to carry them inline with the first explorer of a kernel.
SCRIPTS_ENV = "LRNOTES_EXPLORE_SCRIPTS"

_BANDS = {"iqr": (25, 75), "minmax": (0, 100)}
_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf"]
_inline_sent = False
_GRID = {"showgrid": True, "gridcolor": "#e6e6e6", "zeroline": False, "showline": True, "linecolor": "#444",
         "ticks": "outside", "exponentformat": "power"}


def script_files() -> dict[str, Path]:
    """The two scripts an explorer needs, by the name they get among the book's static files.

    Examples
    --------
    >>> sorted(script_files())
    ['lrnotes-explore.js', 'plotly.min.js']
    >>> all(path.is_file() for path in script_files().values())
    True
    """
    try:
        plotly_js = Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError as error:  # pragma: no cover - plotly is a dependency
        raise ImportError("the interactive figures need plotly: pip install 'plotly>=6,<7'") from error
    return {"plotly.min.js": plotly_js, "lrnotes-explore.js": Path(__file__).with_name("explore.js")}


def rounded(values: Any, digits: int = DIGITS) -> list:
    """``values`` as a list of floats rounded to ``digits`` significant digits; NaN and infinities become ``None``.

    Examples
    --------
    >>> rounded([0.123456, 12345.6, float("nan"), 0.0, -1e-9])
    [0.1235, 12350.0, None, 0.0, -1e-09]
    """
    validation.integer("digits", digits, minimum=1)
    out = []
    for value in np.asarray(values, dtype=float).ravel().tolist():
        out.append(float(f"{value:.{digits}g}") if math.isfinite(value) else None)
    return out


def _color(value: Any) -> str:
    """A colour in CSS form: matplotlib's ``C0``…``C9``, names and tuples become ``#rrggbb``."""
    from matplotlib.colors import to_hex

    return to_hex(value)


def _rgba(value: Any, alpha: float) -> str:
    from matplotlib.colors import to_rgb

    red, green, blue = (round(255 * channel) for channel in to_rgb(value))
    return f"rgba({red},{green},{blue},{alpha})"


def _text(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


@dataclass(frozen=True)
class Explorer:
    """An interactive figure: its data and controls as a JSON-ready ``spec``.

    ``spec`` holds the controls (``name``, ``label``, ``kind`` "range" or
    "select", the ``options`` as text and their ``values``), the valid ``keys`` (the indices of
    each control's option, joined by ``|``), the Plotly ``figure`` (trace
    styles and the layout; axis ranges fixed over every setting), the x arrays
    ``xs`` and, per key, the ``states``: for every trace the index of its x
    array and its y values, and a one-line ``status`` that says what is shown.

    Shown in a notebook (or the book), it renders as HTML; :meth:`drawn` gives
    what a setting draws, for tests.
    """

    spec: dict

    @property
    def id(self) -> str:
        return self.spec["id"]

    def key(self, **setting: Any) -> str:
        """The key of a setting given by control name and value (text or value).

        Raises
        ------
        ValueError
            For an unknown control or value, or a combination without runs.
        """
        names = [control["name"] for control in self.spec["controls"]]
        unknown = sorted(set(setting) - set(names))
        if unknown or len(setting) != len(names):
            raise ValueError(f"give a value for each control {names}, got {sorted(setting)}")
        indices = []
        for control in self.spec["controls"]:
            wanted = setting[control["name"]]
            values = control.get("values", control["options"])
            if wanted in values:
                indices.append(str(values.index(wanted)))
            elif _text(wanted) in control["options"]:
                indices.append(str(control["options"].index(_text(wanted))))
            else:
                raise ValueError(f"{control['name']} must be one of {values}, got {wanted!r}")
        key = "|".join(indices)
        if key not in self.spec["states"]:
            raise ValueError(f"no runs for {setting}")
        return key

    def drawn(self, key: str | None = None, **setting: Any) -> list[dict]:
        """The traces a setting draws: name, x and y (``None`` where a value is missing).

        Give the ``key`` or the setting by control name.
        """
        key = self.key(**setting) if key is None else key
        if key not in self.spec["states"]:
            raise ValueError(f"key must be one of {sorted(self.spec['states'])[:5]}..., got {key!r}")
        traces = []
        for style, drawn in zip(self.spec["figure"]["data"], self.spec["states"][key]["traces"]):
            trace = {"name": style.get("name"), "meta": style.get("meta"), "visible": drawn is not False}
            if drawn is None:
                trace.update(x=style.get("x"), y=style.get("y"))
            elif drawn is False:
                trace.update(x=[], y=[])
            else:
                trace.update(x=self.spec["xs"][drawn[0]], y=drawn[1])
            traces.append(trace)
        return traces

    def to_json(self) -> str:
        return json.dumps(self.spec, separators=(",", ":"), allow_nan=False)

    def to_html(self, *, scripts: str | None = None) -> str:
        """The explorer as an HTML fragment.

        Parameters
        ----------
        scripts : {"site", "inline"}, optional
            ``site``: the page loads Plotly and ``lrnotes-explore.js`` itself
            (the book). ``inline``: the fragment carries them. Default: ``site``
            when :data:`SCRIPTS_ENV` says so, else ``inline`` for the first
            explorer of this Python process and ``site`` after it.
        """
        global _inline_sent
        if scripts is None:
            scripts = "site" if os.environ.get(SCRIPTS_ENV) == "site" or _inline_sent else "inline"
        validation.one_of("scripts", scripts, ("site", "inline"))
        title_id = f"{self.id}-title"
        payload = self.to_json().replace("</", "<\\/")
        parts = [
            _STYLE,
            f'<div class="lrnotes-explorer" id="{self.id}" role="group" aria-labelledby="{title_id}">',
            (f'<p class="lrnotes-explorer-title" id="{title_id}"><strong>Explore:</strong> '
             f'{html.escape(self.spec["title"])}</p>'),
            '<div class="lrnotes-explorer-controls"></div>',
            '<p class="lrnotes-explorer-status" aria-live="polite"></p>',
            ('<div class="lrnotes-explorer-plot"><p class="lrnotes-explorer-fallback">This interactive figure needs '
             'JavaScript; the static figures above show the same runs.</p></div>'),
            f'<script type="application/json">{payload}</script>',
            "</div>",
        ]
        if scripts == "inline":
            for path in script_files().values():
                parts.append(f"<script>{path.read_text(encoding='utf-8')}</script>")
            _inline_sent = True
        parts.append("<script>window.lrnotesExplore && window.lrnotesExplore.mountAll();</script>")
        return "\n".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/html": self.to_html(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        controls = ", ".join(f"{c['name']} ({len(c['options'])})" for c in self.spec["controls"])
        return f"Explorer({self.spec['title']!r}: {controls}; {len(self.spec['states'])} settings)"


_STYLE = """<style>
.lrnotes-explorer{margin:0.5em 0 1.5em;padding:0.6em 0.8em;border:1px solid #d0d0d0;border-radius:4px;background:#fff;color:#222}
.lrnotes-explorer-title{margin:0 0 0.4em}
.lrnotes-explorer-controls{display:flex;flex-wrap:wrap;gap:0.4em 1.6em;align-items:center}
.lrnotes-explorer-control{display:flex;gap:0.5em;align-items:center}
.lrnotes-explorer-control input[type=range]{width:14em}
.lrnotes-explorer-control output{min-width:4em;font-variant-numeric:tabular-nums}
.lrnotes-explorer-control :focus-visible{outline:2px solid #1f77b4;outline-offset:2px}
.lrnotes-explorer-status{margin:0.4em 0 0;font-size:0.9em}
@media print{.lrnotes-explorer{display:none}}
</style>"""


def _identifier(title: str, payload: Any) -> str:
    digest = hashlib.sha256(json.dumps([title, payload], default=str, sort_keys=True).encode()).hexdigest()
    return f"lrnotes-explorer-{digest[:10]}"


def _control_values(records: pd.DataFrame, column: str) -> list:
    values = list(dict.fromkeys(records[column].tolist()))
    if all(isinstance(value, (int, float, np.number)) and not isinstance(value, bool) for value in values):
        return sorted(values)
    return values


def _layout_axes(count: int, widths: Sequence[float]) -> list[tuple[float, float]]:
    gap = 0.09
    usable = 1.0 - gap * (count - 1)
    total = sum(widths)
    domains, start = [], 0.0
    for width in widths:
        end = start + usable * width / total
        domains.append((round(start, 4), round(min(end, 1.0), 4)))
        start = end + gap
    return domains


def _axis_range(values: list, log: bool, limits: tuple[float, float] | None) -> list[float] | None:
    if limits is not None:
        low, high = limits
    else:
        finite = np.array([v for v in values if v is not None and (v > 0 or not log)], dtype=float)
        if finite.size == 0:
            return None
        low, high = float(finite.min()), float(finite.max())
        if log:
            low, high = low / 1.25, high * 1.25
        else:
            pad = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
            low, high = low - pad, high + pad
    if log:
        return [math.log10(low), math.log10(high)]
    return [low, high]


class _Figure:
    """Collects trace styles and, per state, their data; x arrays are shared."""

    def __init__(self) -> None:
        self.styles: list[dict] = []
        self.xs: list[list] = []
        self._x_index: dict[str, int] = {}
        self.states: dict[str, dict] = {}

    def trace(self, style: dict) -> int:
        self.styles.append(style)
        return len(self.styles) - 1

    def x(self, values: Any) -> int:
        values = rounded(values, 8)
        text = json.dumps(values)
        if text not in self._x_index:
            self._x_index[text] = len(self.xs)
            self.xs.append(values)
        return self._x_index[text]


def _seed_matrix(group: pd.DataFrame, metric: str, x: str) -> pd.DataFrame:
    """Runs as columns (one per seed), ``x`` as the index, as :func:`lrnotes.plot_runs` draws them."""
    return group.pivot_table(index=x, columns="seed", values=metric, aggfunc="first", dropna=False)


def _quantiles(values: np.ndarray, band: str | None, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns after every run diverged
        median = np.nanmedian(values, axis=axis)
        if band is None:
            return median, median * np.nan, median * np.nan
        low, high = np.nanpercentile(values, _BANDS[band], axis=axis)
    return median, low, high


def explore_runs(
    records: pd.DataFrame,
    controls: str | Sequence[str] | Mapping[str, str],
    *,
    metrics: Sequence[str] | Sequence[Sequence[str]] = ("train_accuracy", "test_accuracy"),
    x: str = "epoch",
    band: str | None = "iqr",
    runs: bool = True,
    summary: str | None = None,
    summary_over: str | None = None,
    chosen: Mapping[Any, Any] | None = None,
    chosen_label: str = "chosen on validation",
    summary_colors: Mapping[Any, Any] | None = None,
    labels: Mapping[str, Callable[[Any], str]] | None = None,
    colors: Mapping[str, Any] | Sequence[Any] | None = None,
    logx: bool = False,
    logy: bool | Sequence[bool] = False,
    ylim: tuple[float, float] | Sequence[tuple[float, float] | None] | None = None,
    summary_logx: bool | None = None,
    summary_ylim: tuple[float, float] | None = None,
    reference: float | Mapping[str, float] | None = None,
    reference_label: str = "Bayes-optimal accuracy",
    title: str | None = None,
    height: int = 430,
) -> Explorer:
    """An explorer of a sweep: one setting's learning curves at a time, and optionally a summary panel.

    Each curve panel shows, for the setting the controls choose, each metric's
    median over seeds (thick), its band and every single run (thin), as
    :func:`lrnotes.plot_runs` does; a run that diverged stops there and ends in
    a cross. With ``summary``, a last panel shows the final value of that
    metric against ``summary_over`` for every setting of the other controls, as
    :func:`lrnotes.plot_final` does (every seed, median and band), with the
    setting shown on the left ringed and the ``chosen`` values starred. Axis
    ranges are those of all settings' data, so they stay put as the reader
    moves a control.

    Parameters
    ----------
    records : DataFrame
        Records of :func:`lrnotes.sweep`: columns ``seed``, ``x``, the metrics and the controls.
    controls : str, list of str or dict
        The columns the reader sets, in order; a dict maps each to its label.
        A numeric column gets a slider over its values, any other a menu.
        A later control offers only the values that have runs with the earlier ones.
    metrics : list of str, or list of lists of str
        The columns drawn; a list of lists draws one panel per inner list (each with its own y axis).
    x : str, default "epoch"
        The x axis of the curve panels.
    band : {"iqr", "minmax", None}
    runs : bool
        Draw every single run.
    summary : str, optional
        A metric whose final value (the last ``x`` of each run) is drawn against ``summary_over``.
    summary_over : str, optional
        A numeric control (default: the last control).
    chosen : dict, optional
        For each value of the controls other than ``summary_over`` (a tuple when there are several;
        ``None`` as the key when there are none), the chosen value of ``summary_over``, starred.
    summary_colors : dict, optional
        A colour per value of the other controls (keyed as ``chosen``); default C0, C1, ….
    labels : dict, optional
        Per control, a function from a value to its text (default ``f"{value:g}"`` for numbers).
    colors : dict or list, optional
        A colour per metric (default C0, C1, … in the order of ``metrics``, as :func:`lrnotes.plot_grid`).
    logx : bool
        Log x axis of the curve panels.
    logy, ylim : bool, (float, float), or one per curve panel
        Log y axes and y ranges of the curve panels (default range: every setting's data).
    summary_logx : bool, optional
        Log x axis of the summary (default: when ``summary_over``'s values span more than a factor 20).
    summary_ylim : (float, float), optional
    reference : float or dict, optional
        A dashed horizontal line (for instance the Bayes-optimal accuracy): a number, in black in
        every panel that draws accuracies; a dict ``{metric: value}``, in the metric's colour in the
        panel that draws it (the summary's metric: in black in the summary panel).
    title : str, optional
        The line above the controls.
    height : int
        Pixels.

    Returns
    -------
    Explorer

    Raises
    ------
    ValueError
        For a missing column, an unknown ``band``, ``summary_over`` not a numeric control, or a
        ``chosen`` key or value without runs.

    Examples
    --------
    >>> records = pd.DataFrame({"lr": [0.1] * 4 + [0.01] * 4, "seed": [0, 0, 1, 1] * 2, "epoch": [0, 1] * 4,
    ...                         "test_accuracy": [0.3, 0.8, 0.4, 0.7, 0.3, 0.5, 0.4, 0.6]})
    >>> explorer = explore_runs(records, "lr", metrics=["test_accuracy"])
    >>> explorer
    Explorer('test accuracy by lr': lr (2); 2 settings)
    >>> median = [t for t in explorer.drawn(lr=0.1) if t["meta"]["role"] == "median"][0]
    >>> median["x"], median["y"]
    ([0.0, 1.0], [0.35, 0.75])
    """
    from lrnotes.plots import METRIC_LABELS

    if not isinstance(records, pd.DataFrame):
        raise TypeError(f"records must be a DataFrame, got {type(records).__name__}")
    if isinstance(controls, str):
        controls = {controls: controls}
    elif isinstance(controls, Mapping):
        controls = dict(controls)
    else:
        controls = {name: name for name in controls}
    if not controls:
        raise ValueError("controls must name at least one column")
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one column")
    panels = [[m] if isinstance(m, str) else list(m) for m in metrics] if not all(isinstance(m, str) for m in metrics) \
        else [metrics]
    if any(not panel for panel in panels):
        raise ValueError(f"every panel of metrics must name a column, got {metrics!r}")
    flat = [m for panel in panels for m in panel]
    validation.columns(records, ["seed", x, *flat, *controls] + ([summary] if summary else []))
    if band not in (*_BANDS, None):
        raise ValueError(f"band must be one of {sorted(_BANDS)} or None, got {band!r}")
    logys = list(logy) if isinstance(logy, (list, tuple)) else [bool(logy)] * len(panels)
    ylims = list(ylim) if isinstance(ylim, list) else [ylim] * len(panels)
    if len(logys) != len(panels) or len(ylims) != len(panels):
        raise ValueError(f"logy and ylim need one value per panel ({len(panels)}), got {logy!r} and {ylim!r}")
    labels = dict(labels or {})
    names = list(controls)
    values = {name: _control_values(records, name) for name in names}
    texts = {name: [labels[name](v) if name in labels else _text(v) for v in values[name]] for name in names}
    for name in names:
        if len(set(texts[name])) != len(texts[name]):
            raise ValueError(f"labels[{name!r}] gives two values the same text: {texts[name]}")
    numeric = {name: all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values[name])
               for name in names}
    if summary is not None:
        summary_over = summary_over or names[-1]
        if summary_over not in names or not numeric[summary_over]:
            raise ValueError(f"summary_over must be a numeric control among {names}, got {summary_over!r}")
    others = [name for name in names if name != summary_over] if summary else names
    if isinstance(colors, Mapping):
        missing = [m for m in flat if m not in colors]
        if missing:
            raise ValueError(f"colors has no colour for {missing}")
        color_of = {m: _color(colors[m]) for m in flat}
    else:
        palette = [_color(c) for c in colors] if colors is not None else _TAB10
        if len(palette) < len(flat):
            raise ValueError(f"colors needs one colour per metric ({len(flat)}), got {len(palette)}")
        color_of = {m: palette[i] for i, m in enumerate(flat)}

    groups = {}
    for combination, group in records.groupby(names, sort=False):
        combination = combination if isinstance(combination, tuple) else (combination,)
        groups[tuple(values[name].index(value) for name, value in zip(names, combination))] = group
    keys = sorted(groups)
    max_seeds = max(group["seed"].nunique() for group in groups.values())

    def axis_names(position: int) -> tuple[str, str]:
        return ("x", "y") if position == 0 else (f"x{position + 1}", f"y{position + 1}")

    figure = _Figure()
    run_traces, band_traces, median_traces, cross_traces = {}, {}, {}, {}
    for p, panel in enumerate(panels):
        xa, ya = axis_names(p)
        on = {"xaxis": xa, "yaxis": ya}
        for m in panel:  # single runs behind, then bands, medians and crosses
            run_traces[m] = [figure.trace({"type": "scatter", "mode": "lines",
                                           "name": f"{METRIC_LABELS.get(m, m)}, one seed",
                                           "meta": {"metric": m, "role": "run", "seed_index": s},
                                           "line": {"color": color_of[m], "width": 0.7}, "opacity": 0.3,
                                           "hoverinfo": "skip", "showlegend": False, **on})
                             for s in range(max_seeds if runs else 0)]
        for m in panel:
            if band is None:
                continue
            low = figure.trace({"type": "scatter", "mode": "lines", "name": f"{METRIC_LABELS.get(m, m)}, band low",
                                "meta": {"metric": m, "role": "band_low"},
                                "line": {"width": 0, "color": color_of[m]}, "hoverinfo": "skip",
                                "showlegend": False, **on})
            high = figure.trace({"type": "scatter", "mode": "lines", "name": f"{METRIC_LABELS.get(m, m)}, band high",
                                 "meta": {"metric": m, "role": "band_high"},
                                 "line": {"width": 0, "color": color_of[m]}, "fill": "tonexty",
                                 "fillcolor": _rgba(color_of[m], 0.2), "hoverinfo": "skip", "showlegend": False,
                                 **on})
            band_traces[m] = (low, high)
        for m in panel:
            median_traces[m] = figure.trace({"type": "scatter", "mode": "lines", "name": METRIC_LABELS.get(m, m),
                                             "meta": {"metric": m, "role": "median"},
                                             "line": {"color": color_of[m], "width": 2.2}, **on,
                                             "hovertemplate": "%{y:.4g}<extra>median</extra>"})
            cross_traces[m] = figure.trace({"type": "scatter", "mode": "markers", "name": "diverged run",
                                            "meta": {"metric": m, "role": "diverged"},
                                            "marker": {"symbol": "x", "size": 9, "color": color_of[m]},
                                            "showlegend": False, **on})

    over_values = values[summary_over] if summary else []
    other_keys: list[tuple] = []
    summary_traces: dict[tuple, dict[str, int]] = {}
    chosen = dict(chosen or {})
    summary_axes = axis_names(len(panels))
    if summary:
        other_keys = list(dict.fromkeys(tuple(values[name][index[names.index(name)]] for name in others)
                                        for index in keys))
        for other_key, value in chosen.items():
            other = () if other_key is None else other_key if isinstance(other_key, tuple) else (other_key,)
            if other not in other_keys:
                raise ValueError(f"chosen keys must be settings of {others} that have runs, got {other_key!r}")
            if value not in over_values:
                raise ValueError(f"chosen[{other_key!r}] must be a value of {summary_over} {over_values}, "
                                 f"got {value!r}")
        summary_colors = dict(summary_colors or {})
        on = {"xaxis": summary_axes[0], "yaxis": summary_axes[1]}
        for position, other in enumerate(other_keys):
            mapping_key = None if not others else other if len(other) > 1 else other[0]
            color = _color(summary_colors[mapping_key]) if mapping_key in summary_colors else (
                color_of[flat[0]] if len(other_keys) == 1 else _TAB10[position % 10])
            name = ", ".join(texts[n][values[n].index(v)] for n, v in zip(others, other)) or \
                f"final {METRIC_LABELS.get(summary, summary)}"
            meta = {"metric": summary, "setting": name}
            summary_traces[other] = {
                "dots": figure.trace({"type": "scatter", "mode": "markers", "name": f"{name}, one seed",
                                      "meta": {**meta, "role": "summary_seeds"},
                                      "marker": {"size": 6, "color": _rgba(color, 0.5)}, "showlegend": False, **on,
                                      "hovertemplate": "%{y:.4g}<extra>one seed</extra>"}),
                "low": figure.trace({"type": "scatter", "mode": "lines", "name": f"{name}, band low",
                                     "meta": {**meta, "role": "summary_band_low"},
                                     "line": {"width": 0, "color": color}, "hoverinfo": "skip",
                                     "showlegend": False, **on}),
                "high": figure.trace({"type": "scatter", "mode": "lines", "name": f"{name}, band high",
                                      "meta": {**meta, "role": "summary_band_high"},
                                      "line": {"width": 0, "color": color}, "fill": "tonexty",
                                      "fillcolor": _rgba(color, 0.2), "hoverinfo": "skip", "showlegend": False, **on}),
                "median": figure.trace({"type": "scatter", "mode": "lines+markers", "name": name,
                                        "meta": {**meta, "role": "summary_median"},
                                        "line": {"color": color, "width": 2.2}, "marker": {"size": 6}, **on,
                                        "hovertemplate": "%{x:g}: %{y:.4g}<extra>median</extra>"}),
                "star": figure.trace({"type": "scatter", "mode": "markers", "name": chosen_label,
                                      "meta": {**meta, "role": "chosen"}, "showlegend": position == 0 and bool(chosen),
                                      "marker": {"symbol": "star", "size": 15, "color": color,
                                                 "line": {"color": "black", "width": 1}}, **on,
                                      "hovertemplate": "%{x:g}<extra>chosen</extra>"}),
            }
        ring = figure.trace({"type": "scatter", "mode": "markers", "name": "the setting on the left",
                             "meta": {"metric": summary, "role": "current"},
                             "marker": {"symbol": "circle-open", "size": 18, "color": "black", "line": {"width": 2}},
                             **on, "hoverinfo": "skip"})
    # Reference lines: one value for every accuracy panel (black), or one per metric (in its colour).
    if reference is None:
        lines: list[tuple[int, float, str, str]] = []
    elif isinstance(reference, Mapping):
        unknown = sorted(set(reference) - set(flat) - {summary})
        if unknown:
            raise ValueError(f"reference names {unknown}, which are not among the metrics {flat + [summary]}")
        lines = [(p, float(reference[m]), color_of[m], f"{reference_label} ({METRIC_LABELS.get(m, m)})")
                 for p, panel in enumerate(panels) for m in panel if m in reference]
        if summary in reference:
            lines.append((len(panels), float(reference[summary]), "#000000", reference_label))
    else:
        lines = [(p, float(reference), "#000000", reference_label)
                 for p, panel in enumerate(panels) if all("accuracy" in m for m in panel)]
        if summary and "accuracy" in summary:
            lines.append((len(panels), float(reference), "#000000", reference_label))
    reference_traces = {}
    for _, _, color, label in lines:
        if label not in reference_traces:
            reference_traces[label] = figure.trace({"type": "scatter", "mode": "lines", "name": label,
                                                    "meta": {"role": "reference"},
                                                    "line": {"color": color, "dash": "dash", "width": 1},
                                                    "xaxis": "x", "yaxis": "y", "hoverinfo": "skip"})

    panel_y: list[list] = [[] for _ in panels]
    panel_x: list[list] = [[] for _ in panels]
    right_y: list = []
    summary_cache: dict[tuple, tuple] = {}
    for index in keys:
        group = groups[index]
        traces: list = [None] * len(figure.styles)
        setting = {name: values[name][i] for name, i in zip(names, index)}
        status = [", ".join(_setting_text(controls[name], texts[name][i]) for name, i in zip(names, index)) + ":"]
        diverged = sorted(group.loc[group["diverged"].astype(bool), "seed"].unique()) if "diverged" in group else []
        finals = []
        for p, panel in enumerate(panels):
            for m in panel:
                matrix = _seed_matrix(group, m, x)
                xi = figure.x(matrix.index.to_numpy(dtype=float))
                array = matrix.to_numpy(dtype=float)
                median, low, high = _quantiles(array, band, axis=1)
                for s, trace in enumerate(run_traces[m]):
                    traces[trace] = [xi, rounded(array[:, s]) if s < array.shape[1] else []]
                if band is not None:
                    traces[band_traces[m][0]] = [xi, rounded(low)]
                    traces[band_traces[m][1]] = [xi, rounded(high)]
                traces[median_traces[m]] = [xi, rounded(median)]
                ends_x, ends_y = [], []
                for seed in diverged:
                    series = matrix[seed].dropna() if seed in matrix else pd.Series(dtype=float)
                    if not series.empty:
                        ends_x.append(float(series.index[-1]))
                        ends_y.append(float(series.iloc[-1]))
                traces[cross_traces[m]] = [figure.x(ends_x), rounded(ends_y)]
                panel_x[p] += figure.xs[xi]
                panel_y[p] += traces[median_traces[m]][1] + (rounded(array[np.isfinite(array)]) if runs else [])
                if band is not None:
                    panel_y[p] += traces[band_traces[m][0]][1] + traces[band_traces[m][1]][1]
                finals.append(f"final {METRIC_LABELS.get(m, m)} {_median_text(array[-1] if len(array) else array)}")
        status.append(", ".join(finals) + f" (median over {group['seed'].nunique()} seeds)")
        if diverged:
            status.append(f"{len(diverged)} of {group['seed'].nunique()} runs diverged")
        if summary:
            for other in other_keys:
                if other not in summary_cache:
                    summary_cache[other] = _summary_data(records, others, other, summary, summary_over, x, band,
                                                         chosen, figure)
                for role, drawn in summary_cache[other][0].items():
                    traces[summary_traces[other][role]] = drawn
                right_y += summary_cache[other][0]["dots"][1] + summary_cache[other][0]["low"][1] \
                    + summary_cache[other][0]["high"][1]
            here = float(setting[summary_over])
            median_at = summary_cache[tuple(setting[name] for name in others)][1]
            traces[ring] = [figure.x([here]), [median_at.get(here)]]
        for trace in reference_traces.values():
            traces[trace] = [figure.x([]), []]  # in the legend only; the lines are layout shapes
        figure.states["|".join(map(str, index))] = {"traces": traces, "status": " ".join(status)}

    widths = [1.0] * len(panels) + ([0.8] if summary else [])
    domains = _layout_axes(len(widths), widths)
    layout: dict[str, Any] = {
        "height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "paper_bgcolor": "white",
        "plot_bgcolor": "white", "font": {"size": 12, "color": "#222"}, "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 11},
                   "traceorder": "normal"},
        "shapes": [],
    }
    for p, panel in enumerate(panels):
        xa, ya = axis_names(p)
        x_key, y_key = xa.replace("x", "xaxis"), ya.replace("y", "yaxis")
        y_title = (METRIC_LABELS.get(panel[0], panel[0]) if len(panel) == 1 else
                   "accuracy" if all("accuracy" in m for m in panel) else
                   "loss" if all("loss" in m for m in panel) else ", ".join(panel))
        finite_x = [v for v in panel_x[p] if v is not None]
        layout[x_key] = {**_GRID, "domain": list(domains[p]), "anchor": ya, "title": {"text": METRIC_LABELS.get(x, x)},
                         "type": "log" if logx else "linear",
                         "range": _axis_range(finite_x, logx, None) if logx else
                         ([min(finite_x), max(finite_x)] if finite_x else None)}
        layout[y_key] = {**_GRID, "anchor": xa, "type": "log" if logys[p] else "linear", "title": {"text": y_title},
                         "range": _axis_range(panel_y[p], logys[p], ylims[p])}
    if summary:
        span = [float(v) for v in over_values if float(v) > 0]
        log_summary = summary_logx if summary_logx is not None else bool(span) and max(span) / min(span) > 20
        xa, ya = summary_axes
        layout[xa.replace("x", "xaxis")] = {**_GRID, "domain": list(domains[-1]), "anchor": ya,
                                            "title": {"text": controls[summary_over]},
                                            "type": "log" if log_summary else "linear",
                                            "range": _axis_range([float(v) for v in over_values], log_summary, None)}
        layout[ya.replace("y", "yaxis")] = {**_GRID, "anchor": xa,
                                            "title": {"text": f"final {METRIC_LABELS.get(summary, summary)}"},
                                            "range": _axis_range(right_y, False, summary_ylim)}
    for p, value, color, _ in lines:
        xa, ya = axis_names(p)
        layout["shapes"].append({"type": "line", "xref": f"{xa} domain", "x0": 0, "x1": 1, "yref": ya,
                                 "y0": value, "y1": value, "line": {"color": color, "dash": "dash", "width": 1}})
    control_specs = [{"name": name, "label": controls[name], "kind": "range" if numeric[name] else "select",
                      "options": texts[name],
                      "values": [float(v) if numeric[name] else str(v) for v in values[name]]} for name in names]
    title = title or f"{', '.join(METRIC_LABELS.get(m, m) for m in flat)} by {', '.join(controls.values())}"
    initial = keys[len(keys) // 2]
    if summary and chosen and other_keys:
        first = other_keys[0]
        wanted = chosen.get(None if not others else first if len(first) > 1 else first[0])
        if wanted is not None:
            setting = dict(zip(others, first)) | {summary_over: wanted}
            candidate = tuple(values[name].index(setting[name]) for name in names)
            if candidate in groups:
                initial = candidate
    spec = {
        "version": 1, "id": "", "title": title, "controls": control_specs,
        "keys": ["|".join(map(str, index)) for index in keys], "initial": "|".join(map(str, initial)),
        "figure": {"data": figure.styles, "layout": layout}, "xs": figure.xs, "states": figure.states,
        "config": {"displaylogo": False, "responsive": True,
                   "modeBarButtonsToRemove": ["lasso2d", "select2d", "toImage"]},
    }
    spec["id"] = _identifier(title, spec)
    return Explorer(spec)


def _summary_data(records: pd.DataFrame, others: list[str], other: tuple, summary: str, over: str, x: str,
                  band: str | None, chosen: dict, figure: _Figure) -> tuple[dict, dict]:
    """The summary panel's traces for one setting of the other controls, as :func:`lrnotes.plot_final` draws them."""
    part = records
    for name, value in zip(others, other):
        part = part[part[name] == value]
    last_rows = part.sort_values(x, kind="stable").groupby([over, "seed"], sort=True).tail(1)
    ok = last_rows[~last_rows["diverged"].astype(bool)] if "diverged" in last_rows else last_rows
    by_value = ok.groupby(over)[summary]
    xs = np.array(sorted(by_value.groups), dtype=float)
    medians = by_value.median().reindex(xs).to_numpy(dtype=float)
    low_q, high_q = _BANDS[band or "iqr"]
    lows = by_value.quantile(low_q / 100).reindex(xs).to_numpy(dtype=float)
    highs = by_value.quantile(high_q / 100).reindex(xs).to_numpy(dtype=float)
    chosen_value = chosen.get(None if not others else other if len(other) > 1 else other[0])
    star_x = [] if chosen_value is None else [float(chosen_value)]
    star_y = [] if chosen_value is None else rounded([medians[list(xs).index(float(chosen_value))]])
    traces = {
        "dots": [figure.x(ok[over].to_numpy(dtype=float)), rounded(ok[summary])],
        "low": [figure.x(xs), rounded(lows)],
        "high": [figure.x(xs), rounded(highs)],
        "median": [figure.x(xs), rounded(medians)],
        "star": [figure.x(star_x), star_y],
    }
    return traces, dict(zip(xs.tolist(), rounded(medians)))


def _setting_text(label: str, text: str) -> str:
    """``"learning rate 0.1"``; a text that already names its setting (``"batch size 32"``) stays as it is."""
    return text if text.startswith(label) else f"{label} {text}"


def _median_text(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)] if len(values) else values
    return "—" if not len(finite) else f"{float(np.median(finite)):.3g}"


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
    """
    from lrnotes.paths import Path as OptimizerPath
    from lrnotes.surface_plots import _contour_levels

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
    colors = {name: _color(colors[name]) if colors and name in colors else _TAB10[index % 10]
              for index, name in enumerate(optimizer_names)}
    windows = {name: (bounds or {}).get(name, surfaces[name].bounds) for name in surface_names}

    figure = _Figure()
    contour_traces = {}
    for name in surface_names:
        (x_low, x_high), (y_low, y_high) = windows[name]
        xs = np.linspace(x_low, x_high, resolution)
        ys = np.linspace(y_low, y_high, resolution)
        grid_x, grid_y = np.meshgrid(xs, ys)
        values = np.asarray(surfaces[name].value(np.stack([grid_x, grid_y], axis=-1)), dtype=float)
        shown, contour_levels = _contour_levels(surfaces[name], values, levels)
        logged = bool(contour_levels[0] > 0 and np.allclose(np.diff(np.log(contour_levels)),
                                                             np.log(contour_levels[1] / contour_levels[0])))
        z = np.log10(np.maximum(shown, contour_levels[0] / 10)) if logged else shown
        edges = np.log10(contour_levels) if logged else contour_levels
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
    layout = {
        "height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "paper_bgcolor": "white",
        "plot_bgcolor": "white", "font": {"size": 12, "color": "#222"}, "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 11},
                   "traceorder": "normal"},
        "xaxis": {**_GRID, "domain": [0.0, 0.5], "anchor": "y", "title": {"text": "x"},
                  "range": list(first_surface[0])},
        "yaxis": {**_GRID, "anchor": "x", "title": {"text": "y"}, "range": list(first_surface[1])},
        "xaxis2": {**_GRID, "domain": [0.62, 1.0], "anchor": "y2", "type": "log", "title": {"text": "learning rate"},
                   "range": [math.log10(rates[0]) - 0.15, math.log10(rates[-1]) + 0.15]},
        "yaxis2": {**_GRID, "anchor": "x2", "type": "log", "title": {"text": "final distance to the minimum"},
                   "range": right_range},
    }
    controls = [
        {"name": "surface", "label": "surface", "kind": "select", "options": surface_names},
        {"name": "optimizer", "label": "optimizer", "kind": "select", "options": optimizer_names},
        {"name": "learning_rate", "label": "learning rate", "kind": "range", "options": [_text(r) for r in rates]},
    ]
    key_texts = ["|".join(map(str, index)) for index in keys]
    initial = key_texts[0]
    for index in keys:  # the first optimizer's first rate above its limit, or the middle rate
        limit = limits.get((surface_names[index[0]], optimizer_names[index[1]]))
        if index[:2] == keys[0][:2] and limit is not None and rates[index[2]] < limit:
            initial = "|".join(map(str, index))
    spec = {
        "version": 1, "id": "", "title": title, "controls": controls, "keys": key_texts, "initial": initial,
        "figure": {"data": figure.styles, "layout": layout}, "xs": figure.xs, "states": figure.states,
        "config": {"displaylogo": False, "responsive": True,
                   "modeBarButtonsToRemove": ["lasso2d", "select2d", "toImage"]},
    }
    spec["id"] = _identifier(title, spec)
    return Explorer(spec)
