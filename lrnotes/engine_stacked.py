"""Seeds side by side: dense networks without callbacks, as rows of one stacked variable.

The weights of run ``s`` are row ``s`` of one variable; each row sees its own
shuffled batches and its own learning rate (a constant or a schedule), and
one traced graph updates them all with a real Keras optimizer. This is exact
because the optimizers that may stack update each weight from its own
gradient and state (:mod:`lrnotes.stacking`) and the loss of the stack is the
sum of the per-run losses; every operation is chosen so that a row's
arithmetic does not depend on the other rows (see :data:`MIN_ROWS` and
:func:`lrnotes.engine.padded`), so a seed gives bit-for-bit the record it
gives alone.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrnotes._runtime import keras, tf
from lrnotes.config import RunConfig
from lrnotes.data import load_dataset
from lrnotes.engine import Engine, correct_predictions, last_update_step, padded
from lrnotes.models import MLP, build_model
from lrnotes.records import EpochResult
from lrnotes.stacking import optimizer_parts

__all__ = ["MIN_ROWS", "SlotRates", "StackedDense", "add_bias", "initial_weights"]

#: The fewest rows of a stack. TensorFlow's CPU kernel for batched matrix
#: products (``LaunchBatchMatMul`` in ``batch_matmul_op_impl.h``) multiplies
#: a batch of ONE small matrix with its parallel contraction kernel, whose
#: inner loop oneDNN picks at run time by the CPU's vector width (with FMA
#: on AVX2 and AVX-512 machines), and a batch of several small matrices one
#: by one with Eigen's matrix product, compiled into TensorFlow (AVX, no
#: FMA). Which kernel a product gets depends on its shape and on whether the
#: batch has one matrix, never on how many it has beyond that: with two rows
#: or more, every row of every stack goes through the same kernel, on any
#: CPU, so a run's arithmetic does not depend on its neighbours.
MIN_ROWS = 2



@tf.custom_gradient
def add_bias(x, bias):
    """``x + bias`` per slice (``bias`` of shape ``[S, 1, units]``), with a bias
    gradient whose summation order does not depend on the number of slices
    (``tf.reduce_sum`` over the middle axis does, by a rounding error)."""

    def gradient(upstream):
        return upstream, tf.reduce_sum(tf.transpose(upstream, [0, 2, 1]), axis=-1)[:, None, :]

    return x + bias, gradient


class SlotRates(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of every stacked run, shaped ``[S, 1]``.

    ``rates`` has one entry per configuration (a constant or a Keras
    schedule), repeated for each of its ``seeds`` slots. Every update rule of
    the elementwise optimizers multiplies by the rate (or by a step size
    computed elementwise from it), so the rate of slot ``s`` reaches exactly
    the weights of slot ``s``, with the value its schedule would have alone.
    """

    def __init__(self, rates: Sequence[Any], seeds: int, spare: int = 0):
        self.rates = list(rates)
        self.seeds = int(seeds)
        self.spare = int(spare)  # rows added to the stack (see MIN_ROWS) repeat the last slot's rate
        self.constant = not any(isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) for rate in rates)
        if self.constant:
            values = self._pad(np.repeat(np.asarray(self.rates, np.float32), self.seeds))
            self._tensor = tf.constant(values.reshape(-1, 1))

    def _pad(self, values):
        if not self.spare:
            return values
        if isinstance(values, np.ndarray):
            return np.concatenate([values, np.repeat(values[-1:], self.spare)])
        return tf.concat([values, tf.repeat(values[-1:], self.spare)], axis=0)

    def __call__(self, step):
        if self.constant:
            return self._tensor
        values = [
            tf.cast(rate(step), tf.float32)
            if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
            else tf.constant(rate, tf.float32)
            for rate in self.rates
        ]
        return tf.reshape(self._pad(tf.repeat(tf.stack(values), self.seeds)), [-1, 1])

    def values(self, step) -> np.ndarray:
        """The rate of every slot at ``step``, as the shortest decimals of their float32 values."""
        per_config = [
            float(str(np.float32(rate(step)))) if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
            else float(str(np.float32(rate)))
            for rate in self.rates
        ]
        return np.repeat(per_config, self.seeds)

    def get_config(self) -> dict:
        return {"rates": [repr(rate) for rate in self.rates], "seeds": self.seeds, "spare": self.spare}


@functools.lru_cache(maxsize=256)
def initial_weights(spec: MLP, data: str, seed: int) -> tuple[np.ndarray, ...]:
    """The initial weights that ``spec.build(dataset, seed)`` has (memoised)."""
    return tuple(build_model(spec, load_dataset(data), seed).get_weights())


class StackedDense(Engine):
    def __init__(self, configs: list[RunConfig], seeds: list[int]):
        self.config = config = configs[0]
        self.seeds = [seed for _ in configs for seed in seeds]
        self.dataset = dataset = config.dataset
        per_slot = [initial_weights(config.model, config.data, seed) for seed in self.seeds]
        # A stack has at least MIN_ROWS rows: TensorFlow's CPU BatchMatMul
        # sends a batch of one matrix to another kernel than a batch of
        # several (see MIN_ROWS), so a lone run gets a spare copy of itself.
        self.spare = max(0, MIN_ROWS - len(per_slot))
        per_slot += [per_slot[-1]] * self.spare
        # All weights of a slot live in ONE flat row of one variable: the
        # optimizer then updates everything with a single set of elementwise
        # ops. Each weight array starts at a multiple of 16 elements and the
        # row is padded to one, so the optimizer's kernels process every slot
        # in full vectors, never in a scalar tail whose rounding (of sqrt, for
        # one) differs. Padding gets zero gradients and stays zero under every
        # elementwise optimizer.
        self.shapes = [weights.shape for weights in per_slot[0]]
        self.offsets = []
        total = 0
        for shape in self.shapes:
            self.offsets.append(total)
            total += padded(int(np.prod(shape)))
        flat = np.zeros((len(per_slot), total), np.float32)
        for i, (shape, offset) in enumerate(zip(self.shapes, self.offsets)):
            flat[:, offset : offset + int(np.prod(shape))] = np.stack([weights[i].ravel() for weights in per_slot])
        self.variable = keras.Variable(flat, name="stacked_weights")
        self.variables = [self.variable]
        spec: MLP = config.model
        hidden = keras.activations.get(spec.activation)
        self.activations = [hidden] * len(spec.hidden) + [None]  # the output layer gives logits
        cls, settings, _ = optimizer_parts(config)
        self.slot_rates = SlotRates([optimizer_parts(c)[2] for c in configs], len(seeds), self.spare)
        self.optimizer = cls(learning_rate=self.slot_rates, **settings)
        self.optimizer.build(self.variables)
        self._setup_evaluation()
        x_train = tf.constant(dataset.x_train)
        y_train = tf.constant(dataset.y_train)
        size = len(per_slot)
        self.padded_batch = padded(config.effective_batch_size)
        binary = dataset.binary

        def per_example_loss(y, logits):
            # What Keras' cross-entropy computes for a softmax (sigmoid) output:
            # it takes the logits behind the activation.
            if binary:
                return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), axis=-1)
            return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)

        l2 = config.model.l2

        def penalty():
            # Keras' L2 regulariser on every kernel, l2 * sum(kernel ** 2), summed over the layers, per slot
            if not l2:
                return tf.zeros([size], tf.float32)
            terms = [tf.reduce_sum(tf.square(self._weights(2 * layer, bias=False)), axis=[1, 2])
                     for layer in range(len(self.activations))]
            return tf.add_n([tf.constant(l2, tf.float32) * term for term in terms])

        def evaluate():
            losses, hits = [], []
            for x, y in self.eval_chunks:
                x = tf.broadcast_to(x[None], [size, *x.shape])
                y = tf.broadcast_to(y[None], [size, *y.shape])
                logits = self._forward(x)
                losses.append(per_example_loss(y, logits))
                hits.append(correct_predictions(dataset, y, tf.sigmoid(logits) if binary else logits))
            return tf.concat(losses, axis=1), tf.concat(hits, axis=1), penalty()

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, size, self.padded_batch], tf.int32),
                tf.TensorSpec([None, self.padded_batch], tf.float32),
            ]
        )
        def train_epoch(index, weights):
            # fit's running metrics: each batch's mean loss times its size, and
            # its correct predictions, summed over the epoch (float32, as Keras' Mean)
            loss_total = tf.zeros([size], tf.float32)
            correct_total = tf.zeros([size], tf.float32)
            for step in tf.range(tf.shape(index)[0]):
                x_batch = tf.gather(x_train, index[step])
                y_batch = tf.gather(y_train, index[step])
                real = tf.cast(weights[step] > 0, tf.float32)
                with tf.GradientTape() as tape:
                    logits = self._forward(x_batch)
                    batch_means = tf.reduce_sum(per_example_loss(y_batch, logits) * weights[step], axis=-1)
                    if l2:
                        batch_means = batch_means + penalty()
                    total = tf.reduce_sum(batch_means)
                gradients = tape.gradient(total, self.variables)
                self.optimizer.apply(gradients, self.variables)
                loss_total += batch_means * tf.reduce_sum(real)
                hits = correct_predictions(dataset, y_batch, tf.sigmoid(logits) if binary else logits)
                correct_total += tf.reduce_sum(hits * real, axis=-1)
            return (*evaluate(), loss_total, correct_total)

        self._train_epoch = train_epoch.get_concrete_function()
        # Zero steps: the evaluation alone, through the same traced function.
        self._no_steps = (tf.zeros([0, size, self.padded_batch], tf.int32), tf.zeros([0, self.padded_batch]))

    def _rates_used(self):
        """Each slot's rate at the last update made (before training: at the first)."""
        return self.slot_rates.values(last_update_step(self.optimizer))

    def _weights(self, index: int, *, bias: bool):
        """Weight array ``index`` of every slot, in its layer's shape."""
        shape, offset = self.shapes[index], self.offsets[index]
        flat = self.variable[:, offset : offset + int(np.prod(shape))]
        return tf.reshape(flat, [-1, 1, *shape] if bias else [-1, *shape])

    def _forward(self, x):
        """The logits of every slot (the output activation is left to the loss)."""
        for layer, activation in enumerate(self.activations):
            kernel = self._weights(2 * layer, bias=False)
            bias = self._weights(2 * layer + 1, bias=True)
            x = add_bias(tf.matmul(x, kernel), bias)
            if activation is not None:
                x = activation(x)
        return x

    def _real_rows(self, outputs):
        """The outputs of the real runs (without the spare rows)."""
        count = len(self.seeds)
        return tuple(output[:count] for output in outputs)

    def _first_evaluation(self):
        loss, correct, penalty, _, _ = self._real_rows(self._train_epoch(*self._no_steps))
        return EpochResult(loss, correct, penalty=penalty)

    def _epoch(self, order: np.ndarray, callbacks):
        if self.spare:
            order = np.concatenate([order, np.repeat(order[-1:], self.spare, axis=0)])
        loss, correct, penalty, loss_total, correct_total = self._real_rows(self._train_epoch(*self._batches(order)))
        return EpochResult(loss, correct, loss_total, correct_total, examples=order.shape[1],
                            updates=self.config.steps_per_epoch, penalty=penalty)

    def _batches(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split each seed's shuffled order into batches padded to a common width.

        Padding rows repeat example 0 and carry zero weight in the loss, so
        they change no gradient; they keep every tensor a multiple of 16 rows
        per seed, so vectorised kernels never fall back to scalar tails whose
        rounding differs (which would make a seed's result depend on its
        neighbours in the stack).
        """
        size, n = order.shape
        batch = self.config.effective_batch_size
        steps = self.config.steps_per_epoch
        index = np.zeros((steps, size, self.padded_batch), dtype=np.int32)
        weights = np.zeros((steps, self.padded_batch), dtype=np.float32)
        for step in range(steps):
            chunk = order[:, step * batch : (step + 1) * batch]
            index[step, :, : chunk.shape[1]] = chunk
            weights[step, : chunk.shape[1]] = np.float32(1.0) / np.float32(chunk.shape[1])  # the batch mean
        return tf.constant(index), tf.constant(weights)

    def slot_weights(self, slot: int) -> list[np.ndarray]:
        """The weights of one slot, in the shapes of its Keras model's ``get_weights()``."""
        row = self.variable.numpy()[slot]
        return [row[offset : offset + int(np.prod(shape))].reshape(shape) for shape, offset in zip(self.shapes, self.offsets)]

    def trace_updates(self, count: int) -> list[list[list[np.ndarray]]]:
        """Train update by update, on the batches :meth:`run` would use; the weights after each.

        Returns ``count`` entries, one per update, each holding every real
        slot's weights (as :meth:`slot_weights`). Each update goes through
        the same traced function as a whole epoch, cut to one step, so the
        tests can compare the engine with ``model.fit`` after every update.
        """
        generators = [np.random.default_rng(seed) for seed in self.seeds]
        n = self.dataset.x_train.shape[0]
        trace: list[list[list[np.ndarray]]] = []
        while len(trace) < count:
            order = np.stack([generator.permutation(n) for generator in generators]).astype(np.int32)
            if self.spare:
                order = np.concatenate([order, np.repeat(order[-1:], self.spare, axis=0)])
            index, weights = self._batches(order)
            for step in range(index.shape[0]):
                self._train_epoch(index[step : step + 1], weights[step : step + 1])
                trace.append([self.slot_weights(slot) for slot in range(len(self.seeds))])
                if len(trace) == count:
                    break
        return trace

    def keras_model(self, slot: int) -> keras.Model:
        """A real Keras model holding the weights of one slot."""
        model = build_model(self.config.model, self.dataset, self.seeds[slot])
        model.set_weights(self.slot_weights(slot))
        return model


