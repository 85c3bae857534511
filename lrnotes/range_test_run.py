"""The record of one learning-rate range test, and the rates read off it.

:class:`RangeTestRun` holds the rates, losses and smoothed losses that
:class:`lrnotes.range_test.LearningRateRangeTest` recorded, and suggests a
rate by one of :data:`SUGGESTION_RULES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


__all__ = ["SUGGESTION_RULES", "RangeTestRun"]

#: The rules :meth:`RangeTestRun.suggestion` knows.
SUGGESTION_RULES = ("steepest", "minimum")


@dataclass
class RangeTestRun:
    """The record of one range test: rates, losses, smoothed losses, why it stopped.

    Attributes
    ----------
    rates : list of float
        The learning rate of every recorded update.
    losses : list of float
        The loss recorded at that rate (see the module notes for which loss).
    smoothed : list of float
        The bias-corrected exponentially weighted mean of ``losses``.
    source : {"probe", "batches"}
        Where the losses come from.
    initial_loss : float
        The probe loss of the initial weights (NaN without a probe).
    stop_reason : str or None
        ``"completed"`` (all steps ran), ``"diverged"`` (the smoothed loss
        exceeded ``divergence`` times its best value, or was not finite),
        ``"out of epochs"`` (training ended first), or None while running.

    Examples
    --------
    A synthetic curve: flat, falling between 1e-3 and 1, rising after.

    >>> rates = np.logspace(-5, 1, 61)
    >>> losses = 1.0 - 0.9 / (1 + np.exp(-2.5 * (np.log10(rates) + 1.5))) + 0.5 * (rates > 1) * np.log10(rates + 1e-9)
    >>> run = RangeTestRun(list(rates), list(losses), list(losses), "probe")
    >>> round(run.suggestion("steepest"), 4)
    0.0316
    """

    rates: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    source: str = "probe"
    initial_loss: float = math.nan
    stop_reason: str | None = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        rates = np.asarray(self.rates, dtype=float)
        smoothed = np.asarray(self.smoothed, dtype=float)
        keep = np.isfinite(smoothed)
        if keep.sum() < 3:
            raise ValueError(
                f"the range test recorded {int(keep.sum())} finite point(s); it needs at least 3 to suggest a "
                "rate (train with the callback first, with enough steps and epochs)"
            )
        return rates[keep], smoothed[keep]

    def suggestion(self, rule: str = "steepest") -> float:
        """A learning rate read off the smoothed curve.

        Parameters
        ----------
        rule : {"steepest", "minimum"}, default "steepest"
            ``"steepest"``: the rate at which the smoothed loss falls fastest
            per factor of rate, ``argmin d(smooth) / d(log rate)``, searched
            before the minimum: Smith's "the rate at which the loss decreases
            most". A derivative amplifies noise, which is why fastai moved
            away from this rule for batch losses; a probe loss is smooth
            enough for it.
            ``"minimum"``: a tenth of the rate at which the smoothed loss is
            lowest (fastai's ``lr_min``). The minimum is where the loss stops
            improving, about the largest rate that still helps; a tenth of it
            sits on the falling stretch.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            For an unknown rule, or fewer than 3 finite points.
        """
        if rule not in SUGGESTION_RULES:
            raise ValueError(f"rule must be one of {', '.join(SUGGESTION_RULES)}, got {rule!r}")
        rates, smoothed = self._arrays()
        lowest = int(np.argmin(smoothed))
        if rule == "minimum":
            return float(rates[lowest] / 10.0)
        if lowest < 1:
            return float(rates[0])
        slope = np.gradient(smoothed[: lowest + 1], np.log(rates[: lowest + 1]))
        return float(rates[int(np.argmin(slope))])

    def frame(self):
        """The record as a DataFrame: ``step, learning_rate, loss, smoothed_loss``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "step": np.arange(len(self.rates)),
                "learning_rate": np.asarray(self.rates, dtype=float),
                "loss": np.asarray(self.losses, dtype=float),
                "smoothed_loss": np.asarray(self.smoothed, dtype=float),
            }
        )

    def plot(self, ax=None, *, rule="steepest", raw: bool = True, color="C0", label: str | None = None):
        """Loss against learning rate (log axis), the suggestion marked; returns the axes.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure by default.
        rule : str, sequence of str, or None, default "steepest"
            The suggestion(s) to mark with a vertical line (dotted for
            ``"steepest"``, dashed for ``"minimum"``); None marks none.
        raw : bool, default True
            Also draw the unsmoothed losses, thin.
        color, label
            Colour of the curves and legend label of the smoothed one.
        """
        import matplotlib.pyplot as plt
        from matplotlib.axes import Axes

        if ax is None:
            _, ax = plt.subplots()
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        rules = [] if rule is None else [rule] if isinstance(rule, str) else list(rule)
        for name in rules:
            if name not in SUGGESTION_RULES:
                raise ValueError(f"rule must be one of {', '.join(SUGGESTION_RULES)} or None, got {name!r}")
        rates = np.asarray(self.rates, dtype=float)
        if raw:
            ax.plot(rates, self.losses, color=color, alpha=0.3, linewidth=0.8)
        ax.plot(rates, self.smoothed, color=color, linewidth=2.0, label=label or "smoothed loss")
        for name in rules:
            rate = self.suggestion(name)
            ax.axvline(rate, color=color, linestyle=":" if name == "steepest" else "--", linewidth=1.2,
                       label=f"suggestion ({name}): {rate:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss on the probe examples" if self.source == "probe" else "training batch loss")
        ax.legend(loc="best", fontsize="small")
        return ax
