"""Small helpers for the chapter notebooks: figure style and glued numbers."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["record", "setup_notebook"]


def setup_notebook() -> None:
    """Set TensorFlow up as the book needs it, and apply the book's figure style.

    Call it once, in the Setup section, before any TensorFlow code of your
    own: it imports TensorFlow quietly, pins it to one thread and turns op
    determinism on (:mod:`lrnotes._runtime`), which must happen before
    TensorFlow runs its first operation.

    Examples
    --------
    >>> setup_notebook()
    >>> from tensorflow.python.framework import config
    >>> config.is_op_determinism_enabled()
    True
    """
    import lrnotes._runtime  # noqa: F401  (configures TensorFlow)
    from lrnotes.plots import use_book_style

    use_book_style()


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_key(key): _plain(item) for key, item in value.items()}
    return value


def _key(key: Any) -> Any:
    """A dictionary key that reads back from its repr: plain numbers and strings stay, the rest become text."""
    key = _plain(key)
    return key if isinstance(key, (str, int, float, bool)) else str(key)


def record(**values: Any) -> None:
    """Glue numbers for the prose (``{glue:text}`name:.3f```) and the tests.

    NumPy scalars become plain Python numbers first, so that their text is a
    number (``0.5``, not ``np.float64(0.5)``). Outside a notebook kernel the
    values are checked and dropped.

    Examples
    --------
    >>> _plain(np.float64(0.1)), _plain(np.int64(3)), _plain([np.float32(0.5)])
    (0.1, 3, [0.5])
    >>> _plain({"adam": [np.float32(0.5), None], np.float64(0.1): {"x": np.int64(2)}})
    {'adam': [0.5, None], 0.1: {'x': 2}}
    """
    plain = {name: _plain(value) for name, value in values.items()}
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    if shell is not None and hasattr(shell, "kernel"):
        from myst_nb import glue

        for name, value in plain.items():
            glue(name, value, display=False)
