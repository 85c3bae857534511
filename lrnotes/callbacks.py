"""Keras callbacks of the book, and a helper to read an optimizer's current rate."""

from __future__ import annotations

import numpy as np

from lrnotes._runtime import keras

__all__ = ["LearningRateMonitor", "current_learning_rate"]


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the optimizer will use for its next update.

    Works whether the rate is a plain float (a variable that callbacks such as
    ``ReduceLROnPlateau`` assign to) or a ``LearningRateSchedule``, which Keras 3
    evaluates at ``optimizer.iterations``. (In Keras 2, ``optimizer.lr``
    returned the schedule object itself, which is why older monitors broke.)

    Examples
    --------
    >>> import keras
    >>> current_learning_rate(keras.optimizers.SGD(learning_rate=0.1))
    0.1
    >>> schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1.0)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule)
    >>> optimizer.iterations.assign(4)
    <...>
    >>> round(current_learning_rate(optimizer), 6)
    0.02
    """
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a Keras optimizer, got {type(optimizer).__name__}")
    rate = optimizer.learning_rate  # a Keras variable, or a tensor from the schedule
    value = np.float32(rate.numpy() if hasattr(rate, "numpy") else keras.ops.convert_to_numpy(rate))
    # The rate is a float32 variable: report the shortest decimal that is that
    # float32 (0.001, not 0.0010000000474974513).
    return float(str(value))


class LearningRateMonitor(keras.callbacks.Callback):
    """Record the learning rate at the end of every epoch.

    The rate is read with :func:`current_learning_rate`, after the callbacks
    listed before this one have run (put it last to see the effect of
    ``ReduceLROnPlateau``). It is stored in :attr:`rates` and added to the
    epoch's logs as ``"learning_rate"``, so it lands in ``History`` too.

    Attributes
    ----------
    rates : list of float
        One entry per finished epoch.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> keras.utils.set_random_seed(0)  # op determinism is on: random ops need a seed
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    >>> model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    >>> monitor = LearningRateMonitor()
    >>> _ = model.fit(np.zeros((4, 1)), np.zeros((4, 1)), batch_size=2, epochs=3, verbose=0, callbacks=[monitor])
    >>> [round(rate, 6) for rate in monitor.rates]
    [0.025, 0.00625, 0.001563]
    """

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_begin(self, logs=None) -> None:
        self.rates = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        rate = current_learning_rate(self.model.optimizer)
        self.rates.append(rate)
        if logs is not None:
            logs["learning_rate"] = rate
