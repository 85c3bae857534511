"""How the claims tests check a sentence of the book, with margins from the seed spread.

The pages print each paired difference with its 95 % bootstrap interval
(:func:`lrnotes.difference`) and call a difference real only when that
interval excludes zero. The published numbers must stay true on any reader's
machine, where float32 rounding differs in the last bits (TensorFlow picks
some CPU kernels by vector width) and a run may follow a slightly different
path, much as another seed would. So a claims test checks each sentence with
a margin derived from the seeds' own spread, not from one run's output: it
asks for more than the page shows.

- "A is higher than B" (the page: the 95 % interval lies above zero): the
  99 % interval must lie above zero, so the claim does not hinge on one seed
  or on the last bits of a run.
- "no clear difference" (the page: the 95 % interval contains zero): the
  80 % interval must contain zero, so the claim does not sit at the edge of
  becoming a difference.
- "A is at least as high as B" (the page: the 95 % interval reaches above
  zero): the 80 % interval must reach above zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import lrnotes as ln

#: Coverage of the intervals the pages print.
PRINTED = 0.95
#: Coverage a claimed difference must clear.
CLEAR = 0.99
#: Coverage that must still contain zero for "no clear difference".
UNCLEAR = 0.80


def clearly_higher(a: Sequence[float], b: Sequence[float], *, paired: bool = True) -> bool:
    """Whether ``a`` is higher than ``b`` by more than the seeds' spread allows by chance (99 %)."""
    return ln.difference(a, b, paired=paired, confidence=CLEAR).low > 0


def clearly_lower(a: Sequence[float], b: Sequence[float], *, paired: bool = True) -> bool:
    """Whether ``a`` is lower than ``b`` by more than the seeds' spread allows by chance (99 %)."""
    return ln.difference(a, b, paired=paired, confidence=CLEAR).high < 0


def no_clear_difference(a: Sequence[float], b: Sequence[float], *, paired: bool = True) -> bool:
    """Whether zero lies well inside the interval of ``a - b`` (its 80 % interval contains zero)."""
    gap = ln.difference(a, b, paired=paired, confidence=UNCLEAR)
    return gap.low < 0 < gap.high


def at_least_as_high(a: Sequence[float], b: Sequence[float], *, paired: bool = True) -> bool:
    """Whether ``a`` is not lower than ``b``: the 80 % interval of ``a - b`` reaches above zero."""
    return ln.difference(a, b, paired=paired, confidence=UNCLEAR).high > 0


def at_most_as_high(a: Sequence[float], b: Sequence[float], *, paired: bool = True) -> bool:
    """Whether ``a`` is not higher than ``b``: the 80 % interval of ``a - b`` reaches below zero."""
    return ln.difference(a, b, paired=paired, confidence=UNCLEAR).low < 0


#: A per-seed gap smaller than this share of the seeds' spread counts as a tie:
#: another seed, or another processor's rounding, moves a measure by about that.
SPREAD_SHARE = 0.2


def spread_resolution(*per_seed: Sequence[float], floor: float = 0.0) -> float:
    """The resolution of an "every seed" claim: a fifth of the largest standard deviation over seeds.

    ``per_seed`` are the settings compared, one value per seed each (missing
    values are ignored); ``floor`` is a smallest resolution, such as one test
    example for an accuracy.
    """
    import numpy as np

    spreads = [float(np.nanstd(np.asarray(values, dtype=float), ddof=1)) for values in per_seed]
    return max(floor, SPREAD_SHARE * max(spreads))


def in_every_seed(a: Sequence[float], b: Sequence[float], margin: float) -> bool:
    """Whether every seed's ``a - b`` exceeds ``margin`` (a resolution, see :func:`spread_resolution`)."""
    import numpy as np

    return bool(np.all(np.asarray(a, dtype=float) - np.asarray(b, dtype=float) > margin))


def standard_error(values: Sequence[float]) -> float:
    """The standard error of the mean of ``values`` (one per seed)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return float(np.std(values, ddof=1) / np.sqrt(values.size))
