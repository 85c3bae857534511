"""Claims of the introduction, checked on its full-profile execution (the published book).

Margins (tests/claims.py): a claim about single runs must exceed a resolution, so that
a change of CPU, which moves a run's path as another seed would, cannot flip it. An accuracy on the
500 test points moves in steps of one point, 1/500; epochs get a fifth of the seeds' standard
deviation of the measure. The Bayes rule's numbers involve no training and are exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrnotes as ln
from claims import no_clear_difference
from claims import spread_resolution as epoch_resolution

pytestmark = [pytest.mark.book, pytest.mark.claims]

CHAPTER = "introduction"

#: One of the 500 test points, the smallest change of a test accuracy.
ONE_TEST_POINT = 1 / 500


def test_classes_overlap(values):
    # "The classes overlap: no boundary can separate them perfectly." Deterministic (the generating
    # distribution integrated on a grid): even the best rule misses more than 5 % of new points.
    assert values["bayes_accuracy"] < 0.95


def test_each_sample_is_a_little_kinder_than_the_population(values):
    # "all three of ours are a little kinder, the test points most": "a little" is within three
    # binomial standard errors of 500 points around the population value. Deterministic: fixed
    # points, the Bayes rule, no training.
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
    seeds, ceiling = values["intro_test_acc_seeds"], values["bayes_accuracy"]
    assert values["intro_above_population"] == sum(score > ceiling for score in seeds)
    # the count does not hinge on a run at the ceiling: every run is more than one test point off it
    assert all(abs(score - ceiling) > ONE_TEST_POINT for score in seeds), seeds
    assert values["intro_above_population"] >= 1  # the sentence is only worth writing if some do
    # "none reaches": every run more than one test point below the Bayes rule on the test points
    # (1e-9: float slack, so that exactly one point does not count as more)
    assert max(seeds) < values["bayes_test_accuracy"] - ONE_TEST_POINT - 1e-9, seeds


def test_a_rolling_mean_does_not_count_single_lucky_epochs(values):
    # "the median run first touches 0.8 at epoch A, but its 5-epoch mean reaches 0.8 only at epoch B,
    # because the early touches were single lucky epochs": B after A by more than the resolution,
    # in the medians and in every run (a run's rolling mean can never reach 0.8 before the run does)
    single, rolling = values["intro_reach_single_seeds"], values["intro_reach_rolling_seeds"]
    assert values["intro_reach_single"] == np.median(single) and values["intro_reach_rolling"] == np.median(rolling)
    margin = epoch_resolution(single, rolling)
    assert values["intro_reach_rolling"] - values["intro_reach_single"] > margin
    assert all(late - early > margin for early, late in zip(single, rolling)), (single, rolling)
    assert values["intro_reach_rolling"] <= values["intro_epochs"]


def test_longer_training_example_is_no_clear_difference(values):
    # "training the default runs from epoch 100 to 200 changes their test accuracy by ...: no clear
    # difference": zero well inside the interval (its 80 % interval contains zero)
    final, halfway = values["intro_test_acc_seeds"], values["intro_test_acc_halfway_seeds"]
    assert str(ln.difference(final, halfway)) == values["intro_longer"]
    assert no_clear_difference(final, halfway)
