"""Figures of the book. Each function draws on an ``ax`` (or a figure) it is given and returns it.

Comparisons across seeds show the median over seeds as a thick line, the
inter-quartile range (or the min-max range) as a band, and every single run as
a thin line behind them. A run that diverged stops where it diverged and ends
in a cross.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrnotes import validation
from lrnotes.data import Dataset

__all__ = [
    "METRIC_LABELS",
    "plot_dataset",
    "plot_final",
    "plot_grid",
    "plot_learning_rates",
    "plot_runs",
    "series_colors",
    "use_book_style",
]

#: Axis labels of the record's columns.
METRIC_LABELS = {
    "loss": "training loss (fit's running mean)",
    "accuracy": "training accuracy (fit's running mean)",
    "train_loss": "training loss",
    "train_accuracy": "training accuracy",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "test_loss": "test loss",
    "test_accuracy": "test accuracy",
    "learning_rate": "learning rate",
    "epoch": "epoch",
    "updates": "weight updates",
    "seconds": "seconds per epoch",
}

_BANDS = {"iqr": (25, 75), "minmax": (0, 100)}


def use_book_style() -> None:
    """Matplotlib settings shared by every figure of the book."""
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (7.0, 4.0),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 10,
        }
    )


def _new_ax(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def series_colors(values: Sequence[Hashable], cmap: str = "viridis") -> dict[Hashable, Any]:
    """One colour per value: a sequential map for ordered numbers, a qualitative one otherwise.

    Examples
    --------
    >>> len(series_colors([0.1, 0.01, 0.001]))
    3
    """
    values = list(values)
    if all(isinstance(value, (int, float, np.number)) and not isinstance(value, bool) for value in values):
        colormap = plt.get_cmap(cmap)
        positions = np.linspace(0.0, 0.9, len(values)) if len(values) > 1 else [0.0]
        order = sorted(values)
        return {value: colormap(positions[order.index(value)]) for value in values}
    palette = plt.get_cmap("tab10")
    return {value: palette(index % 10) for index, value in enumerate(values)}


def plot_dataset(dataset: Dataset, ax: Axes | None = None, *, split: str = "train") -> Axes:
    """Scatter plot of a two-dimensional data set, coloured by class.

    Examples
    --------
    >>> from lrnotes.data import load_blobs
    >>> ax = plot_dataset(load_blobs())
    >>> len(ax.collections)
    3
    """
    ax = _new_ax(ax)
    if dataset.input_shape != (2,):
        raise ValueError(f"plot_dataset needs two features, {dataset.name!r} has shape {dataset.input_shape}")
    features = dataset.x_train if split == "train" else dataset.x_test
    labels = dataset.labels(split)
    colors = series_colors(dataset.class_names)
    for index, name in enumerate(dataset.class_names):
        chosen = labels == index
        ax.scatter(*features[chosen].T, s=12, alpha=0.7, color=colors[name], label=f"class {name}")
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    ax.legend(loc="best")
    return ax


def _matrix(records: pd.DataFrame, metric: str, x: str) -> pd.DataFrame:
    """Runs as columns, ``x`` as the index."""
    return records.pivot_table(index=x, columns="seed", values=metric, aggfunc="first", dropna=False)


def plot_runs(
    records: pd.DataFrame,
    metric: str = "test_accuracy",
    *,
    ax: Axes | None = None,
    by: str | None = None,
    x: str = "epoch",
    band: str | None = "iqr",
    runs: bool = True,
    colors: dict[Hashable, Any] | None = None,
    label: Callable[[Hashable], str] | str | None = None,
    reference: float | None = None,
    reference_label: str = "Bayes-optimal accuracy",
    logy: bool = False,
) -> Axes:
    """Median over seeds with a band, and every run as a thin line.

    Parameters
    ----------
    records : DataFrame
        Records of :func:`lrnotes.sweep` (columns ``seed``, ``x``, ``metric``).
    metric : str
        The column to plot.
    by : str, optional
        A column whose values each get their own median, band and colour.
    x : str, default "epoch"
        ``"epoch"`` or ``"updates"``.
    band : {"iqr", "minmax", None}
        Inter-quartile range, full range, or no band.
    runs : bool
        Draw every single run as a thin line.
    label : callable or str, optional
        With ``by``, a function of the key that names its line in the legend;
        without ``by``, the legend text of the single median line.
    reference : float, optional
        A horizontal reference line (for instance the Bayes-optimal accuracy).

    Examples
    --------
    >>> records = pd.DataFrame({"seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1], "test_accuracy": [0.3, 0.8, 0.4, 0.7]})
    >>> ax = plot_runs(records, "test_accuracy", label="SGD")
    >>> ax.get_ylabel(), ax.get_legend().get_texts()[0].get_text()
    ('test accuracy', 'SGD')
    """
    validation.columns(records, ["seed", x, metric] + ([by] if by else []))
    if band not in (*_BANDS, None):
        raise ValueError(f"band must be one of {sorted(_BANDS)} or None, got {band!r}")
    ax = _new_ax(ax)
    groups = list(records.groupby(by, sort=False)) if by else [(None, records)]
    colors = colors or series_colors([key for key, _ in groups])
    for key, group in groups:
        color = colors[key]
        matrix = _matrix(group, metric, x)
        diverged = []
        if "diverged" in group:
            diverged = sorted(group.loc[group["diverged"], "seed"].unique())
        if runs:
            ax.plot(matrix.index, matrix.to_numpy(), color=color, alpha=0.25, linewidth=0.7)
        for seed in diverged:
            series = matrix[seed].dropna()
            if not series.empty:
                ax.plot(series.index[-1], series.iloc[-1], marker="x", color=color, markersize=7, linestyle="none")
        values = matrix.to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs after every run diverged
                median = np.nanmedian(values, axis=1)
                if band is not None:
                    low, high = np.nanpercentile(values, _BANDS[band], axis=1)
        if key is None:
            text = label if isinstance(label, str) else ""
        elif callable(label):
            text = label(key)
        else:
            text = f"{by} = {key:g}" if isinstance(key, float) else f"{by} = {key}"
        if diverged:
            text = f"{text} ({len(diverged)}/{matrix.shape[1]} diverged)".strip()
        ax.plot(matrix.index, median, color=color, linewidth=2.0, label=text or None)
        if band is not None:
            ax.fill_between(matrix.index, low, high, color=color, alpha=0.2, linewidth=0)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1.0, label=reference_label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(METRIC_LABELS.get(x, x))
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    if any(line.get_label() and not line.get_label().startswith("_") for line in ax.get_lines()):
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_grid(
    records: pd.DataFrame,
    by: str,
    *,
    metrics: Sequence[str] = ("train_accuracy", "test_accuracy"),
    x: str = "epoch",
    ncols: int = 4,
    fig: Figure | None = None,
    reference: float | None = None,
    title: Callable[[Hashable], str] | None = None,
    band: str | None = "iqr",
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """One panel per value of ``by``, each with the median and band of every metric.

    Examples
    --------
    >>> records = pd.DataFrame({"lr": [0.1] * 4 + [0.01] * 4, "seed": [0, 0, 1, 1] * 2, "epoch": [0, 1] * 4,
    ...                         "train_accuracy": 0.5, "test_accuracy": 0.4})
    >>> len(plot_grid(records, "lr", ncols=2).axes)
    2
    """
    validation.columns(records, ["seed", x, by, *metrics])
    keys = list(dict.fromkeys(records[by]))
    ncols = max(1, min(ncols, len(keys)))
    nrows = -(-len(keys) // ncols)
    if fig is None:
        fig = plt.figure(figsize=(3.2 * ncols, 2.6 * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    palette = plt.get_cmap("tab10")
    metric_colors = {metric: palette(index) for index, metric in enumerate(metrics)}
    for ax, key in zip(axes.flat, keys):
        group = records[records[by] == key]
        for metric in metrics:
            plot_runs(group, metric, ax=ax, x=x, band=band, colors={None: metric_colors[metric]})
            ax.get_lines()[-1].set_label(METRIC_LABELS.get(metric, metric))
        if reference is not None:
            ax.axhline(reference, color="black", linestyle="--", linewidth=1.0)
        ax.set_title(title(key) if title else f"{by} = {key:g}" if isinstance(key, float) else f"{by} = {key}",
                     fontsize="medium")
        ax.set_ylabel("")
        ax.set_xlabel("")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        if ylim is not None:
            ax.set_ylim(*ylim)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy" if all("accuracy" in m for m in metrics) else ", ".join(metrics))
    for ax in axes[-1, :]:
        ax.set_xlabel(METRIC_LABELS.get(x, x))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    wanted = [(h, text) for h, text in zip(handles, labels) if text in {METRIC_LABELS.get(m, m) for m in metrics}]
    if reference is not None:
        from matplotlib.lines import Line2D

        wanted.append((Line2D([], [], color="black", linestyle="--"), "Bayes-optimal accuracy"))
    fig.legend([h for h, _ in wanted], [t for _, t in wanted], loc="upper center", ncols=len(wanted),
               bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if nrows > 1 else 0.88))
    return fig


def plot_final(
    records: pd.DataFrame,
    by: str,
    *,
    metric: str = "test_accuracy",
    ax: Axes | None = None,
    logx: bool = True,
    reference: float | None = None,
    color: Any = "C0",
    label: str | None = None,
    band: str | None = "iqr",
) -> Axes:
    """Final value of ``metric`` against the hyperparameter ``by``: every seed, median and band.

    Diverged runs are drawn as crosses on the lower edge of the axes.

    Examples
    --------
    >>> records = pd.DataFrame({"lr": [0.1, 0.1, 0.01, 0.01], "seed": [0, 1, 0, 1], "epoch": [5] * 4,
    ...                         "test_accuracy": [0.8, 0.7, 0.6, 0.5]})
    >>> plot_final(records, "lr").get_xscale()
    'log'
    """
    from lrnotes.analysis import final

    validation.columns(records, ["seed", "epoch", by, metric])
    ax = _new_ax(ax)
    last = final(records, by)
    if "diverged" not in last:
        last = last.assign(diverged=False)
    ok = last[~last["diverged"]]
    ax.scatter(ok[by], ok[metric], s=14, color=color, alpha=0.5, zorder=3)
    grouped = ok.groupby(by)[metric]
    xs = np.array(sorted(grouped.groups))
    ax.plot(xs, grouped.median().reindex(xs), color=color, linewidth=2, marker="o", label=label or "median over seeds")
    if band is not None:
        low = grouped.quantile(_BANDS[band][0] / 100).reindex(xs)
        high = grouped.quantile(_BANDS[band][1] / 100).reindex(xs)
        ax.fill_between(xs, low, high, color=color, alpha=0.2, linewidth=0)
    bad = last[last["diverged"]]
    if not bad.empty:
        ax.scatter(bad[by], np.full(len(bad), 0.02), transform=ax.get_xaxis_transform(), marker="x",
                   color="crimson", s=30, label="diverged run", zorder=4)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1.0, label="Bayes-optimal accuracy")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(by)
    ax.set_ylabel(f"final {METRIC_LABELS.get(metric, metric)}")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_learning_rates(
    records: pd.DataFrame,
    *,
    by: str | None = None,
    ax: Axes | None = None,
    x: str = "epoch",
    logy: bool = True,
    colors: dict[Hashable, Any] | None = None,
    label: Callable[[Hashable], str] | str | None = None,
    runs: bool = True,
) -> Axes:
    """The learning rate over training: every run (thin) and the median over seeds.

    With callbacks such as ``ReduceLROnPlateau`` the seeds' rates differ, and
    the thin lines show each run's own steps (a median of an even number of
    seeds can fall between two runs).

    Examples
    --------
    >>> records = pd.DataFrame({"seed": [0, 0], "epoch": [0, 1], "learning_rate": [0.1, 0.05]})
    >>> plot_learning_rates(records).get_yscale()
    'log'
    """
    return plot_runs(records, "learning_rate", ax=ax, by=by, x=x, band=None, runs=runs, colors=colors,
                     label=label, logy=logy)
