"""Optimizers by name, their Keras 3 defaults, and the Keras 2 defaults they replaced."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Any

from lrnotes._runtime import keras

__all__ = [
    "KERAS2_DEFAULT_LEARNING_RATES",
    "OPTIMIZERS",
    "default_learning_rate",
    "make_optimizer",
    "optimizer_fingerprint",
]

#: Optimizer classes by the names the book uses.
OPTIMIZERS: dict[str, type] = {
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
    "adadelta": keras.optimizers.Adadelta,
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
    "adamax": keras.optimizers.Adamax,
    "nadam": keras.optimizers.Nadam,
    "adamw": keras.optimizers.AdamW,
}

#: Default learning rates of multi-backend Keras 2 (the standalone ``keras``
#: package up to 2.3.1), which the classic tutorials relied on. ``tf.keras`` in
#: TensorFlow 2.x already used the Keras 3 values for Adagrad, Adadelta, Adamax
#: and Nadam.
KERAS2_DEFAULT_LEARNING_RATES: dict[str, float] = {
    "sgd": 0.01,
    "adagrad": 0.01,
    "adadelta": 1.0,
    "rmsprop": 0.001,
    "adam": 0.001,
    "adamax": 0.002,
    "nadam": 0.002,
}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")
    return name.lower()


def default_learning_rate(name: str) -> float:
    """The default learning rate of optimizer ``name`` in the installed Keras.

    Examples
    --------
    >>> default_learning_rate("sgd"), default_learning_rate("adadelta")
    (0.01, 0.001)
    """
    cls = OPTIMIZERS[_check_name(name)]
    return float(inspect.signature(cls.__init__).parameters["learning_rate"].default)


def _check_learning_rate(learning_rate: Any) -> Any:
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(
            "learning_rate must be a positive number or a keras.optimizers.schedules.LearningRateSchedule, "
            f"got {type(learning_rate).__name__}"
        )
    if not learning_rate > 0 or learning_rate == float("inf"):
        raise ValueError(f"learning_rate must be a positive, finite number, got {learning_rate!r}")
    return float(learning_rate)


def make_optimizer(
    optimizer: str | keras.optimizers.Optimizer,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule | None = None,
    options: Mapping[str, Any] | None = None,
) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer.

    Parameters
    ----------
    optimizer : str or keras.optimizers.Optimizer
        A name from :data:`OPTIMIZERS`, or an optimizer to copy (through its
        config, so the copy has fresh state).
    learning_rate : float or LearningRateSchedule, optional
        With a name: the rate (``None`` keeps the Keras default). Must be
        ``None`` when ``optimizer`` is an instance, whose rate is used.
    options : mapping, optional
        Further constructor arguments for a name, such as ``momentum``.

    Raises
    ------
    ValueError
        For an unknown name, a non-positive rate, or settings given twice.
    TypeError
        For arguments of the wrong type.

    Examples
    --------
    >>> optimizer = make_optimizer("sgd", 0.01, {"momentum": 0.9})
    >>> type(optimizer).__name__, float(optimizer.momentum)
    ('SGD', 0.9)
    >>> make_optimizer("sgd", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be a positive, finite number, got -1.0
    """
    options = dict(options or {})
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None or options:
            raise ValueError(
                "give the learning rate and options inside the optimizer instance, "
                "or give the optimizer by name, not both"
            )
        config = optimizer.get_config()
        fresh = type(optimizer).from_config(config)
        if not isinstance(getattr(fresh, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule):
            _check_learning_rate(float(keras.ops.convert_to_numpy(fresh.learning_rate)))
        return fresh
    cls = OPTIMIZERS[_check_name(optimizer)]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "name")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for optimizer {optimizer!r}; accepted: {', '.join(accepted)}")
    if "learning_rate" in options:
        raise ValueError("give the learning rate as learning_rate, not inside options")
    if learning_rate is not None:
        options["learning_rate"] = _check_learning_rate(learning_rate)
    return cls(**options)


def optimizer_fingerprint(optimizer: keras.optimizers.Optimizer) -> dict:
    """A JSON-ready description of an optimizer's settings (name excluded)."""
    config = dict(keras.optimizers.serialize(optimizer)["config"])
    config.pop("name", None)
    return {"class": type(optimizer).__name__, "config": config}
