"""Which runs may train side by side, and which stack they join.

Every optimizer of ``keras.optimizers`` that trains a model on its own is
accepted (:data:`lrnotes.optimizers.OPTIMIZERS`) and checked against
``model.fit`` update by update (``tests/test_fit_equivalence.py``). Those
whose update of a weight reads only that weight's gradient and state
(:data:`ELEMENTWISE_OPTIMIZERS`) stack; ``Lamb``, ``Adafactor`` and ``Muon``
couple the elements of a variable and train one seed at a time, as do runs
with ``clipnorm`` or ``global_clipnorm`` (:func:`stack_refusal` says why).
``gradient_accumulation_steps`` works as under ``fit`` (``updates`` then
counts the optimizer's calls, one per batch, Keras' ``_iterations``; the
weights change on every k-th, ``optimizer.iterations`` counts those, and
``learning_rate`` is the rate of the last real update). Refused with a clear error: ``use_ema=True`` (Keras evaluates the raw
weights during ``fit`` and swaps in their average only at its end) and the
wrappers ``LossScaleOptimizer``, ``MultiOptimizer`` and ``OptimizerMap``.
``ScheduleFreeAdamW`` keeps its interpolated point ``y`` in the model's
variables, and Keras evaluates that point, during and after ``fit``; the
engine builds every optimizer on the initial weights before training, which
``ScheduleFreeAdamW`` needs (under ``fit`` on the TensorFlow backend, an
optimizer that ``fit`` builds itself starts its sequence ``z`` at zero).

"""

from __future__ import annotations

from typing import Any

from lrnotes.config import RunConfig
from lrnotes.optimizers import parts_of
from lrnotes.row_callbacks import callbacks_refusal

__all__ = ["COUPLING_OPTIMIZERS", "ELEMENTWISE_OPTIMIZERS", "can_stack", "optimizer_parts", "stack_key", "stack_refusal"]

#: Optimizers whose update of a weight depends only on that weight's own
#: gradient and state (read in Keras' source): runs stacked along a leading
#: axis do not interact.
ELEMENTWISE_OPTIMIZERS = ("SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "Adamax", "Nadam", "AdamW", "Ftrl",
                          "Lion", "ScheduleFreeAdamW")

#: Optimizers whose update couples the elements of a variable, and how.
COUPLING_OPTIMIZERS = {
    "Lamb": "it scales each variable's step by the ratio of the variable's norm to the step's norm",
    "Adafactor": "it factors each kernel's second moments into row and column means",
    "Muon": "it orthogonalises each 2-D kernel's momentum as a whole (Newton-Schulz iterations)",
}


def optimizer_parts(config: RunConfig) -> tuple[type, dict, Any]:
    """The optimizer's class, its settings other than the rate, and the rate.

    A configuration that names its optimizer worked them out when it was
    made: building a Keras optimizer to
    read them costs milliseconds, and a sweep asks several times per
    configuration. One that holds an optimizer instance is read afresh, since
    the instance can change.

    Examples
    --------
    >>> cls, settings, rate = optimizer_parts(RunConfig(optimizer="sgd", learning_rate=0.1, options={"momentum": 0.9}))
    >>> cls.__name__, settings["momentum"], rate
    ('SGD', 0.9, 0.1)
    """
    parts = getattr(config, "_optimizer_parts", None) or parts_of(config.make_optimizer())
    cls, settings, rate = parts
    return cls, dict(settings), rate


def stack_refusal(config: RunConfig) -> str | None:
    """Why runs of ``config`` train one seed at a time, or ``None`` when they can stack.

    Runs train side by side (rows of one stacked variable, one graph) only
    when nothing couples the rows: no callbacks other than those each row
    can call for itself
    (:func:`lrnotes.row_callbacks.callbacks_refusal`), an optimizer from
    :data:`ELEMENTWISE_OPTIMIZERS`, and no ``clipnorm``/``global_clipnorm``
    (a norm over a stacked variable would mix the runs; ``clipvalue`` clips
    each element and may stack).

    Examples
    --------
    >>> stack_refusal(RunConfig()) is None
    True
    >>> stack_refusal(RunConfig(optimizer="lamb"))
    "Lamb couples the elements of a variable: it scales each variable's step by the ratio of the variable's norm to the step's norm"
    """
    cls, settings, rate = optimizer_parts(config)
    refusal = callbacks_refusal(config.callbacks, rate)
    if refusal is not None:
        return refusal
    name = cls.__name__
    if name in COUPLING_OPTIMIZERS:
        return f"{name} couples the elements of a variable: {COUPLING_OPTIMIZERS[name]}"
    if name not in ELEMENTWISE_OPTIMIZERS:
        return f"{name} is not one of the optimizers known to update each weight from its own gradient alone"
    if settings.get("clipnorm") is not None:
        return "clipnorm rescales each variable by its norm, which over stacked runs would mix them"
    if settings.get("global_clipnorm") is not None:
        return "global_clipnorm rescales by the norm of all gradients, which over stacked runs would mix them"
    return None


def can_stack(config: RunConfig) -> bool:
    """Whether runs of ``config`` can train side by side in one graph (see :func:`stack_refusal`).

    Examples
    --------
    >>> can_stack(RunConfig()), can_stack(RunConfig(optimizer="lion"))
    (True, True)
    >>> can_stack(RunConfig(optimizer="sgd", options={"global_clipnorm": 1.0}))
    False
    """
    return stack_refusal(config) is None


def stack_key(config: RunConfig) -> str | None:
    """Configurations with the same key train side by side, even with different rates.

    ``None`` when ``config`` cannot be stacked (see :func:`can_stack`). The key
    covers everything but the learning rate and the callbacks: runs with
    different constant rates or different schedules train side by side, each
    slot with its own rate (see :class:`lrnotes.slot_rates.SlotRates`), and
    runs with callbacks side by side with other runs with callbacks, each
    row with its own (see :mod:`lrnotes.row_callbacks`).

    Examples
    --------
    >>> stack_key(RunConfig(learning_rate=0.1)) == stack_key(RunConfig(learning_rate=0.01))
    True
    >>> stack_key(RunConfig(batch_size=16)) == stack_key(RunConfig(batch_size=32))
    False
    """
    from lrnotes.fingerprints import digest

    if not can_stack(config):
        return None
    cls, settings, rate = optimizer_parts(config)
    return digest(
        {
            "data": config.data,
            "model": config.model,
            "optimizer": cls.__qualname__,
            "settings": settings,
            "batch_size": config.effective_batch_size,
            "epochs": config.epochs,
            # runs with callbacks stack with runs with callbacks: all rates then are constants they may set
            "callbacks": bool(config.callbacks),
        }
    )


