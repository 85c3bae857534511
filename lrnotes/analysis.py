"""Summaries of training records: final values, epochs to a threshold, tables.

All functions take the tidy records of :func:`lrnotes.sweep` (one row per
configuration, seed and epoch) and treat a diverged run as what it is: its
final metrics are missing, it never reaches a threshold, and tables count it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lrnotes import validation

__all__ = [
    "REACH_WINDOW",
    "Difference",
    "difference",
    "difference_text",
    "epochs_to_reach",
    "final",
    "final_values",
    "jitter",
    "seed_values",
    "summarize",
]


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def final(records: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The last epoch of every run (one row per configuration and seed).

    A diverged run keeps its row, with NaN metrics and ``diverged`` True.

    Examples
    --------
    >>> records = pd.DataFrame({"lr": [0.1] * 4, "seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1],
    ...                         "test_accuracy": [0.3, 0.8, 0.3, 0.7], "diverged": False})
    >>> final(records, "lr")["test_accuracy"].tolist()
    [0.8, 0.7]
    """
    keys = [*_as_list(by), "seed"]
    validation.columns(records, [*keys, "epoch"])
    index = records.groupby(keys, sort=False)["epoch"].idxmax()
    return records.loc[index.to_numpy()].reset_index(drop=True)


#: Epochs in the rolling mean of :func:`epochs_to_reach`.
REACH_WINDOW = 5


def epochs_to_reach(
    records: pd.DataFrame,
    threshold: float,
    *,
    metric: str = "test_accuracy",
    by: str | Sequence[str] | None = None,
    window: int = REACH_WINDOW,
) -> pd.Series:
    """Epochs each run takes to reach ``threshold``, by a rolling mean (NaN if never).

    The book's one definition of "epochs to reach": the first epoch ``e`` at
    which the mean of ``metric`` over epochs ``e - window + 1`` to ``e``
    reaches ``threshold``, so that one lucky epoch does not count (with
    ``window=1``, the first epoch at which the metric itself does). A run
    that never gets there (or diverges first) gives NaN.

    Examples
    --------
    >>> records = pd.DataFrame({"seed": [0] * 4 + [1] * 4, "epoch": [0, 1, 2, 3] * 2,
    ...                         "test_accuracy": [0.3, 0.8, 0.8, 0.9, 0.3, 0.9, 0.4, 0.5]})
    >>> epochs_to_reach(records, 0.75, window=2).tolist()
    [2.0, nan]
    >>> epochs_to_reach(records, 0.75, window=1).tolist()
    [1.0, 1.0]
    """
    keys = [*_as_list(by), "seed"]
    validation.columns(records, [*keys, "epoch", metric])
    validation.integer("window", window)
    ordered = records.sort_values([*keys, "epoch"], kind="stable")
    rolling = ordered.groupby(keys, sort=False)[metric].transform(
        lambda values: values.rolling(window, min_periods=window).mean()
    )
    reached = ordered[rolling >= threshold]
    first = reached.groupby(keys, sort=False)["epoch"].min()
    runs = records.groupby(keys, sort=False)["epoch"].min()  # every run, in order
    return first.reindex(runs.index).astype(float).rename(f"epochs_to_{threshold:g}")


def jitter(
    records: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    metric: str = "test_accuracy",
    last: int | None = None,
) -> pd.Series:
    """How much each run's ``metric`` jumps from one epoch to the next, late in training.

    The book's one definition of "jitter": the mean absolute change of
    ``metric`` between consecutive epochs over a run's last ``last`` epochs
    (default: the second half of its epochs). A steady run has a jitter
    near 0; one that oscillates, a jitter near the size of its swings. A
    diverged run gives NaN.

    Returns
    -------
    pandas.Series
        One value per run, indexed by ``by`` and ``seed``.

    Examples
    --------
    >>> records = pd.DataFrame({"seed": [0] * 5 + [1] * 5, "epoch": list(range(5)) * 2,
    ...                         "test_accuracy": [0.5, 0.6, 0.7, 0.7, 0.7, 0.5, 0.8, 0.6, 0.8, 0.6]})
    >>> jitter(records, last=2).round(3).tolist()
    [0.0, 0.2]
    """
    keys = [*_as_list(by), "seed"]
    validation.columns(records, [*keys, "epoch", metric])
    validation.integer("last", last, allow_none=True)

    def one_run(run: pd.DataFrame) -> float:
        values = run.sort_values("epoch")[metric].to_numpy(dtype=float)
        count = last if last is not None else max(1, (len(values) - 1) // 2)
        changes = np.abs(np.diff(values))[-count:]
        return float(changes.mean()) if changes.size and np.isfinite(changes).all() else float("nan")

    result = records.groupby(keys, sort=False)[["epoch", metric]].apply(one_run)
    return result.astype(float).rename(f"jitter_{metric}")


def summarize(
    records: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    threshold: float | None = None,
    metric: str = "test_accuracy",
    window: int = REACH_WINDOW,
    digits: int = 3,
) -> pd.DataFrame:
    """A small results table: one row per configuration.

    Columns: final training accuracy (on the whole training set) and test
    accuracy as mean ± standard deviation over the seeds that did not
    diverge, the final test loss likewise, the median over seeds of
    :func:`epochs_to_reach` for ``metric`` and ``threshold`` (``window``
    epochs in its rolling mean; with how many runs reached it), and the
    number of diverged runs. Float keys are shown with
    ``:g`` (``0.001``, not ``1.000000e-03``).

    Examples
    --------
    >>> records = pd.DataFrame({"lr": [0.1] * 4, "seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1],
    ...                         "train_accuracy": [0.3, 0.8, 0.3, 0.6], "test_accuracy": [0.3, 0.8, 0.3, 0.7],
    ...                         "test_loss": [1.0, 0.5, 1.0, 0.6], "diverged": False})
    >>> summarize(records, "lr", threshold=0.75, window=1).iloc[0].to_dict()
    {'train accuracy': '0.700 ± 0.141', 'test accuracy': '0.750 ± 0.071', 'test loss': '0.550 ± 0.071', 'epochs to 0.75': '1 (1/2)', 'diverged': '0/2'}
    >>> summarize(records).index.tolist()  # without ``by``: one row for all runs
    ['all runs']
    """
    keys = _as_list(by)
    validation.columns(records, [*keys, "seed", "epoch", "train_accuracy", "test_accuracy", "test_loss"])
    last = final(records, keys)
    if "diverged" not in last:
        last = last.assign(diverged=False)
    reach = None
    if threshold is not None:
        reach = epochs_to_reach(records, threshold, metric=metric, by=keys, window=window).reset_index()
    rows = {}
    groups = last.groupby(keys, sort=False) if keys else [((), last)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = {}
        for column, label in (("train_accuracy", "train accuracy"), ("test_accuracy", "test accuracy"),
                              ("test_loss", "test loss")):
            values = group.loc[~group["diverged"], column].dropna()
            row[label] = (
                "—"
                if values.empty
                else f"{values.mean():.{digits}f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.{digits}f}"
            )
        if reach is not None:
            selection = reach
            for name, value in zip(keys, key):
                selection = selection[selection[name] == value]
            epochs = selection.iloc[:, -1]
            reached = int(epochs.notna().sum())
            row[f"epochs to {threshold:g}"] = (
                f"{np.nanmedian(epochs):.0f} ({reached}/{len(epochs)})" if reached else f"never (0/{len(epochs)})"
            )
        row["diverged"] = f"{int(group['diverged'].sum())}/{len(group)}"
        labels = tuple(f"{part:g}" if isinstance(part, float) else part for part in key)
        rows[labels[0] if len(labels) == 1 else (labels or "all runs")] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    if keys:
        table.index.names = keys
    return table


@dataclass(frozen=True)
class Difference:
    """A difference of means across seeds, with its bootstrap interval.

    Attributes
    ----------
    mean : float
        Mean of ``a`` minus mean of ``b``.
    low, high : float
        The percentile bootstrap interval of that difference.
    confidence : float
        The interval's nominal coverage.
    n : int
        Seeds (pairs, for a paired difference; the smaller group otherwise).
    paired : bool
        Whether seeds were paired.

    Examples
    --------
    >>> gap = difference([0.84, 0.83, 0.85], [0.80, 0.81, 0.80])
    >>> gap.real, f"{gap:.2f}"
    (True, '+0.04 [+0.02, +0.05]')
    """

    mean: float
    low: float
    high: float
    confidence: float
    n: int
    paired: bool

    @property
    def real(self) -> bool:
        """Whether the interval excludes zero: the only differences the book calls real."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return format(self, ".3f")

    def __format__(self, spec: str) -> str:
        """``mean [low, high]``, each number formatted with ``spec`` (default ``.3f``) and a sign.

        Examples
        --------
        >>> f"{Difference(2.0, 0.5, 3.25, 0.95, 5, True):.1f}"
        '+2.0 [+0.5, +3.2]'
        """
        spec = spec or ".3f"
        return f"{self.mean:+{spec}} [{self.low:+{spec}}, {self.high:+{spec}}]"


def _values(name: str, values) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of numbers (one per seed), got {type(values).__name__}")
    array = np.asarray(values, dtype=float).ravel()
    if array.size < 2:
        raise ValueError(f"{name} needs at least two seeds, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has missing or infinite values (a diverged run?): {array.tolist()}")
    return array


def difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    paired: bool = True,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Difference:
    """How much larger ``a`` is than ``b`` on average, with a bootstrap interval over seeds.

    With ``paired=True`` (runs that share seeds, so share initial weights and
    batch order), the seeds' differences ``a[i] - b[i]`` are resampled; else
    each group is resampled on its own. The interval is the percentile
    interval of the resampled mean difference. The book calls a difference
    real only when this interval excludes zero (:attr:`Difference.real`).

    Parameters
    ----------
    a, b : sequence of float
        One value per seed (for ``paired``, in the same seed order).
    paired : bool, default True
        Whether ``a[i]`` and ``b[i]`` come from the same seed.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.
    resamples : int, default 10000
        Bootstrap resamples.
    seed : int, default 0
        Seed of the resampling (the interval is reproducible).

    Raises
    ------
    TypeError, ValueError
        For values that are not numbers, fewer than two seeds, missing
        values, paired groups of different sizes, or a bad setting; the
        message names the argument.

    Examples
    --------
    >>> result = difference([0.84, 0.83, 0.85, 0.84, 0.82], [0.80, 0.81, 0.80, 0.79, 0.80])
    >>> round(result.mean, 3), result.real
    (0.036, True)
    >>> difference([0.80, 0.82, 0.79], [0.81, 0.80, 0.80]).real
    False
    """
    a, b = _values("a", a), _values("b", b)
    confidence = validation.number("confidence", confidence, low=0, high=1)
    validation.integer("resamples", resamples, minimum=100)
    generator = np.random.default_rng(seed)
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired differences need as many values in a as in b, got {a.size} and {b.size}")
        gaps = a - b
        means = gaps[generator.integers(0, gaps.size, (resamples, gaps.size))].mean(axis=1)
        centre, n = float(gaps.mean()), int(a.size)
    else:
        means = (a[generator.integers(0, a.size, (resamples, a.size))].mean(axis=1)
                 - b[generator.integers(0, b.size, (resamples, b.size))].mean(axis=1))
        centre, n = float(a.mean() - b.mean()), int(min(a.size, b.size))
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Difference(mean=centre, low=float(low), high=float(high), confidence=float(confidence), n=n, paired=paired)


def final_values(records: pd.DataFrame, by: str | Sequence[str], metric: str) -> pd.Series:
    """The final ``metric`` of every run, indexed by ``by`` and ``seed`` (for :func:`seed_values`).

    Examples
    --------
    >>> records = pd.DataFrame({"lr": [0.1] * 4, "seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1],
    ...                         "test_accuracy": [0.3, 0.8, 0.3, 0.7]})
    >>> final_values(records, "lr", "test_accuracy").tolist()
    [0.8, 0.7]
    """
    keys = [*_as_list(by), "seed"]
    validation.columns(records, [*keys, metric])
    return final(records, _as_list(by)).set_index(keys)[metric]


def seed_values(values: pd.Series) -> dict:
    """A per-run series as ``{setting: [value of each seed, in seed order]}`` (``None`` where missing).

    ``values`` is indexed by one or more setting levels and a last level
    ``seed``, as :func:`final_values`, :func:`jitter` and
    :func:`epochs_to_reach` return them; several setting levels give tuple
    keys. Plain floats, ready for :func:`lrnotes.record` and the claims tests.

    Examples
    --------
    >>> index = pd.MultiIndex.from_tuples([(0.1, 1), (0.1, 0), (0.01, 0), (0.01, 1)], names=["lr", "seed"])
    >>> seed_values(pd.Series([0.8, 0.7, 0.5, float("nan")], index=index))
    {0.1: [0.7, 0.8], 0.01: [0.5, None]}
    """
    if not isinstance(values, pd.Series) or values.index.nlevels < 2 or values.index.names[-1] != "seed":
        raise TypeError("values must be a pandas Series indexed by the settings and then 'seed'")
    levels = list(range(values.index.nlevels - 1))
    result = {}
    for key, group in values.groupby(level=levels if len(levels) > 1 else levels[0], sort=False):
        ordered = group.sort_index(level="seed")
        result[key] = [None if pd.isna(value) else float(value) for value in ordered]
    return result


def difference_text(a: Sequence[float | None], b: Sequence[float | None], *, digits: int = 3,
                    missing: str = "—") -> str:
    """:func:`difference` of ``a`` and ``b`` as "mean [low, high]", or ``missing`` when a run lacks a value.

    Examples
    --------
    >>> difference_text([0.84, 0.83, 0.85], [0.80, 0.81, 0.80])
    '+0.037 [+0.020, +0.050]'
    >>> difference_text([12.0, None], [10.0, 11.0], digits=1)
    '—'
    """
    validation.integer("digits", digits, minimum=0)
    a_values = np.asarray([np.nan if value is None else value for value in a], dtype=float)
    b_values = np.asarray([np.nan if value is None else value for value in b], dtype=float)
    if not (np.isfinite(a_values).all() and np.isfinite(b_values).all()):
        return missing
    return format(difference(a_values, b_values), f".{digits}f")
