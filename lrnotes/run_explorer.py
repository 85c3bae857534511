"""The explorer of a sweep: :func:`explore_runs` (see :mod:`lrnotes.explore`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrnotes import validation
from lrnotes.explore import (
    AXIS_STYLE,
    TAB10,
    Explorer,
    TraceTable,
    axis_range,
    base_layout,
    css_color,
    panel_domains,
    rgba,
    rounded,
    value_text,
)

__all__ = ["BANDS", "explore_runs"]

#: The bands an explorer can draw, as percentiles over seeds (those of :func:`lrnotes.plot_runs`).
BANDS = {"iqr": (25, 75), "minmax": (0, 100)}


def _axes(position: int) -> tuple[str, str]:
    return ("x", "y") if position == 0 else (f"x{position + 1}", f"y{position + 1}")


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)


def _label(metric: str) -> str:
    from lrnotes.plots import METRIC_LABELS

    return METRIC_LABELS.get(metric, metric)


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
    ylim: tuple[float, float] | list[tuple[float, float] | None] | None = None,
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
    ranges hold all settings' data, so they stay put as the reader moves a control.

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
    logy, ylim : bool, (float, float), or a list with one per curve panel
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
    if not isinstance(records, pd.DataFrame):
        raise TypeError(f"records must be a DataFrame, got {type(records).__name__}")
    controls = ({controls: controls} if isinstance(controls, str) else dict(controls) if isinstance(controls, Mapping)
                else {name: name for name in controls})
    if not controls:
        raise ValueError("controls must name at least one column")
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one column")
    panels = [metrics] if all(isinstance(m, str) for m in metrics) else [[m] if isinstance(m, str) else list(m)
                                                                          for m in metrics]
    if any(not panel for panel in panels):
        raise ValueError(f"every panel of metrics must name a column, got {metrics!r}")
    flat = [m for panel in panels for m in panel]
    validation.columns(records, ["seed", x, *flat, *controls] + ([summary] if summary else []))
    if band not in (*BANDS, None):
        raise ValueError(f"band must be one of {sorted(BANDS)} or None, got {band!r}")
    logys = list(logy) if isinstance(logy, (list, tuple)) else [bool(logy)] * len(panels)
    ylims = list(ylim) if isinstance(ylim, list) else [ylim] * len(panels)
    if len(logys) != len(panels) or len(ylims) != len(panels):
        raise ValueError(f"logy and ylim need one value per panel ({len(panels)}), got {logy!r} and {ylim!r}")
    labels = dict(labels or {})
    names = list(controls)
    values = {}
    for name in names:
        found = list(dict.fromkeys(records[name].tolist()))
        values[name] = sorted(found) if _numeric(found) else found
    texts = {name: [labels[name](v) if name in labels else value_text(v) for v in values[name]] for name in names}
    for name in names:
        if len(set(texts[name])) != len(texts[name]):
            raise ValueError(f"labels[{name!r}] gives two values the same text: {texts[name]}")
    if summary is not None:
        summary_over = summary_over or names[-1]
        if summary_over not in names or not _numeric(values[summary_over]):
            raise ValueError(f"summary_over must be a numeric control among {names}, got {summary_over!r}")
    others = [name for name in names if name != summary_over] if summary else names
    if isinstance(colors, Mapping):
        if missing := [m for m in flat if m not in colors]:
            raise ValueError(f"colors has no colour for {missing}")
        color_of = {m: css_color(colors[m]) for m in flat}
    else:
        palette = [css_color(c) for c in colors] if colors is not None else TAB10
        if len(palette) < len(flat):
            raise ValueError(f"colors needs one colour per metric ({len(flat)}), got {len(palette)}")
        color_of = {m: palette[i] for i, m in enumerate(flat)}

    groups = {}
    for combination, group in records.groupby(names, sort=False):
        combination = combination if isinstance(combination, tuple) else (combination,)
        groups[tuple(values[name].index(value) for name, value in zip(names, combination))] = group
    keys = sorted(groups)
    table = TraceTable()
    curves = _curve_traces(table, panels, color_of, band, max(g["seed"].nunique() for g in groups.values()) * runs)
    other_keys = list(dict.fromkeys(tuple(values[n][index[names.index(n)]] for n in others) for index in keys))
    chosen = dict(chosen or {})
    if summary:
        for other_key, value in chosen.items():
            other = () if other_key is None else other_key if isinstance(other_key, tuple) else (other_key,)
            if other not in other_keys:
                raise ValueError(f"chosen keys must be settings of {others} that have runs, got {other_key!r}")
            if value not in values[summary_over]:
                raise ValueError(f"chosen[{other_key!r}] must be a value of {summary_over} "
                                 f"{values[summary_over]}, got {value!r}")
        names_of = {other: ", ".join(texts[n][values[n].index(v)] for n, v in zip(others, other))
                    or f"final {_label(summary)}" for other in other_keys}
        summary_traces = _summary_traces(table, other_keys, names_of, summary, _axes(len(panels)), bool(chosen),
                                         dict(summary_colors or {}), bool(others), color_of[flat[0]])
    lines = _reference_lines(reference, reference_label, panels, summary, color_of)
    legend_only = {label: table.line(label, {"role": "reference"}, color, ("x", "y"), width=1, hoverinfo="skip")
                   for _, _, color, label in lines}
    for trace in legend_only.values():
        table.styles[trace]["line"]["dash"] = "dash"

    panel_y: list[list] = [[] for _ in panels]
    panel_x: list[list] = [[] for _ in panels]
    summary_y: list = []
    summary_cache: dict[tuple, tuple[dict, dict]] = {}
    for index in keys:
        group = groups[index]
        traces: list = [None] * len(table.styles)
        setting = {name: values[name][i] for name, i in zip(names, index)}
        diverged = sorted(group.loc[group["diverged"].astype(bool), "seed"].unique()) if "diverged" in group else []
        finals = []
        for p, panel in enumerate(panels):
            for m in panel:
                matrix = group.pivot_table(index=x, columns="seed", values=m, aggfunc="first", dropna=False)
                xi = table.x(matrix.index.to_numpy(dtype=float))
                array = matrix.to_numpy(dtype=float)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs after every run diverged
                    median = np.nanmedian(array, axis=1)
                    low, high = np.nanpercentile(array, BANDS[band or "iqr"], axis=1)
                for s, trace in enumerate(curves[m]["runs"]):
                    traces[trace] = [xi, rounded(array[:, s]) if s < array.shape[1] else []]
                if band is not None:
                    traces[curves[m]["low"]], traces[curves[m]["high"]] = [xi, rounded(low)], [xi, rounded(high)]
                    panel_y[p] += traces[curves[m]["low"]][1] + traces[curves[m]["high"]][1]
                traces[curves[m]["median"]] = [xi, rounded(median)]
                ends = [(float(s.index[-1]), float(s.iloc[-1])) for seed in diverged if seed in matrix
                        for s in [matrix[seed].dropna()] if not s.empty]
                traces[curves[m]["diverged"]] = [table.x([e[0] for e in ends]), rounded([e[1] for e in ends])]
                panel_x[p] += table.xs[xi]
                panel_y[p] += traces[curves[m]["median"]][1] + (rounded(array[np.isfinite(array)]) if runs else [])
                last = array[-1][np.isfinite(array[-1])] if len(array) else []
                finals.append(f"final {_label(m)} " + (f"{float(np.median(last)):.3g}" if len(last) else "—"))
        seeds = group["seed"].nunique()
        status = (", ".join(text if text.startswith(controls[n]) else f"{controls[n]} {text}"
                            for n, text in ((n, texts[n][i]) for n, i in zip(names, index)))
                  + ": " + ", ".join(finals) + f" (median over {seeds} seeds)"
                  + (f"; {len(diverged)} of {seeds} runs diverged" if diverged else ""))
        if summary:
            for other in other_keys:
                if other not in summary_cache:
                    summary_cache[other] = _summary_data(records, others, other, summary, summary_over, x, band,
                                                         chosen, table)
                for role, drawn in summary_cache[other][0].items():
                    traces[summary_traces[other][role]] = drawn
                summary_y += [v for r in ("dots", "low", "high") for v in summary_cache[other][0][r][1]]
            here = float(setting[summary_over])
            traces[summary_traces["ring"]] = [table.x([here]),
                                              [summary_cache[tuple(setting[n] for n in others)][1].get(here)]]
        for trace in legend_only.values():
            traces[trace] = [table.x([]), []]  # in the legend only; the lines are layout shapes
        table.states["|".join(map(str, index))] = {"traces": traces, "status": status}

    layout = base_layout(height)
    domains = panel_domains([1.0] * len(panels) + ([0.8] if summary else []))
    for p, panel in enumerate(panels):
        xa, ya = _axes(p)
        y_title = (_label(panel[0]) if len(panel) == 1 else "accuracy" if all("accuracy" in m for m in panel)
                   else "loss" if all("loss" in m for m in panel) else ", ".join(panel))
        layout[xa.replace("x", "xaxis")] = {**AXIS_STYLE, "domain": list(domains[p]), "anchor": ya,
                                            "title": {"text": _label(x)}, "type": "log" if logx else "linear",
                                            "range": axis_range(panel_x[p], logx) if logx else
                                            [min(panel_x[p]), max(panel_x[p])]}
        layout[ya.replace("y", "yaxis")] = {**AXIS_STYLE, "anchor": xa, "type": "log" if logys[p] else "linear",
                                            "title": {"text": y_title}, "range": axis_range(panel_y[p], logys[p],
                                                                                            ylims[p])}
    if summary:
        span = [float(v) for v in values[summary_over] if float(v) > 0]
        log_summary = summary_logx if summary_logx is not None else bool(span) and max(span) / min(span) > 20
        xa, ya = _axes(len(panels))
        layout[xa.replace("x", "xaxis")] = {**AXIS_STYLE, "domain": list(domains[-1]), "anchor": ya,
                                            "title": {"text": controls[summary_over]},
                                            "type": "log" if log_summary else "linear",
                                            "range": axis_range([float(v) for v in values[summary_over]],
                                                                log_summary)}
        layout[ya.replace("y", "yaxis")] = {**AXIS_STYLE, "anchor": xa, "title": {"text": f"final {_label(summary)}"},
                                            "range": axis_range(summary_y, False, summary_ylim)}
    for p, value, color, _ in lines:
        xa, ya = _axes(p)
        layout["shapes"].append({"type": "line", "xref": f"{xa} domain", "x0": 0, "x1": 1, "yref": ya, "y0": value,
                                 "y1": value, "line": {"color": color, "dash": "dash", "width": 1}})
    control_specs = [{"name": name, "label": controls[name], "kind": "range" if _numeric(values[name]) else "select",
                      "options": texts[name],
                      "values": [float(v) if _numeric(values[name]) else str(v) for v in values[name]]}
                     for name in names]
    initial = keys[len(keys) // 2]
    if summary and chosen:  # start at the first chosen value
        first = other_keys[0]
        wanted = chosen.get(None if not others else first if len(first) > 1 else first[0])
        candidate = tuple(values[n].index((dict(zip(others, first)) | {summary_over: wanted})[n]) for n in names) \
            if wanted is not None else None
        initial = candidate if candidate in groups else initial
    title = title or f"{', '.join(_label(m) for m in flat)} by {', '.join(controls.values())}"
    return table.explorer(title, control_specs, ["|".join(map(str, k)) for k in keys], "|".join(map(str, initial)),
                          layout)


def _curve_traces(table: TraceTable, panels: list[list[str]], color_of: dict, band: str | None,
                  seeds: int) -> dict[str, dict]:
    """Per metric: its single runs (behind), band, median and crosses, on its panel's axes."""
    curves: dict[str, dict] = {}
    for p, panel in enumerate(panels):
        axes = _axes(p)
        for m in panel:
            curves[m] = {"runs": [table.line(f"{_label(m)}, one seed", {"metric": m, "role": "run", "seed_index": s},
                                             color_of[m], axes, width=0.7, opacity=0.3, hoverinfo="skip",
                                             showlegend=False) for s in range(seeds)]}
        for m in panel:
            if band is not None:
                curves[m]["low"], curves[m]["high"] = table.band(_label(m), {"metric": m, "role": "band"},
                                                                 color_of[m], axes)
        for m in panel:
            curves[m]["median"] = table.line(_label(m), {"metric": m, "role": "median"}, color_of[m], axes,
                                             hovertemplate="%{y:.4g}<extra>median</extra>")
            curves[m]["diverged"] = table.markers("diverged run", {"metric": m, "role": "diverged"},
                                                  {"symbol": "x", "size": 9, "color": color_of[m]}, axes,
                                                  showlegend=False)
    return curves


def _summary_traces(table: TraceTable, other_keys: list[tuple], names_of: dict, summary: str, axes: tuple[str, str],
                    starred: bool, summary_colors: dict, has_others: bool, single_color: str) -> dict:
    """Per setting of the other controls: dots, band, median and star; and one ring for the setting shown."""
    traces: dict = {}
    for position, other in enumerate(other_keys):
        mapping_key = None if not has_others else other if len(other) > 1 else other[0]
        color = css_color(summary_colors[mapping_key]) if mapping_key in summary_colors else (
            single_color if len(other_keys) == 1 else TAB10[position % 10])
        meta = {"metric": summary, "setting": names_of[other]}
        low, high = table.band(names_of[other], {**meta, "role": "summary_band"}, color, axes)
        traces[other] = {
            "dots": table.markers(f"{names_of[other]}, one seed", {**meta, "role": "summary_seeds"},
                                  {"size": 6, "color": rgba(color, 0.5)}, axes, showlegend=False,
                                  hovertemplate="%{y:.4g}<extra>one seed</extra>"),
            "low": low, "high": high,
            "median": table.line(names_of[other], {**meta, "role": "summary_median"}, color, axes,
                                 mode="lines+markers", marker={"size": 6},
                                 hovertemplate="%{x:g}: %{y:.4g}<extra>median</extra>"),
            "star": table.markers("chosen on validation", {**meta, "role": "chosen"},
                                  {"symbol": "star", "size": 15, "color": color, "line": {"color": "black", "width": 1}},
                                  axes, showlegend=position == 0 and starred,
                                  hovertemplate="%{x:g}<extra>chosen</extra>"),
        }
    traces["ring"] = table.markers("the setting on the left", {"metric": summary, "role": "current"},
                                   {"symbol": "circle-open", "size": 18, "color": "black", "line": {"width": 2}}, axes,
                                   hoverinfo="skip")
    return traces


def _reference_lines(reference: Any, label: str, panels: list[list[str]], summary: str | None,
                     color_of: dict) -> list[tuple[int, float, str, str]]:
    """(panel, value, colour, legend text) of every dashed reference line."""
    if reference is None:
        return []
    if isinstance(reference, Mapping):
        flat = [m for panel in panels for m in panel]
        if unknown := sorted(set(reference) - set(flat) - {summary}):
            raise ValueError(f"reference names {unknown}, which are not among the metrics {[*flat, summary]}")
        lines = [(p, float(reference[m]), color_of[m], f"{label} ({_label(m)})")
                 for p, panel in enumerate(panels) for m in panel if m in reference]
        return lines + ([(len(panels), float(reference[summary]), "#000000", label)] if summary in reference else [])
    lines = [(p, float(reference), "#000000", label) for p, panel in enumerate(panels)
             if all("accuracy" in m for m in panel)]
    return lines + ([(len(panels), float(reference), "#000000", label)] if summary and "accuracy" in summary else [])


def _summary_data(records: pd.DataFrame, others: list[str], other: tuple, summary: str, over: str, x: str,
                  band: str | None, chosen: dict, table: TraceTable) -> tuple[dict, dict]:
    """The summary panel's traces for one setting of the other controls, as :func:`lrnotes.plot_final` draws them."""
    part = records
    for name, value in zip(others, other):
        part = part[part[name] == value]
    last_rows = part.sort_values(x, kind="stable").groupby([over, "seed"], sort=True).tail(1)
    ok = last_rows[~last_rows["diverged"].astype(bool)] if "diverged" in last_rows else last_rows
    by_value = ok.groupby(over)[summary]
    xs = np.array(sorted(by_value.groups), dtype=float)
    medians = by_value.median().reindex(xs).to_numpy(dtype=float)
    low_q, high_q = BANDS[band or "iqr"]
    chosen_value = chosen.get(None if not others else other if len(other) > 1 else other[0])
    star = [] if chosen_value is None else [float(chosen_value)]
    traces = {
        "dots": [table.x(ok[over].to_numpy(dtype=float)), rounded(ok[summary])],
        "low": [table.x(xs), rounded(by_value.quantile(low_q / 100).reindex(xs))],
        "high": [table.x(xs), rounded(by_value.quantile(high_q / 100).reindex(xs))],
        "median": [table.x(xs), rounded(medians)],
        "star": [table.x(star), rounded([medians[list(xs).index(star[0])]]) if star else []],
    }
    return traces, dict(zip(xs.tolist(), rounded(medians)))
