"""Traced stacks: a stack's epochs as one graph, kept for the next stack of the same structure.

A stack (:mod:`lrnotes.engine_stacked`) holds the weights of its runs as rows
of one variable, and one traced function trains them. Tracing takes longer
than training a short run on this testbed, so traced stacks are kept for
reuse (:func:`trace_count`, :func:`clear_traces`): a stack with the same
structure (data set, network, optimizer class and settings, rows, batch
width, and its schedules, if any) assigns its own initial weights, its rates
and a freshly built optimizer's state to the variables of a kept one
(:func:`kept_stack`) and runs the same graph, which gives exactly the record
a fresh trace gives. Constant rates are values of a variable, so runs that
differ only in a constant rate share a graph.

One call of the traced function trains any number of epochs, each followed
by the evaluation :class:`~lrnotes.engine.Engine` records. When no run of a
stack has callbacks, nothing needs Python between epochs, so a call trains
as many epochs as :meth:`~lrnotes.engine_stacked.StackedDense._epochs_per_call`
allows; with callbacks, one epoch per call, as ``fit`` calls them. The
evaluation runs each row's ``Dense`` layers as plain matrix products on the
shared examples (:func:`~lrnotes.stacked_forward.forward_shared`), in one
loop over the rows, which on a thousand examples is faster than a batched
product over the rows, and keeps the graph's size independent of the rows.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections import OrderedDict

import numpy as np

from lrnotes._runtime import keras, tf
from lrnotes.config import RunConfig
from lrnotes.data import load_dataset
from lrnotes.engine import correct_predictions, evaluation_chunks, padded
from lrnotes.environment import numeric_settings
from lrnotes.fingerprints import digest
from lrnotes.models import CNN, MLP, build_model
from lrnotes.slot_rates import SlotRates, all_constant
from lrnotes.stacked_forward import forward, forward_per_row, forward_shared

__all__ = ["TRACE_CACHE_SIZE", "clear_traces", "initial_weights", "kept_stack", "trace_count"]

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

        def penalty(arrays=None):
            # Keras' L2 regulariser on every kernel, l2 * sum(kernel ** 2), summed over the layers, per slot
            if not l2:
                return tf.zeros([size], tf.float32)
            arrays = self.stacked_arrays(self.variable) if arrays is None else arrays
            terms = [tf.reduce_sum(tf.square(arrays[2 * layer]), axis=[1, 2])
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
                    arrays = None if isinstance(self.spec, CNN) else self.stacked_arrays(self.variable)
                    logits = self.forward(x_batch, arrays)
                    batch_means = tf.reduce_sum(per_example_loss(y_batch, logits) * weights[step], axis=-1)
                    if l2:
                        batch_means = batch_means + penalty(arrays)
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

    def split_sizes(self) -> tuple[list[int], list[int]]:
        """How one ``Split`` cuts a row into its weight arrays and the padding between them; which pieces are arrays."""
        sizes, kept = [], []
        for shape, offset in zip(self.shapes, self.offsets):
            if offset > sum(sizes):
                sizes.append(offset - sum(sizes))  # the padding before this array
            kept.append(len(sizes))
            sizes.append(int(np.prod(shape)))
        if self.row_length > sum(sizes):
            sizes.append(self.row_length - sum(sizes))
        return sizes, kept

    def stacked_arrays(self, flat) -> list:
        """Every weight array of every slot, in its layer's shape (biases as ``[S, 1, units]``), from one split of ``flat``.

        One ``Split`` (whose gradient is one ``ConcatV2``) instead of a slice
        per array (each slice's gradient is a zero tensor of the whole
        variable, added up): fewer operations per update, the same values.
        """
        sizes, kept = self.split_sizes()
        pieces = tf.split(flat, sizes, axis=1)
        return [tf.reshape(pieces[position], [-1, 1, *shape] if len(shape) == 1 else [-1, *shape])
                for position, shape in zip(kept, self.shapes)]

    def row_weights(self, rows):
        """A function giving a row's weight arrays (in their layers' shapes): from ``rows[row]``, or from a row itself.

        Each row is cut by one ``Split``, as in :meth:`stacked_arrays`.
        """
        sizes, kept = self.split_sizes()

        def arrays(row):
            pieces = tf.split(row if rows is None else rows[row], sizes, axis=0)
            return [tf.reshape(pieces[position], shape) for position, shape in zip(kept, self.shapes)]
        return arrays

    def forward_shared(self, x):
        """The logits of every slot on the same examples ``x``, each slot through its own operations.

        A dense network's rows go through one loop over the rows (``tf.map_fn``),
        so the graph, and the time to trace and optimise it, does not grow with
        the number of rows; a CNN's rows are written out one by one, as in training.
        """
        if isinstance(self.spec, CNN):
            return forward_shared(self.spec, self.row_weights(tf.unstack(self.variable, axis=0)), self.variable.shape[0], x)
        unflatten = self.row_weights(None)
        return tf.map_fn(lambda row: forward_shared(self.spec, lambda _: unflatten(row), 1, x)[0],
                         tf.convert_to_tensor(self.variable), fn_output_signature=tf.float32)

    def forward(self, x, arrays):
        """The logits of every slot (the output activation is left to the loss); a dense network's from ``arrays`` (:meth:`stacked_arrays`)."""
        if isinstance(self.spec, CNN):
            return forward_per_row(self.spec, self.row_weights(tf.unstack(self.variable, axis=0)), x)
        return forward(self.spec, lambda index, bias: arrays[index], x)


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


def kept_stack(owner, config: RunConfig, cls: type, settings: dict, rates: list, seeds: int,
               per_slot: list[tuple[np.ndarray, ...]]) -> _TracedStack:
    """The traced stack ``owner`` (an engine) trains through: a kept one of the same structure, reset, or a new trace.

    A kept stack whose engine is still alive is not shared: a new one is traced.
    """
    key = _structure_key(config, cls, settings, rates, seeds, len(per_slot))
    stack = _STACKS.get(key) if key is not None else None
    if stack is not None and not stack.in_use():
        _STACKS.move_to_end(key)
        stack.reset(per_slot, rates, seeds)
    else:  # none kept, or the kept one belongs to an engine still alive: trace anew
        stack = _TracedStack(config, cls, settings, rates, seeds, per_slot)
        if key is not None:
            _STACKS[key] = stack
            _STACKS.move_to_end(key)
            while len(_STACKS) > TRACE_CACHE_SIZE:
                _STACKS.popitem(last=False)
    stack.owner = weakref.ref(owner)
    return stack
