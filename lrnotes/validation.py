"""Checks of arguments, shared by every module: a clear error that names the parameter.

Every public function of the package checks its arguments with these, so a
bad value fails at once with a ``TypeError`` (wrong kind of value) or a
``ValueError`` (right kind, wrong value) whose message names the parameter
and says what it accepts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["columns", "integer", "number", "one_of", "seeds"]


def _kind_of_number(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low == 0 and high is None:
        return "a positive number" if low_open else "a non-negative number"
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    return f"a number in {left}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{right}"


def number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = True,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float, finite (unless ``allow_inf``) and inside the interval given.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        What was passed.
    low, high : float, optional
        Bounds of the accepted interval (``None``: unbounded).
    low_open, high_open : bool, default True
        Whether each bound itself is excluded.
    allow_inf : bool, default False
        Accept ``inf`` (when no bound excludes it).

    Examples
    --------
    >>> number("rate", 0.5, low=0)
    0.5
    >>> number("rate", -1, low=0)
    Traceback (most recent call last):
    ...
    ValueError: rate must be a positive number, got -1.0
    >>> number("fraction", 1.0, low=0, high=1)
    Traceback (most recent call last):
    ...
    ValueError: fraction must be a number in (0, 1), got 1.0
    >>> number("rate", "0.1")
    Traceback (most recent call last):
    ...
    TypeError: rate must be a number, got str '0.1'
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {_kind_of_number(low, high, low_open, high_open)}, got {value!r}")
    return value


def integer(name: str, value: Any, *, minimum: int = 1, allow_none: bool = False) -> int | None:
    """``value`` as an int of at least ``minimum`` (``None`` passes when ``allow_none``).

    Examples
    --------
    >>> integer("epochs", 3)
    3
    >>> integer("epochs", 0)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a positive integer, got 0
    >>> integer("epochs", 2.5)
    Traceback (most recent call last):
    ...
    TypeError: epochs must be a positive integer, got float 2.5
    >>> integer("levels", 1, minimum=2)
    Traceback (most recent call last):
    ...
    ValueError: levels must be an integer of at least 2, got 1
    """
    if value is None and allow_none:
        return None
    kind = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
    if allow_none:
        kind += " or None"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def seeds(value: Any) -> list[int]:
    """A non-empty list of distinct non-negative integers.

    Examples
    --------
    >>> seeds((0, 1))
    [0, 1]
    >>> seeds([1, 1])
    Traceback (most recent call last):
    ...
    ValueError: seeds must be distinct, got [1, 1]
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"seeds must be a non-empty list of integers, got {value!r}")
    for seed in value:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise TypeError(f"seeds must be non-negative integers, got {seed!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"seeds must be distinct, got {list(value)}")
    return [int(seed) for seed in value]


def one_of(name: str, value: Any, accepted: Iterable[str]) -> str:
    """``value`` if it is one of ``accepted``; else a ``ValueError`` listing them.

    Examples
    --------
    >>> one_of("rule", "steepest", ("steepest", "minimum"))
    'steepest'
    >>> one_of("rule", "best", ("steepest", "minimum"))
    Traceback (most recent call last):
    ...
    ValueError: unknown rule 'best'; expected one of: steepest, minimum
    """
    accepted = list(accepted)
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; expected one of: {', '.join(accepted)}")
    return value


def columns(records: Any, names: Iterable[str]) -> None:
    """Check that ``records`` is a DataFrame with every column of ``names``.

    Examples
    --------
    >>> import pandas as pd
    >>> columns(pd.DataFrame({"seed": [0]}), ["seed", "epoch"])
    Traceback (most recent call last):
    ...
    ValueError: records lack column(s) ['epoch']; they have ['seed']
    """
    import pandas as pd

    if not isinstance(records, pd.DataFrame):
        raise TypeError(f"records must be a pandas DataFrame, got {type(records).__name__}")
    missing = [name for name in names if name not in records.columns]
    if missing:
        raise ValueError(f"records lack column(s) {missing}; they have {list(records.columns)}")
