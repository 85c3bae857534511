"""Claims of the introduction, checked on its full-profile execution (the published book)."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import nbformat
import pytest

import lrnotes as ln

pytestmark = [pytest.mark.book, pytest.mark.claims]

CHAPTER = "introduction"


def test_classes_overlap(values):
    # "The classes overlap: no boundary can separate them perfectly."
    assert values["bayes_accuracy"] < 0.95


def test_each_sample_is_a_little_kinder_than_the_population(values):
    # "all three of ours are a little kinder, the test points most": "a little" is within three
    # binomial standard errors of 500 points around the population value.
    population = values["bayes_accuracy"]
    error = math.sqrt(population * (1 - population) / 500)
    splits = [values["bayes_train_accuracy"], values["bayes_val_accuracy"], values["bayes_test_accuracy"]]
    for score in splits:
        assert population < score < population + 3 * error
    assert values["bayes_test_accuracy"] == max(splits)


def test_seed_range_is_the_range_of_the_runs(values):
    seeds = values["intro_test_acc_seeds"]
    assert len(seeds) == values["intro_runs"]
    assert values["intro_worst"] == min(seeds) and values["intro_best"] == max(seeds)
    assert values["intro_spread"] == pytest.approx(max(seeds) - min(seeds))


def test_runs_above_the_ceiling_stay_below_the_bayes_rule_on_the_same_points(values):
    # "N of the runs end above the ceiling, and none reaches the Bayes rule on the same points."
    seeds = values["intro_test_acc_seeds"]
    assert values["intro_above_population"] == sum(score > values["bayes_accuracy"] for score in seeds)
    assert values["intro_above_population"] >= 1  # the sentence is only worth writing if some do
    assert max(seeds) < values["bayes_test_accuracy"]


def test_a_rolling_mean_does_not_count_single_lucky_epochs(values):
    # "the median run first touches 0.8 at epoch A, but its 5-epoch mean reaches 0.8 only at epoch B"
    assert values["intro_reach_single"] < values["intro_reach_rolling"] <= values["intro_epochs"]


def test_longer_training_example_is_no_clear_difference(values):
    # "training the default runs from epoch 100 to 200 changes their test accuracy by ...: no clear difference"
    result = ln.difference(values["intro_test_acc_seeds"], values["intro_test_acc_halfway_seeds"])
    assert str(result) == values["intro_longer"]
    assert not result.real


class _Tables(HTMLParser):
    """The body cells of every HTML table, row by row (header cells of the body included)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._section = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"header": [], "rows": []})
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self.tables:
            target = self.tables[-1]["header"] if self._section == "thead" else self.tables[-1]["rows"]
            target.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = "".join(self._cell).strip()
            rows = self.tables[-1]["header"] if self._section == "thead" else self.tables[-1]["rows"]
            if rows:
                rows[-1].append(text)
            self._cell = None


def html_tables(path) -> list[dict]:
    """Every table that an executed notebook renders (its ``text/html`` outputs)."""
    parser = _Tables()
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            if "<table" in html:
                parser.feed(html if isinstance(html, str) else "".join(html))
    return parser.tables


@pytest.mark.parametrize("chapter", ["introduction", "learning_rate"])
def test_tables_render_without_nan(executed, chapter):
    """Every cell of every table has a value: no NaN, no empty cell, "—" only for all-diverged rows."""
    tables = html_tables(executed(chapter))
    assert tables, f"{chapter} renders no table"
    for table in tables:
        header = next((row for row in table["header"] if "diverged" in row), None)
        for row in table["rows"]:
            assert row and all(cell and cell.lower() not in ("nan", "none", "()") for cell in row), row
            assert not any("nan" in cell.lower().split() for cell in row), row
            if any(cell == "—" for cell in row):
                assert header is not None, row
                count = row[header.index("diverged")]
                done, total = count.split("/")
                assert done == total, row
