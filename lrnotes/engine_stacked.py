"""Seeds side by side: dense and convolutional networks, as rows of one stacked variable.

The weights of run ``s`` are row ``s`` of one variable; each row sees its own
shuffled batches and its own learning rate (a constant or a schedule), and
one traced graph updates them all with a real Keras optimizer. This is exact
because the optimizers that may stack update each weight from its own
gradient and state (:mod:`lrnotes.stacking`) and the loss of the stack is the
sum of the per-run losses; every operation is chosen so that a row's
arithmetic does not depend on the other rows (see :data:`MIN_ROWS` and
:func:`lrnotes.engine.padded`), so a seed gives bit-for-bit the record it
gives alone. Each row may have its own epoch-level callbacks
(:mod:`lrnotes.row_callbacks`): they set that row's rate, and stop that row
while the others train on.

Tracing a stack's epoch into a graph takes longer than training a short run
on this testbed, so traced stacks are kept for reuse (:func:`trace_count`,
:func:`clear_traces`): a stack with the same structure (data set, network,
optimizer class and settings, rows, batch width, and its schedules, if any)
assigns its own initial weights, its rates and a freshly built optimizer's
state to the variables of a kept one and runs the same graph, which gives
exactly the record a fresh trace gives. Constant rates are values of a
variable, so runs that differ only in a constant rate share a graph.

One call of the traced function trains any number of epochs, each followed
by the evaluation :class:`~lrnotes.engine.Engine` records. When no run of a
stack has callbacks, nothing needs Python between epochs, so a call trains
as many epochs as :meth:`StackedDense._epochs_per_call` allows (the per-example
outputs of up to 32 MB); with callbacks, one epoch per call, as ``fit`` calls
them. The evaluation runs each row's ``Dense`` layers as plain matrix
products on the shared examples (:func:`~lrnotes.stacked_forward.forward_shared`),
which on a thousand examples is faster than a batched product over the rows.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from lrnotes._runtime import keras, tf
from lrnotes.config import RunConfig
from lrnotes.data import load_dataset
from lrnotes.engine import (
    Engine,
    correct_predictions,
    evaluation_chunks,
    last_update_step,
    padded,
)
from lrnotes.environment import numeric_settings
from lrnotes.fingerprints import digest
from lrnotes.models import CNN, MLP, build_model
from lrnotes.records import EpochResult
from lrnotes.row_callbacks import row_callback_lists
from lrnotes.slot_rates import SlotRates, all_constant
from lrnotes.stacked_forward import forward, forward_per_row, forward_shared
from lrnotes.stacking import optimizer_parts

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

#: How many traced stacks a process keeps for reuse (least recently used
#: first out). Each holds its graph, its weights and its optimizer's state:
#: a few megabytes for the book's networks.
TRACE_CACHE_SIZE = 32


@functools.lru_cache(maxsize=256)
def initial_weights(spec: MLP | CNN, data: str, seed: int) -> tuple[np.ndarray, ...]:
    """The initial weights that ``spec.build(dataset, seed)`` has (memoised)."""
    return tuple(build_model(spec, load_dataset(data), seed).get_weights())


class _TracedStack:
    """One stack traced into a graph: its weight variable, optimizer, rates and epoch function.

    Every stack of the same structure (:func:`_structure_key`) can train
    through it: :meth:`reset` gives it that stack's initial weights, rates
    and a fresh optimizer state.
    """

    def __init__(self, config: RunConfig, cls: type, settings: dict, rates: list, seeds: int,
                 per_slot: list[tuple[np.ndarray, ...]]):
        self.dataset = dataset = config.dataset  # held: the structure key names the data set by its id
        self.cls, self.settings = cls, settings
        size = len(per_slot)
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
        self.row_length = total
        flat = self.flatten(per_slot)
        self.variable = keras.Variable(flat, name="stacked_weights")
        self.variables = [self.variable]
        self.spec = config.model
        self.slot_rates = SlotRates(rates, seeds, size - len(rates) * seeds)
        self.optimizer = cls(learning_rate=self.slot_rates, **settings)
        self.optimizer.build(self.variables)
        self.eval_chunks, self.split_rows = evaluation_chunks(dataset)
        self.eval_rows = sum(int(x.shape[0]) for x, _ in self.eval_chunks)
        x_train = tf.constant(dataset.x_train)
        y_train = tf.constant(dataset.y_train)
        self.padded_batch = padded(config.effective_batch_size)
        binary = dataset.binary
        self.owner: weakref.ref | None = None

        def per_example_loss(y, logits):
            # What Keras' cross-entropy computes for a softmax (sigmoid) output:
            # it takes the logits behind the activation.
            if binary:
                return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), axis=-1)
            return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)

        l2 = getattr(config.model, "l2", 0.0)

        def penalty():
            # Keras' L2 regulariser on every kernel, l2 * sum(kernel ** 2), summed over the layers, per slot
            if not l2:
                return tf.zeros([size], tf.float32)
            terms = [tf.reduce_sum(tf.square(self.weights(2 * layer, bias=False)), axis=[1, 2])
                     for layer in range(len(self.shapes) // 2)]
            return tf.add_n([tf.constant(l2, tf.float32) * term for term in terms])

        # What correct_predictions compares the predictions with, worked out once:
        # the label of each example (the target itself for a binary output).
        labels = [tf.constant(y.numpy()[:, 0] if binary else np.argmax(y.numpy(), axis=-1)) for _, y in self.eval_chunks]

        def evaluate():
            losses, hits = [], []
            for (x, y), label in zip(self.eval_chunks, labels):
                logits = self.forward_shared(x)
                losses.append(per_example_loss(tf.broadcast_to(y[None], [size, *y.shape]), logits))
                if binary:  # correct_predictions, with the targets' side computed once
                    predicted = tf.cast(tf.sigmoid(logits)[..., 0] > 0.5, label.dtype)
                else:
                    predicted = tf.argmax(logits, axis=-1)
                hits.append(tf.cast(tf.equal(label[None], predicted), tf.float32))
            return tf.concat(losses, axis=1), tf.concat(hits, axis=1), penalty()

        def train_steps(index, weights):
            # fit's running metrics: each batch's mean loss times its size, and
            # its correct predictions, summed over the epoch (float32, as Keras' Mean)
            loss_total = tf.zeros([size], tf.float32)
            correct_total = tf.zeros([size], tf.float32)
            for step in tf.range(tf.shape(index)[0]):
                x_batch = tf.gather(x_train, index[step])
                y_batch = tf.gather(y_train, index[step])
                real = tf.cast(weights[step] > 0, tf.float32)
                with tf.GradientTape() as tape:
                    logits = self.forward(x_batch)
                    batch_means = tf.reduce_sum(per_example_loss(y_batch, logits) * weights[step], axis=-1)
                    if l2:
                        batch_means = batch_means + penalty()
                    total = tf.reduce_sum(batch_means)
                gradients = tape.gradient(total, self.variables)
                self.optimizer.apply(gradients, self.variables)
                loss_total += batch_means * tf.reduce_sum(real)
                hits = correct_predictions(dataset, y_batch, tf.sigmoid(logits) if binary else logits)
                correct_total += tf.reduce_sum(hits * real, axis=-1)
            return loss_total, correct_total

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, size, self.padded_batch], tf.int32),
                tf.TensorSpec([None, self.padded_batch], tf.float32),
            ]
        )
        def train_epochs(index, weights):
            """``index[e]`` is epoch e's batches; each epoch trains, then evaluates (per-epoch outputs, stacked)."""
            _TRACES[0] += 1  # Python runs here only while tracing
            epochs = tf.shape(index)[0]
            outputs = [tf.TensorArray(tf.float32, size=epochs, element_shape=shape) for shape in (
                [size, self.eval_rows], [size, self.eval_rows], [size], [size], [size])]
            for epoch in tf.range(epochs):
                loss_total, correct_total = train_steps(index[epoch], weights)
                values = (*evaluate(), loss_total, correct_total)
                outputs = [array.write(epoch, value) for array, value in zip(outputs, values)]
            return tuple(array.stack() for array in outputs)

        self.train_epochs = train_epochs.get_concrete_function()
        # One epoch of zero steps: the evaluation alone, through the same traced function.
        self.no_steps = (tf.zeros([1, 0, size, self.padded_batch], tf.int32), tf.zeros([0, self.padded_batch]))

    def flatten(self, per_slot: list[tuple[np.ndarray, ...]]) -> np.ndarray:
        """The weights of every slot as rows of the stacked variable."""
        flat = np.zeros((len(per_slot), self.row_length), np.float32)
        for i, (shape, offset) in enumerate(zip(self.shapes, self.offsets)):
            flat[:, offset : offset + int(np.prod(shape))] = np.stack([weights[i].ravel() for weights in per_slot])
        return flat

    def reset(self, per_slot: list[tuple[np.ndarray, ...]], rates: list, seeds: int) -> None:
        """Start another stack of the same structure: its weights, its rates, a fresh optimizer state."""
        flat = self.flatten(per_slot)
        self.variable.assign(flat)
        self.slot_rates.set_rates(rates, seeds, len(per_slot) - len(rates) * seeds)
        # The state a fresh optimizer has after being built on these weights
        # (zeros, ones, or a copy of the weights, as each optimizer starts).
        fresh = self.cls(learning_rate=self.slot_rates, **self.settings)
        fresh.build([keras.Variable(flat, name="stacked_weights")])
        ours, theirs = self.optimizer.variables, fresh.variables
        if [_described(v) for v in ours] != [_described(v) for v in theirs]:
            raise RuntimeError(f"{self.cls.__name__} built other variables than the traced stack's optimizer")
        for target, source in zip(ours, theirs):
            target.assign(source)

    def in_use(self) -> bool:
        return self.owner is not None and self.owner() is not None

    def weights(self, index: int, *, bias: bool):
        """Weight array ``index`` of every slot, in its layer's shape."""
        shape, offset = self.shapes[index], self.offsets[index]
        flat = self.variable[:, offset : offset + int(np.prod(shape))]
        return tf.reshape(flat, [-1, 1, *shape] if bias else [-1, *shape])

    def row_weights(self, rows):
        """A function giving a row's weight arrays (in their layers' shapes) from the rows of the variable."""
        return lambda row: [tf.reshape(rows[row][offset : offset + int(np.prod(shape))], shape)
                            for shape, offset in zip(self.shapes, self.offsets)]

    def forward_shared(self, x):
        """The logits of every slot on the same examples ``x``, each slot through its own operations."""
        return forward_shared(self.spec, self.row_weights(tf.unstack(self.variable, axis=0)), self.variable.shape[0], x)

    def forward(self, x):
        """The logits of every slot (the output activation is left to the loss)."""
        if isinstance(self.spec, CNN):
            return forward_per_row(self.spec, self.row_weights(tf.unstack(self.variable, axis=0)), x)
        return forward(self.spec, self.weights, x)


def _described(variable) -> tuple:
    """A variable's name (without the suffix that makes Keras' unnamed variables unique), shape and dtype."""
    return re.sub(r"_\d+$", "", variable.name), tuple(variable.shape), str(variable.dtype)


#: Traced stacks kept for reuse, by structure key, least recently used first.
_STACKS: OrderedDict[str, _TracedStack] = OrderedDict()
_TRACES = [0]  # traces made in this process


def trace_count() -> int:
    """How many times this process has traced a stack's epoch into a graph.

    A stack whose structure matches a kept one (see :data:`TRACE_CACHE_SIZE`)
    reuses its graph and adds nothing.

    Examples
    --------
    >>> from lrnotes.training import train
    >>> before = trace_count()
    >>> _ = train(RunConfig(learning_rate=0.1, epochs=1), seed=0)
    >>> _ = train(RunConfig(learning_rate=0.2, epochs=2), seed=1)  # same structure: the graph is reused
    >>> trace_count() - before <= 1
    True
    """
    return _TRACES[0]


def clear_traces() -> None:
    """Forget every kept traced stack: the next stack of each structure traces anew."""
    _STACKS.clear()


def _structure_key(config: RunConfig, cls: type, settings: dict, rates: list, seeds: int, rows: int) -> str | None:
    """What a stack's graph depends on, hashed; ``None`` when some part cannot be described (never reused).

    The per-run values (initial weights, constant rates, optimizer state,
    batch order) are not in it: they are values of variables and inputs.
    """
    structure = {
        "data": config.data,
        "dataset": id(config.dataset),  # the kept stack holds the data set, so the id stays its own
        "model": config.model,
        "optimizer": cls,
        "settings": settings,
        "rows": rows,
        "batch": padded(config.effective_batch_size),
        # schedules are part of the graph; constant rates are not
        "rates": "constant" if all_constant(rates) else {"rates": rates, "seeds": seeds},
        "floatx": keras.config.floatx(),
        "settings_of_tensorflow": numeric_settings(),  # threads, op determinism, devices, oneDNN variables
    }
    try:
        return digest(structure, name="stack")
    except TypeError:
        return None


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
        key = _structure_key(config, cls, settings, rates, len(seeds), len(per_slot))
        stack = _STACKS.get(key) if key is not None else None
        if stack is not None and not stack.in_use():
            _STACKS.move_to_end(key)
            stack.reset(per_slot, rates, len(seeds))
        else:  # none kept, or the kept one belongs to an engine still alive: trace anew
            stack = _TracedStack(config, cls, settings, rates, len(seeds), per_slot)
            if key is not None:
                _STACKS[key] = stack
                _STACKS.move_to_end(key)
                while len(_STACKS) > TRACE_CACHE_SIZE:
                    _STACKS.popitem(last=False)
        stack.owner = weakref.ref(self)
        self._stack = stack
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


