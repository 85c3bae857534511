"""Claims of the introduction, checked on its quick-profile execution."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.claims]


def test_bayes_ceiling(glued):
    values = glued("introduction")
    assert 0.80 < values["bayes_accuracy"] < 0.85
    assert abs(values["bayes_test_accuracy"] - values["bayes_accuracy"]) < 0.05


def test_seeds_spread_and_stay_below_the_ceiling(glued):
    values = glued("introduction")
    assert values["intro_spread"] > 0  # seeds differ: one run is not the whole story
    assert values["intro_best"] <= values["bayes_test_accuracy"] + 0.03
    assert values["intro_worst"] > 1 / 3  # every seed learns something
