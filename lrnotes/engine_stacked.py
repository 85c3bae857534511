"""Seeds side by side: dense and convolutional networks, as rows of one stacked variable.

The weights of run ``s`` are row ``s`` of one variable; each row sees its own
shuffled batches and its own learning rate (a constant or a schedule), and
one traced graph (:mod:`lrnotes.traced_stack`, which keeps it for the next
stack of the same structure) updates them all with a real Keras optimizer.
This is exact because the optimizers that may stack update each weight from
its own gradient and state (:mod:`lrnotes.stacking`) and the loss of the
stack is the sum of the per-run losses; every operation is chosen so that a
row's arithmetic does not depend on the other rows (see :data:`MIN_ROWS` and
:func:`lrnotes.engine.padded`), so a seed gives bit-for-bit the record it
gives alone. Each row may have its own epoch-level callbacks
(:mod:`lrnotes.row_callbacks`): they set that row's rate, and stop that row
while the others train on. When no row has callbacks, one call of the graph
trains many epochs (:meth:`StackedDense._epochs_per_call`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrnotes._runtime import keras, tf
from lrnotes.config import RunConfig
from lrnotes.engine import Engine, last_update_step
from lrnotes.models import build_model
from lrnotes.records import EpochResult
from lrnotes.row_callbacks import row_callback_lists
from lrnotes.slot_rates import SlotRates
from lrnotes.stacking import optimizer_parts
from lrnotes.traced_stack import (
    TRACE_CACHE_SIZE,
    clear_traces,
    initial_weights,
    kept_stack,
    trace_count,
)

__all__ = ["MIN_ROWS", "TRACE_CACHE_SIZE", "SlotRates", "StackedDense", "clear_traces", "initial_weights",
           "trace_count"]

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


class StackedDense(Engine):
    def __init__(self, configs: list[RunConfig], seeds: list[int]):
        self.config = config = configs[0]
        self.configs, self.seeds = configs, [seed for _ in configs for seed in seeds]
        self.dataset = config.dataset
        per_slot = [initial_weights(config.model, config.data, seed) for seed in self.seeds]
        # A stack has at least MIN_ROWS rows: TensorFlow's CPU BatchMatMul
        # sends a batch of one matrix to another kernel than a batch of
        # several (see MIN_ROWS), so a lone run gets a spare copy of itself.
        self.spare = max(0, MIN_ROWS - len(per_slot))
        per_slot += [per_slot[-1]] * self.spare
        cls, settings, _ = optimizer_parts(config)
        rates = [optimizer_parts(c)[2] for c in configs]
        self._stack = stack = kept_stack(self, config, cls, settings, rates, len(seeds), per_slot)
        self.variable, self.variables = stack.variable, stack.variables
        self.optimizer, self.slot_rates = stack.optimizer, stack.slot_rates
        self.shapes, self.offsets = stack.shapes, stack.offsets
        self.eval_chunks, self.split_rows = stack.eval_chunks, stack.split_rows
        self.padded_batch = stack.padded_batch
        self._train_epochs = stack.train_epochs
        self._no_steps = stack.no_steps
        self._lists: list = []
        self._epochs_trained = 0

    def _callback_lists(self):
        self._lists = row_callback_lists(self, self.configs, len(self.seeds) // len(self.configs))
        return self._lists

    def _stopped(self, slot: int) -> None:
        self._lists[slot].model.stopped()

    def _finished(self) -> None:
        for callbacks in self._lists:
            callbacks.model.restore()

    def _rates_used(self, epoch: int):
        """Each slot's rate at the last update made by the end of ``epoch`` (before training: at the first)."""
        if self.slot_rates.constant:  # the same at every step (callbacks set them between epochs)
            return self.slot_rates.current(len(self.seeds))
        # the optimizer has counted the calls of every epoch trained so far
        calls = int(keras.ops.convert_to_numpy(self.optimizer._iterations))
        calls -= (self._epochs_trained - epoch) * self.config.steps_per_epoch
        return self.slot_rates.values(last_update_step(self.optimizer, calls))

    def _real_rows(self, outputs):
        """The outputs of the real runs (without the spare rows), as NumPy arrays ``[epochs, runs, ...]``."""
        count = len(self.seeds)
        return tuple(output.numpy()[:, :count] for output in outputs)

    def _first_evaluation(self):
        loss, correct, penalty, _, _ = self._real_rows(self._train_epochs(*self._no_steps))
        return EpochResult(loss[0], correct[0], penalty=penalty[0])

    def _epoch(self, order: np.ndarray, callbacks):
        return self._epochs(order[None])[0]

    def _epochs(self, orders: np.ndarray) -> list[EpochResult]:
        """Train one epoch on each ``[S, n]`` order of ``orders``, in one call of the traced function."""
        if self.spare:
            orders = np.concatenate([orders, np.repeat(orders[:, -1:], self.spare, axis=1)], axis=1)
        outputs = self._real_rows(self._train_epochs(*self._batches(orders)))
        self._epochs_trained += orders.shape[0]
        return [EpochResult(loss, correct, loss_total, correct_total, examples=orders.shape[2],
                            updates=self.config.steps_per_epoch, penalty=penalty)
                for loss, correct, penalty, loss_total, correct_total in zip(*outputs)]

    def _epochs_per_call(self) -> int:
        """How many epochs one call trains when no callback needs the loop between epochs.

        Bounded so that the per-example losses and hits it hands back stay
        near 32 MB, whatever the stack's size.
        """
        return max(1, (1 << 22) // (self.variable.shape[0] * self._stack.eval_rows))

    def _batches(self, orders: np.ndarray) -> tuple[Any, Any]:
        """Split each epoch's shuffled order of each seed into batches padded to a common width.

        ``orders`` is ``[epochs, S, n]``; returns the indices ``[epochs,
        steps, S, width]`` and the weights ``[steps, width]`` that every
        epoch shares. Padding rows repeat example 0 and carry zero weight in
        the loss, so they change no gradient; they keep every tensor a
        multiple of 16 rows per seed, so vectorised kernels never fall back
        to scalar tails whose rounding differs (which would make a seed's
        result depend on its neighbours in the stack).
        """
        epochs, size, n = orders.shape
        batch = self.config.effective_batch_size
        steps = self.config.steps_per_epoch
        index = np.zeros((epochs, steps, size, self.padded_batch), dtype=np.int32)
        weights = np.zeros((steps, self.padded_batch), dtype=np.float32)
        full = np.zeros((epochs, size, steps * batch), dtype=np.int32)
        full[:, :, :n] = orders
        index[:, :, :, :batch] = full.reshape(epochs, size, steps, batch).transpose(0, 2, 1, 3)
        weights[:, :batch] = np.float32(1.0) / np.float32(batch)  # the batch mean
        last = n - (steps - 1) * batch
        weights[-1, :] = 0
        weights[-1, :last] = np.float32(1.0) / np.float32(last)
        return tf.constant(index), tf.constant(weights)

    def slot_weights(self, slot: int) -> list[np.ndarray]:
        """The weights of one slot, in the shapes of its Keras model's ``get_weights()``."""
        row = self.variable.numpy()[slot]
        return [row[offset : offset + int(np.prod(shape))].reshape(shape) for shape, offset in zip(self.shapes, self.offsets)]

    def set_slot_weights(self, slot: int, weights) -> None:
        """Give one slot these weights (in the shapes of :meth:`slot_weights`)."""
        values = self.variable.numpy()
        for array, shape, offset in zip(weights, self.shapes, self.offsets):
            values[slot, offset : offset + int(np.prod(shape))] = np.asarray(array, np.float32).ravel()
        self.variable.assign(values)

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
            index, weights = self._batches(order[None])
            for step in range(index.shape[1]):
                self._train_epochs(index[:, step : step + 1], weights[step : step + 1])
                trace.append([self.slot_weights(slot) for slot in range(len(self.seeds))])
                if len(trace) == count:
                    break
        return trace

    def keras_model(self, slot: int) -> keras.Model:
        """A real Keras model holding the weights of one slot."""
        model = build_model(self.config.model, self.dataset, self.seeds[slot])
        model.set_weights(self.slot_weights(slot))
        return model


