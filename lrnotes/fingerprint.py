"""Stable descriptions of configurations, for cache keys and grouping.

:func:`fingerprint` turns a configuration (numbers, strings, dataclasses,
Keras optimizers, learning-rate schedules, callbacks and plain functions) into
JSON-ready data that is the same in every process and on every machine;
:func:`digest` hashes it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import numbers
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from lrnotes._runtime import keras

__all__ = ["digest", "fingerprint"]


def _function_fingerprint(function: Any) -> dict:
    if isinstance(function, functools.partial):
        return {
            "partial": _function_fingerprint(function.func),
            "args": fingerprint(list(function.args)),
            "kwargs": fingerprint(dict(function.keywords)),
        }
    if inspect.ismethod(function):
        return {"method": function.__qualname__, "self": fingerprint(function.__self__)}
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        code = getattr(function, "__code__", None)
        source = code.co_code.hex() if code is not None else repr(function)
    closure = getattr(function, "__closure__", None) or ()
    names = getattr(getattr(function, "__code__", None), "co_freevars", ())
    return {
        "function": getattr(function, "__qualname__", repr(function)),
        "source": source,
        "defaults": fingerprint(list(getattr(function, "__defaults__", None) or ())),
        "closure": {name: fingerprint(cell.cell_contents) for name, cell in zip(names, closure)},
    }


def _attributes(obj: Any) -> dict:
    """Public settings of an object: its attributes of simple types."""
    settings = {}
    for name, value in sorted(vars(obj).items()):
        if name.startswith("_") or name in ("model", "params", "validation_data"):
            continue
        try:
            settings[name] = fingerprint(value)
        except TypeError:
            continue  # state such as tensors or open files is not a setting
    return settings


def fingerprint(obj: Any) -> Any:
    """A JSON-ready, deterministic description of ``obj``.

    Raises
    ------
    TypeError
        For objects it cannot describe.

    Examples
    --------
    >>> fingerprint({"b": 1, "a": (0.5, "x")})
    {'a': [0.5, 'x'], 'b': 1}
    >>> from lrnotes._runtime import keras
    >>> fingerprint(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))["config"]["momentum"]
    0.9
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return {"enum": type(obj).__qualname__, "value": obj.name}
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        value = float(obj)
        return value if np.isfinite(value) else repr(value)
    if isinstance(obj, np.ndarray):
        return {"array": fingerprint(obj.tolist()), "dtype": str(obj.dtype)}
    if isinstance(obj, Mapping):
        return {str(key): fingerprint(value) for key, value in sorted(obj.items(), key=lambda item: str(item[0]))}
    if isinstance(obj, (list, tuple)):
        return [fingerprint(item) for item in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((fingerprint(item) for item in obj), key=json.dumps)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            "class": type(obj).__qualname__,
            **{field.name: fingerprint(getattr(obj, field.name)) for field in dataclasses.fields(obj)},
        }
    if isinstance(obj, keras.optimizers.Optimizer):
        config = dict(keras.optimizers.serialize(obj)["config"])
        config.pop("name", None)
        return {"class": type(obj).__qualname__, "config": fingerprint(config)}
    if isinstance(obj, keras.optimizers.schedules.LearningRateSchedule):
        try:
            config = obj.get_config()
        except NotImplementedError:
            config = _attributes(obj)
        return {"class": type(obj).__qualname__, "config": fingerprint(config)}
    if isinstance(obj, keras.callbacks.Callback):
        return {"class": type(obj).__qualname__, "settings": _attributes(obj)}
    if callable(obj):
        return _function_fingerprint(obj)
    raise TypeError(f"cannot fingerprint an object of type {type(obj).__name__}")


def digest(obj: Any) -> str:
    """The sha256 of ``fingerprint(obj)`` as canonical JSON.

    Examples
    --------
    >>> digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    True
    >>> len(digest([1, 2, 3]))
    64
    """
    text = json.dumps(fingerprint(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
