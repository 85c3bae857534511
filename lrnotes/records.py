"""What a training run records: one row per seed and epoch.

One row per seed and epoch, from epoch 0 (the initial weights) to the last.

- ``loss`` and ``accuracy`` are what ``fit`` reports and hands its callbacks:
  the running mean over the epoch's batches, each measured before that
  batch's update (NaN at epoch 0, before any batch).
- ``train_loss`` and ``train_accuracy`` are measured on the whole training
  set after the epoch, the smooth curves of the figures.
- ``val_loss`` and ``val_accuracy`` are measured on the validation split
  (as ``fit`` measures ``validation_data``); callbacks that monitor
  ``val_loss`` see them, and settings are chosen by them.
- ``test_loss`` and ``test_accuracy`` are measured on the test split, which
  no choice has seen: the numbers the book reports.
- ``penalty`` is the model's regularisation term (``MLP(l2=...)``:
  ``l2`` times the sum of the squared kernels) after the epoch, 0 without
  one. As under ``fit`` and ``evaluate``, every loss column includes it;
  ``test_loss - penalty`` is the test cross-entropy.
- ``learning_rate`` is the rate of the epoch's last update, whatever sets it
  (a schedule, ``ReduceLROnPlateau``, ``LearningRateScheduler``, a range
  test); at epoch 0, the rate of the first update. A rate cut at the end of
  epoch ``e`` shows in the row of epoch ``e + 1``.
- ``updates`` counts the weight updates made so far (with
  ``gradient_accumulation_steps=k``: the optimizer's calls, one per batch;
  the weights change on every k-th) (a run stopped inside an
  epoch counts the updates it made), ``seconds`` is the wall time of the
  epoch (for seeds trained side by side, the stack's time divided by the
  number of runs that recorded the epoch).
- A run whose loss becomes NaN or infinite is marked ``diverged`` from that
  epoch on, and its metrics are NaN. As under ``fit``, its callbacks still
  see every epoch's logs (NaN included) until one of them stops training.
- A run stopped by a callback (``EarlyStopping``) ends at the epoch it
  stopped; weights it restores are those of an earlier row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from lrnotes.config import RunConfig

__all__ = ["METRIC_COLUMNS", "RECORD_COLUMNS", "EpochResult", "Recorder"]

#: Columns of a training record, in order.
RECORD_COLUMNS = [
    "seed",
    "epoch",
    "updates",
    "loss",
    "accuracy",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "penalty",
    "learning_rate",
    "seconds",
    "diverged",
]

#: What each metric column measures (for figures, tables and the docs).
METRIC_COLUMNS = {
    "loss": "training loss as fit reports it (running mean over the epoch's batches)",
    "accuracy": "training accuracy as fit reports it (running mean over the epoch's batches)",
    "train_loss": "loss on the whole training set after the epoch",
    "train_accuracy": "accuracy on the whole training set after the epoch",
    "val_loss": "loss on the validation split after the epoch (what callbacks monitor)",
    "val_accuracy": "accuracy on the validation split after the epoch",
    "test_loss": "loss on the test split after the epoch",
    "test_accuracy": "accuracy on the test split after the epoch",
    "penalty": "the regularisation term of the weights after the epoch (0 without it), included in every loss",
}

@dataclass
class EpochResult:
    """What an engine hands back after an epoch (or the evaluation before training).

    ``loss`` and ``correct`` are per-example arrays ``[S, rows]`` over the
    training, validation and test examples; ``loss_total`` and
    ``correct_total`` (``[S]``) sum, over the epoch's batches, each batch's
    mean loss times its size and its correct predictions, as ``fit``'s
    metrics accumulate them; ``examples`` is the number of examples those
    batches held (0 before training) and ``updates`` the updates made;
    ``penalty`` (``[S]``) is the regularisation term of the weights the
    per-example losses were measured with.
    """

    loss: Any
    correct: Any
    loss_total: Any = None
    correct_total: Any = None
    examples: int = 0
    updates: int = 0
    penalty: Any = None


class Recorder:
    """Collects per-epoch metrics of S runs and marks divergence."""

    def __init__(self, config: RunConfig, seeds: list[int]):
        self.config = config
        self.seeds = seeds
        self.rows: list[dict[str, np.ndarray]] = []
        self.running: list[np.ndarray] = []
        self.diverged = np.zeros(len(seeds), dtype=bool)
        self.updates = 0

    def add(self, epoch: int, metrics: dict[str, np.ndarray], learning_rate, seconds: float, updates: int,
            running: np.ndarray | None = None) -> None:
        """One epoch of every run; ``running`` (``[S]`` booleans) marks the runs still training (default: all).

        Runs stopped earlier (``EarlyStopping`` in a stack) get no row; the
        epoch's time is shared among the runs that do.
        """
        count = len(self.seeds)
        running = np.ones(count, dtype=bool) if running is None else np.asarray(running, dtype=bool)
        finite = np.ones(count, dtype=bool)
        for name in ("train_loss", "val_loss", "test_loss") + (("loss",) if epoch > 0 else ()):
            finite &= np.isfinite(metrics[name])
        self.diverged |= ~finite & running
        self.updates += updates
        row = {name: np.where(self.diverged, np.nan, value) for name, value in metrics.items()}
        row["epoch"] = np.full(count, epoch)
        row["updates"] = np.full(count, self.updates)
        row["learning_rate"] = np.broadcast_to(np.asarray(learning_rate, dtype=float), count).copy()
        row["seconds"] = np.full(count, seconds / max(int(running.sum()), 1))
        row["diverged"] = self.diverged.copy()
        self.rows.append(row)
        self.running.append(running.copy())

    def frame(self) -> pd.DataFrame:
        # [S, epochs] per column, keeping each run's recorded epochs, run after run
        kept = np.stack(self.running, axis=1)
        columns = {name: np.stack([row[name] for row in self.rows], axis=1)[kept] for name in self.rows[0]}
        frame = pd.DataFrame(columns)
        lengths = kept.sum(axis=1)
        frame.insert(0, "seed", np.repeat(self.seeds, lengths))
        frame.insert(0, "slot", np.repeat(np.arange(len(self.seeds)), lengths))
        frame["epoch"] = frame["epoch"].astype(int)
        frame["updates"] = frame["updates"].astype(int)
        frame["diverged"] = frame["diverged"].astype(bool)
        return frame[["slot", *RECORD_COLUMNS]]
