"""Plot helpers: they take an ax (or figure) and return it, and show diverged runs as such."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import lrnotes as ln  # noqa: E402


@pytest.fixture
def records():
    rows = []
    for lr in (0.1, 1.0):
        for seed in (0, 1, 2):
            for epoch in range(6):
                diverged = lr == 1.0 and seed == 0 and epoch >= 3
                value = np.nan if diverged else 0.3 + 0.1 * epoch + 0.01 * seed
                rows.append({"lr": lr, "seed": seed, "epoch": epoch, "updates": 16 * epoch,
                             "train_accuracy": value, "test_accuracy": value,
                             "train_loss": 1 - 0.1 * epoch if not diverged else np.nan,
                             "test_loss": 1.0, "learning_rate": lr, "diverged": diverged})
    yield pd.DataFrame(rows)
    plt.close("all")


def test_plot_runs_draws_median_band_runs_and_divergence(records):
    fig, ax = plt.subplots()
    returned = ln.plot_runs(records, "test_accuracy", ax=ax, by="lr", reference=0.82)
    assert returned is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert "lr = 1 (1/3 diverged)" in labels and "lr = 0.1" in labels and "Bayes-optimal accuracy" in labels
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_xdata()[0] == 2  # last finite epoch of the diverged run
    assert len(ax.collections) == 2  # one band per rate
    median = [line for line in ax.get_lines() if line.get_label() == "lr = 0.1"][0]
    np.testing.assert_allclose(median.get_ydata(), 0.31 + 0.1 * np.arange(6))


def test_plot_grid_has_one_panel_per_value(records):
    fig = ln.plot_grid(records, "lr", reference=0.8, ylim=(0, 1))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2 and visible[0].get_title() == "lr = 0.1"


def test_plot_final_marks_diverged_runs(records):
    ax = ln.plot_final(records, "lr", reference=0.8)
    assert ax.get_xscale() == "log"
    assert any(collection.get_label() == "diverged run" for collection in ax.collections)


def test_plot_learning_rates_and_dataset():
    blobs = ln.load_blobs()
    assert len(ln.plot_dataset(blobs).collections) == 3
    with pytest.raises(ValueError, match="two features"):
        ln.plot_dataset(ln.load_digits())
    frame = pd.DataFrame({"seed": [0, 0], "epoch": [0, 1], "learning_rate": [0.1, 0.01]})
    assert ln.plot_learning_rates(frame).get_yscale() == "log"


def test_bad_plot_input(records):
    with pytest.raises(ValueError, match="band must be one of"):
        ln.plot_runs(records, band="quartiles")
    with pytest.raises(ValueError, match="lack column"):
        ln.plot_runs(records, "nonsense")
    with pytest.raises(TypeError, match="matplotlib Axes"):
        ln.plot_runs(records, ax="left")
    with pytest.raises(TypeError, match="pandas DataFrame"):
        ln.plot_final([1, 2], "lr")
