"""Optimizers by name, their Keras 3 defaults, and the Keras 2 defaults they replaced."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from lrnotes import validation
from lrnotes._runtime import keras

__all__ = [
    "EMA_REFUSAL",
    "KERAS2_DEFAULT_LEARNING_RATES",
    "OPTIMIZERS",
    "REFUSED_OPTIMIZERS",
    "check_supported",
    "rate_setting",
    "default_learning_rate",
    "make_optimizer",
    "parts_of",
]

#: Optimizer classes by the names the book uses: every optimizer of
#: ``keras.optimizers`` that trains a model on its own.
OPTIMIZERS: dict[str, type] = {
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
    "adadelta": keras.optimizers.Adadelta,
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
    "adamax": keras.optimizers.Adamax,
    "nadam": keras.optimizers.Nadam,
    "adamw": keras.optimizers.AdamW,
    "ftrl": keras.optimizers.Ftrl,
    "lion": keras.optimizers.Lion,
    "lamb": keras.optimizers.Lamb,
    "adafactor": keras.optimizers.Adafactor,
    "muon": keras.optimizers.Muon,
    "schedule_free_adamw": keras.optimizers.ScheduleFreeAdamW,
}

#: Optimizers of ``keras.optimizers`` that the package refuses, and why.
REFUSED_OPTIMIZERS: dict[str, str] = {
    "LossScaleOptimizer": (
        "it wraps another optimizer for mixed-precision training, which the book does not use; "
        "give the inner optimizer instead"
    ),
    "MultiOptimizer": "it assigns optimizers to groups of layers; train such a model with model.fit",
    "OptimizerMap": "it assigns optimizers to groups of layers; train such a model with model.fit",
}

#: Why ``use_ema=True`` is refused (see :func:`check_supported`).
EMA_REFUSAL = (
    "use_ema=True is not supported: under model.fit Keras evaluates each epoch with the raw weights and swaps in "
    "their moving average only when fit ends (optimizer.finalize_variable_values), so no per-epoch record can "
    "describe the model fit returns; train it with model.fit, or leave use_ema off"
)

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
    return validation.number("learning_rate", learning_rate, low=0)


def rate_setting(optimizer: keras.optimizers.Optimizer) -> Any:
    """The learning rate an optimizer was given: its ``LearningRateSchedule``, or the rate as a float.

    Keras 3 has no public accessor for the schedule object itself
    (``optimizer.learning_rate`` evaluates it at the current step), so this is
    the one place in the package that reads Keras' ``_learning_rate``.

    Examples
    --------
    >>> import keras
    >>> rate_setting(keras.optimizers.SGD(learning_rate=0.1))
    0.1
    >>> schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> rate_setting(keras.optimizers.SGD(learning_rate=schedule)) is schedule
    True
    """
    rate = optimizer._learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return rate
    return float(str(np.float32(keras.ops.convert_to_numpy(rate))))


def parts_of(optimizer: keras.optimizers.Optimizer) -> tuple[type, dict, Any]:
    """An optimizer's class, its settings other than the rate and the name, and its rate (:func:`rate_setting`).

    Examples
    --------
    >>> import keras
    >>> cls, settings, rate = parts_of(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    >>> cls.__name__, settings["momentum"], "name" in settings, rate
    ('SGD', 0.9, False, 0.1)
    """
    settings = dict(optimizer.get_config())
    settings.pop("name", None)
    settings.pop("learning_rate", None)
    return type(optimizer), settings, rate_setting(optimizer)


def check_supported(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """``optimizer`` if the package trains with it as ``fit`` would; else a clear ``ValueError``.

    Refused: the wrappers of :data:`REFUSED_OPTIMIZERS`, and any optimizer
    with ``use_ema=True`` (:data:`EMA_REFUSAL`). ``ScheduleFreeAdamW`` is
    accepted: Keras keeps its interpolated point ``y`` in the model's
    variables and evaluates that point, during ``fit`` and after it (it has
    no ``finalize_variable_values`` step), and so does the package.

    Examples
    --------
    >>> import keras
    >>> check_supported(keras.optimizers.Adam(use_ema=True))
    Traceback (most recent call last):
    ...
    ValueError: use_ema=True is not supported: ...
    """
    name = type(optimizer).__name__
    if name in REFUSED_OPTIMIZERS:
        raise ValueError(f"keras.optimizers.{name} is not supported: {REFUSED_OPTIMIZERS[name]}")
    if getattr(optimizer, "use_ema", False):
        raise ValueError(EMA_REFUSAL)
    return optimizer


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
    ValueError: learning_rate must be a positive number, got -1.0
    """
    options = dict(options or {})
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None or options:
            raise ValueError(
                "give the learning rate and options inside the optimizer instance, "
                "or give the optimizer by name, not both"
            )
        check_supported(optimizer)
        config = optimizer.get_config()
        fresh = type(optimizer).from_config(config)
        if not isinstance(rate_setting(fresh), keras.optimizers.schedules.LearningRateSchedule):
            _check_learning_rate(rate_setting(fresh))
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
    return check_supported(cls(**options))
