"""The margins of the claims tests (tests/claims.py) are stricter than the pages' intervals."""

from __future__ import annotations

import lrnotes as ln
from claims import at_least_as_high, at_most_as_high, clearly_higher, clearly_lower, no_clear_difference

A_BIT_HIGHER = ([0.812, 0.806, 0.809, 0.7995, 0.811], [0.805, 0.803, 0.807, 0.801, 0.806])


def test_a_difference_the_page_would_call_real_but_barely_is_not_a_clear_claim():
    a, b = A_BIT_HIGHER
    assert ln.difference(a, b).real  # the page's 95 % interval excludes zero ...
    assert not clearly_higher(a, b)  # ... but one seed's worth of noise could flip it
    assert at_least_as_high(a, b)  # the robust sentence: at least as high


def test_a_large_consistent_difference_is_clear_both_ways():
    a, b = [0.84, 0.83, 0.85, 0.84, 0.82], [0.80, 0.81, 0.80, 0.79, 0.80]
    assert clearly_higher(a, b) and clearly_lower(b, a)
    assert not no_clear_difference(a, b) and not at_most_as_high(a, b)


def test_no_clear_difference_needs_zero_well_inside():
    a, b = [0.80, 0.82, 0.79, 0.81, 0.80], [0.81, 0.80, 0.80, 0.80, 0.81]
    assert no_clear_difference(a, b) and at_least_as_high(a, b) and at_most_as_high(a, b)
    a, b = A_BIT_HIGHER
    assert not ln.difference(a, b, confidence=0.999).real  # contains zero at a loose level ...
    assert not no_clear_difference(a, b)  # ... but not well inside: not "no clear difference"
