"""The engine's batches, replayed for ``model.fit`` (used by the equivalence tests)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import lrnotes as ln


def engine_batches(config: ln.RunConfig, seed: int) -> tf.data.Dataset:
    """The batches the engine trains on, in its order: one shuffle per epoch, as ``(x, y)`` pairs."""
    dataset = config.dataset
    n, batch = dataset.x_train.shape[0], config.effective_batch_size
    generator = np.random.default_rng(seed)
    orders = [generator.permutation(n) for _ in range(config.epochs)]
    batches = [order[start : start + batch] for order in orders for start in range(0, n, batch)]
    x, y = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
    return tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=tf.TensorSpec([None], tf.int64)
    ).map(lambda index: (tf.gather(x, index), tf.gather(y, index)))
