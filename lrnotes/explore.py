"""Interactive figures ("explorers") over results a notebook has already computed.

An explorer draws what the static figures draw (the median over seeds, the
inter-quartile band and every single run; the final value against a
hyperparameter), for one setting of its controls at a time. The reader moves
a slider (an ordered setting such as the learning rate) or picks from a menu
(a named one such as the optimizer), and the figure changes to that setting's
runs. Every setting's data is computed in Python and embedded in the page,
rounded to :data:`DIGITS` significant digits: no kernel, server or Python runs
in the browser.

The figures are drawn by Plotly's JavaScript library, which ships inside the
``plotly`` wheel, and by ``explore.js`` of this package, which builds the
controls (labelled, keyboard-operable HTML inputs) and swaps the data. In the
book both scripts are static files of the site, loaded once by each page that
has an explorer (:mod:`lrnotes.sphinxext`); the page itself carries only its
data. Elsewhere (JupyterLab, a notebook run by hand) the first explorer that a
kernel shows carries both scripts inline, so the figures work offline there
too. :data:`SCRIPTS_ENV` chooses between the two.

This module holds the :class:`Explorer` (data, HTML) and the pieces its
builders share; :func:`lrnotes.explore_runs` (:mod:`lrnotes.run_explorer`)
builds one from a sweep's records, :func:`lrnotes.explore_paths`
(:mod:`lrnotes.path_explorer`) from optimizer paths.
"""

from __future__ import annotations

import hashlib
import html
import importlib.resources
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrnotes import validation

__all__ = ["AXIS_STYLE", "DIGITS", "SCRIPTS_ENV", "TAB10", "Explorer", "TraceTable", "axis_range", "base_layout",
           "css_color", "panel_domains", "rgba", "rounded", "script_files", "value_text"]

#: Significant digits of every number an explorer embeds.
DIGITS = 4

#: Environment variable: ``site`` when the page loads the scripts itself (the book's build sets it),
#: anything else (or unset) to carry them inline with the first explorer of a kernel.
SCRIPTS_ENV = "LRNOTES_EXPLORE_SCRIPTS"

#: Matplotlib's default colours C0 to C9.
TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf"]

#: The axes of every panel: a light grid, as the book's matplotlib style.
AXIS_STYLE = {"showgrid": True, "gridcolor": "#e6e6e6", "zeroline": False, "showline": True, "linecolor": "#444",
              "ticks": "outside", "exponentformat": "power"}

_inline_sent = False


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
        raise ImportError("the interactive figures need plotly: pip install 'plotly>=6.1,<7'") from error
    return {"plotly.min.js": plotly_js, "lrnotes-explore.js": Path(__file__).with_name("explore.js")}


def rounded(values: Any, digits: int = DIGITS) -> list:
    """``values`` as a list of floats rounded to ``digits`` significant digits; NaN and infinities become ``None``.

    Examples
    --------
    >>> rounded([0.123456, 12345.6, float("nan"), 0.0, -1e-9])
    [0.1235, 12350.0, None, 0.0, -1e-09]
    """
    validation.integer("digits", digits, minimum=1)
    return [float(f"{value:.{digits}g}") if math.isfinite(value) else None
            for value in np.asarray(values, dtype=float).ravel().tolist()]


def css_color(value: Any) -> str:
    """A colour in CSS form: matplotlib's ``"C0"``…``"C9"``, names, greys and tuples become ``#rrggbb``.

    Examples
    --------
    >>> css_color("C3"), css_color("0.5")
    ('#d62728', '#808080')
    """
    from matplotlib.colors import to_hex

    return to_hex(value)


def rgba(value: Any, alpha: float) -> str:
    """A colour with transparency, for Plotly's fills.

    Examples
    --------
    >>> rgba("C0", 0.2)
    'rgba(31,119,180,0.2)'
    """
    from matplotlib.colors import to_rgb

    red, green, blue = (round(255 * channel) for channel in to_rgb(value))
    return f"rgba({red},{green},{blue},{alpha})"


def value_text(value: Any) -> str:
    """How a control shows a value: ``f"{value:g}"`` for a float, ``str`` otherwise.

    Examples
    --------
    >>> value_text(0.0001), value_text(32), value_text("Adam")
    ('0.0001', '32', 'Adam')
    """
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def panel_domains(widths: Sequence[float], gap: float = 0.09) -> list[tuple[float, float]]:
    """Side-by-side panels: the horizontal domain of each, in proportion to ``widths``.

    Examples
    --------
    >>> panel_domains([1, 1])
    [(0.0, 0.455), (0.545, 1.0)]
    """
    usable = 1.0 - gap * (len(widths) - 1)
    domains, start = [], 0.0
    for width in widths:
        end = start + usable * width / sum(widths)
        domains.append((round(start, 4), round(min(end, 1.0), 4)))
        start = end + gap
    return domains


def axis_range(values: Sequence[float | None], log: bool = False,
               limits: tuple[float, float] | None = None) -> list[float] | None:
    """An axis range that holds every value (with a margin), in Plotly's units (log10 on a log axis).

    Examples
    --------
    >>> axis_range([0.0, 1.0])
    [-0.05, 1.05]
    >>> axis_range([0.01, 1.0], log=True, limits=(0.01, 1.0))
    [-2.0, 0.0]
    """
    if limits is not None:
        low, high = limits
    else:
        finite = np.array([v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)])
        if finite.size == 0:
            return None
        low, high = float(finite.min()), float(finite.max())
        if log:
            low, high = low / 1.25, high * 1.25
        else:
            pad = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
            low, high = low - pad, high + pad
    return [math.log10(low), math.log10(high)] if log else [low, high]


def base_layout(height: int) -> dict:
    """The layout every explorer starts from: white, a legend above the panels.

    Examples
    --------
    >>> base_layout(400)["height"]
    400
    """
    return {"height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "paper_bgcolor": "white",
            "plot_bgcolor": "white", "font": {"size": 12, "color": "#222"}, "hovermode": "closest",
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 11},
                       "traceorder": "normal"},
            "shapes": []}


class TraceTable:
    """The traces of an explorer (their styles) and, per setting, what each draws.

    The x arrays are stored once and referred to by index, as most traces of
    a setting share one.

    Examples
    --------
    >>> table = TraceTable()
    >>> median = table.line("median", {"role": "median"}, "C0", ("x", "y"))
    >>> table.states["0"] = {"traces": [[table.x([0, 1, 2]), rounded([0.5, 0.6, 0.7])]], "status": "lr 0.1"}
    >>> explorer = table.explorer("demo", [{"name": "lr", "label": "learning rate", "kind": "range",
    ...                                      "options": ["0.1"], "values": [0.1]}], ["0"], "0", base_layout(300))
    >>> explorer.drawn(lr=0.1)[0]["y"]
    [0.5, 0.6, 0.7]
    """

    def __init__(self) -> None:
        self.styles: list[dict] = []
        self.xs: list[list] = []
        self._x_index: dict[str, int] = {}
        self.states: dict[str, dict] = {}

    def trace(self, style: dict) -> int:
        """Add a trace style; return its index."""
        self.styles.append(style)
        return len(self.styles) - 1

    def line(self, name: str, meta: dict, color: Any, axes: tuple[str, str], *, width: float = 2.2,
             **extra: Any) -> int:
        """A line (with ``mode="lines+markers"`` and the like in ``extra``)."""
        return self.trace({"type": "scatter", "mode": "lines", "name": name, "meta": meta,
                           "line": {"color": css_color(color), "width": width}, "xaxis": axes[0], "yaxis": axes[1],
                           **extra})

    def band(self, name: str, meta: dict, color: Any, axes: tuple[str, str]) -> tuple[int, int]:
        """Two traces, the low edge then the high one, filled between them."""
        edge = {"type": "scatter", "mode": "lines", "line": {"width": 0, "color": css_color(color)},
                "hoverinfo": "skip", "showlegend": False, "xaxis": axes[0], "yaxis": axes[1]}
        low = self.trace({**edge, "name": f"{name}, band low", "meta": {**meta, "role": f"{meta['role']}_low"}})
        high = self.trace({**edge, "name": f"{name}, band high", "meta": {**meta, "role": f"{meta['role']}_high"},
                           "fill": "tonexty", "fillcolor": rgba(color, 0.2)})
        return low, high

    def markers(self, name: str, meta: dict, marker: dict, axes: tuple[str, str], **extra: Any) -> int:
        """Markers only."""
        return self.trace({"type": "scatter", "mode": "markers", "name": name, "meta": meta, "marker": marker,
                           "xaxis": axes[0], "yaxis": axes[1], **extra})

    def x(self, values: Any) -> int:
        """The index of an x array (stored once)."""
        values = rounded(values, 8)
        text = json.dumps(values)
        if text not in self._x_index:
            self._x_index[text] = len(self.xs)
            self.xs.append(values)
        return self._x_index[text]

    def explorer(self, title: str, controls: list[dict], keys: list[str], initial: str, layout: dict) -> Explorer:
        """The :class:`Explorer` of these traces and states."""
        spec = {
            "version": 1, "id": "", "title": title, "controls": controls, "keys": keys, "initial": initial,
            "figure": {"data": self.styles, "layout": layout}, "xs": self.xs, "states": self.states,
            "config": {"displaylogo": False, "responsive": True,
                       "modeBarButtonsToRemove": ["lasso2d", "select2d", "toImage"]},
        }
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
        spec["id"] = f"lrnotes-explorer-{digest[:10]}"
        return Explorer(spec)


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

    Examples
    --------
    >>> import pandas as pd
    >>> from lrnotes.run_explorer import explore_runs
    >>> records = pd.DataFrame({"lr": [0.1, 0.1, 0.01, 0.01], "seed": [0, 1, 0, 1], "epoch": 0,
    ...                         "test_accuracy": [0.5, 0.7, 0.4, 0.6]})
    >>> explorer = explore_runs(records, "lr", metrics=["test_accuracy"])
    >>> explorer.key(lr=0.1), explorer.spec["states"]["1"]["status"]
    ('1', 'lr 0.1: final test accuracy 0.6 (median over 2 seeds)')
    >>> '<div class="lrnotes-explorer"' in explorer.to_html(scripts="site")
    True
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
            elif value_text(wanted) in control["options"]:
                indices.append(str(control["options"].index(value_text(wanted))))
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


