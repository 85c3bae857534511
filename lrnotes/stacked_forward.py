"""The networks of a stack, every row at once: what each layer of an ``MLP`` or a ``CNN`` computes.

A stack (:mod:`lrnotes.engine_stacked`) holds the weights of ``S`` runs as
rows; each run sees its own batch. Every layer is written so that a row's
arithmetic does not depend on how many rows there are:

- an ``MLP`` (:func:`forward`) is a few small matrix products, where the
  cost of launching an operation outweighs its arithmetic: each ``Dense``
  layer is one batched matrix product over all rows (at least two, see
  :data:`lrnotes.engine_stacked.MIN_ROWS`) and :func:`add_bias`;
- a ``CNN`` (:func:`forward_per_row`) is dominated by its convolutions:
  each row runs its own ``Conv2D`` (``tf.nn.conv2d``, the operation Keras'
  layer runs), ``MaxPooling2D``, ``Flatten`` and ``Dense`` operations, on
  tensors of the same shapes whatever the number of rows, so its arithmetic
  is that of the same row alone by construction; the rows share the loss,
  the gradient and the optimizer's update.
"""

from __future__ import annotations

from lrnotes._runtime import keras, tf
from lrnotes.models import CNN, MLP

__all__ = ["add_bias", "forward", "forward_per_row", "forward_shared"]


@tf.custom_gradient
def add_bias(x, bias):
    """``x + bias`` per slice (``bias`` of shape ``[S, 1, units]``), with a bias
    gradient whose summation order does not depend on the number of slices
    (``tf.reduce_sum`` over the middle axis does, by a rounding error)."""

    def gradient(upstream):
        return upstream, tf.reduce_sum(tf.transpose(upstream, [0, 2, 1]), axis=-1)[:, None, :]

    return x + bias, gradient


def forward(spec: MLP, weight, x):
    """The logits of every row of an ``MLP`` (the output activation is left to the loss).

    ``weight(index, bias=...)`` gives weight array ``index`` (in the order
    of the Keras model's ``get_weights()``) of every row: kernels as
    ``[S, *shape]``, biases as ``[S, 1, units]``; ``x`` is ``[S, B, features]``.

    Examples
    --------
    >>> import numpy as np
    >>> shapes = [(2, 3, 2), (2, 1, 2), (2, 2, 1), (2, 1, 1)]  # two rows: Dense(2) on 3 features, then Dense(1)
    >>> weights = [tf.ones(shape) if index % 2 == 0 else tf.zeros(shape) for index, shape in enumerate(shapes)]
    >>> logits = forward(MLP(hidden=(2,)), lambda index, bias: weights[index], tf.ones([2, 4, 3]))
    >>> logits.shape.as_list(), float(logits[0, 0, 0])
    ([2, 4, 1], 6.0)
    """
    activations = [keras.activations.get(spec.activation)] * len(spec.hidden) + [None]
    for layer, activation in enumerate(activations):
        x = add_bias(tf.matmul(x, weight(2 * layer, bias=False)), weight(2 * layer + 1, bias=True))
        if activation is not None:
            x = activation(x)
    return x


def forward_per_row(spec: CNN, row_weights, x):
    """The logits of every row of a ``CNN``, each row through its own operations.

    ``row_weights(row)`` gives that row's weight arrays in the order and
    shapes of the Keras model's ``get_weights()``; ``x`` is
    ``[S, B, height, width, channels]``. The layers are those of
    :meth:`lrnotes.models.CNN.build`: ``Conv2D(padding="same")`` with ReLU,
    ``MaxPooling2D(2)`` between convolutions, ``Flatten``, ``Dense`` with
    ReLU, then the output layer's logits.
    """
    return tf.stack([_row(spec, row_weights(row), images) for row, images in enumerate(tf.unstack(x, axis=0))])


def forward_shared(spec: MLP | CNN, row_weights, rows: int, x):
    """The logits of every row on the same examples ``x`` (``[N, ...]``), each row through its own operations.

    For evaluation: no row needs a copy of the examples, and each row's
    ``Dense`` layers are plain matrix products (as Keras' ``Dense`` runs
    them), which on this many examples are faster than one batched product
    over every row. Each row's operations have the same shapes whatever
    the number of rows, so its arithmetic is that of the same row alone.

    Examples
    --------
    >>> shapes = [(3, 2), (2,), (2, 1), (1,)]  # Dense(2) on 3 features, then Dense(1)
    >>> weights = [tf.ones(shape) if index % 2 == 0 else tf.zeros(shape) for index, shape in enumerate(shapes)]
    >>> logits = forward_shared(MLP(hidden=(2,)), lambda row: weights, 2, tf.ones([4, 3]))
    >>> logits.shape.as_list(), float(logits[1, 0, 0])
    ([2, 4, 1], 6.0)
    """
    return tf.stack([_row(spec, row_weights(row), x) for row in range(rows)])


def _row(spec: MLP | CNN, weights, h):
    """One row's logits on the examples ``h``, from its weight arrays (as ``get_weights()`` orders them)."""
    index = 0
    if isinstance(spec, CNN):
        for position in range(len(spec.filters)):
            h = tf.nn.conv2d(h, weights[2 * position], strides=1, padding="SAME")
            h = tf.nn.relu(tf.nn.bias_add(h, weights[2 * position + 1]))
            if position < len(spec.filters) - 1:
                h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")
        h = tf.reshape(h, [tf.shape(h)[0], -1])  # Flatten: height, width, channels
        index = 2 * len(spec.filters)
        h = tf.nn.relu(tf.matmul(h, weights[index]) + weights[index + 1])
        return tf.matmul(h, weights[index + 2]) + weights[index + 3]
    activation = keras.activations.get(spec.activation)
    for layer in range(len(spec.hidden)):
        h = activation(tf.matmul(h, weights[2 * layer]) + weights[2 * layer + 1])
    layer = len(spec.hidden)
    return tf.matmul(h, weights[2 * layer]) + weights[2 * layer + 1]
