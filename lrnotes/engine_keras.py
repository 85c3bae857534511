"""One seed at a time through a real ``keras.Model``: runs that cannot stack (:func:`lrnotes.stacking.stack_refusal`).

The callbacks are called as ``fit`` calls them (batch hooks only when a
callback overrides them, so an epoch otherwise runs as one traced graph) and
get ``fit``'s logs.
"""

from __future__ import annotations

import copy

import numpy as np

from lrnotes._runtime import keras, tf
from lrnotes.callbacks import current_learning_rate
from lrnotes.config import RunConfig
from lrnotes.engine import Engine, correct_predictions, last_update_step, loss_function
from lrnotes.models import build_model
from lrnotes.optimizers import rate_setting
from lrnotes.records import EpochResult

__all__ = ["KerasRun", "needs_batch_hooks", "schedule_value"]


def needs_batch_hooks(callback: keras.callbacks.Callback) -> bool:
    base = keras.callbacks.Callback
    return any(
        getattr(type(callback), hook) is not getattr(base, hook)
        for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    )


class KerasRun(Engine):
    def __init__(self, config: RunConfig, seed: int):
        self.config = config
        self.seeds = [seed]
        self.dataset = dataset = config.dataset
        self.model = model = build_model(config.model, dataset, seed)
        self.optimizer = config.make_optimizer()
        self.loss_fn = loss_function(dataset)
        model.compile(
            optimizer=self.optimizer,
            loss="binary_crossentropy" if dataset.binary else "categorical_crossentropy",
            metrics=["accuracy"],
        )
        # Build the compiled metrics, so callbacks can tell "accuracy" is to be maximised.
        model.compute_metrics(dataset.x_train[:1], dataset.y_train[:1], model(dataset.x_train[:1]))
        model.reset_metrics()
        self.callbacks = [copy.deepcopy(callback) for callback in config.callbacks]
        self.batch_hooks = any(needs_batch_hooks(callback) for callback in self.callbacks)
        self._setup_evaluation()
        x_train = tf.constant(dataset.x_train)
        y_train = tf.constant(dataset.y_train)
        n = dataset.x_train.shape[0]
        batch = config.effective_batch_size
        steps = config.steps_per_epoch
        variables = model.trainable_variables
        self.optimizer.build(variables)

        def penalty():
            # the model's regularisation losses (kernel_regularizer), which fit adds to every loss
            return tf.add_n(model.losses) if model.losses else tf.zeros([], tf.float32)

        def step(x_batch, y_batch):
            with tf.GradientTape() as tape:
                probabilities = model(x_batch, training=True)
                loss = tf.reduce_mean(self.loss_fn(y_batch, probabilities)) + penalty()
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            return loss, tf.reduce_sum(correct_predictions(dataset, y_batch, probabilities))

        def evaluate():
            losses, hits = [], []
            for x, y in self.eval_chunks:
                probabilities = model(x, training=False)
                losses.append(self.loss_fn(y, probabilities))
                hits.append(correct_predictions(dataset, y, probabilities))
            return tf.concat(losses, axis=0)[None], tf.concat(hits, axis=0)[None], penalty()[None]

        @tf.function(input_signature=[tf.TensorSpec([n], tf.int32)])
        def train_epoch(order):
            # fit's running metrics, accumulated in float32 as Keras' Mean does
            loss_total = tf.zeros([], tf.float32)
            correct_total = tf.zeros([], tf.float32)
            for index in tf.range(steps):
                batch_index = order[index * batch : tf.minimum((index + 1) * batch, n)]
                loss, correct = step(tf.gather(x_train, batch_index), tf.gather(y_train, batch_index))
                loss_total += loss * tf.cast(tf.size(batch_index), tf.float32)
                correct_total += correct
            return (*evaluate(), loss_total[None], correct_total[None])

        self._evaluate = tf.function(evaluate).get_concrete_function()
        if self.batch_hooks:
            shape = [None, *dataset.input_shape]
            self._train_step = tf.function(
                step,
                input_signature=[tf.TensorSpec(shape, tf.float32), tf.TensorSpec([None, dataset.output_units], tf.float32)],
            ).get_concrete_function()
        else:
            self._train_epoch = train_epoch.get_concrete_function()
        schedule = rate_setting(self.optimizer)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            self._rate = schedule_value(schedule, last_update_step(self.optimizer))  # the first update's
        else:
            self._rate = current_learning_rate(self.optimizer)

    def _callback_lists(self) -> list[keras.callbacks.CallbackList]:
        self.model.stop_training = False
        return [keras.callbacks.CallbackList(
            self.callbacks, model=self.model, epochs=self.config.epochs, steps=self.config.steps_per_epoch, verbose=0
        )]

    def _rates_used(self, epoch: int):
        return self._rate  # set by the epoch just trained

    def _first_evaluation(self):
        loss, correct, penalty = self._evaluate()
        return EpochResult(loss, correct, penalty=penalty)

    def _epoch(self, order: np.ndarray, callbacks):
        schedule = rate_setting(self.optimizer)
        if not self.batch_hooks:
            # No callback runs between the epoch's updates: a rate variable
            # keeps the value it has now; a schedule moves with the steps.
            rate = current_learning_rate(self.optimizer)
            loss, correct, penalty, loss_total, correct_total = self._train_epoch(tf.constant(order[0]))
            if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
                rate = schedule_value(schedule, last_update_step(self.optimizer))
            self._rate = rate
            return EpochResult(loss, correct, loss_total, correct_total, examples=order.shape[1],
                                updates=self.config.steps_per_epoch, penalty=penalty)
        # Batch by batch, calling the batch hooks as fit does (and stopping
        # inside the epoch when a callback sets model.stop_training).
        batch = self.config.effective_batch_size
        loss_total = correct_total = np.float32(0.0)
        examples = updates = 0
        for index in range(self.config.steps_per_epoch):
            batch_index = order[0, index * batch : (index + 1) * batch]
            callbacks.on_train_batch_begin(index)
            self._rate = current_learning_rate(self.optimizer)  # the rate of this update
            loss, correct = self._train_step(tf.constant(self.dataset.x_train[batch_index]),
                                             tf.constant(self.dataset.y_train[batch_index]))
            updates += 1
            examples += batch_index.size
            loss_total = np.float32(loss_total + np.float32(loss) * np.float32(batch_index.size))
            correct_total = np.float32(correct_total + np.float32(correct))
            # fit hands the batch hooks its metrics so far: running means over the epoch's batches
            with np.errstate(invalid="ignore", over="ignore"):
                running = {"loss": float(loss_total / np.float32(examples)),
                           "accuracy": float(correct_total / np.float32(examples))}
            callbacks.on_train_batch_end(index, running)
            if self.model.stop_training:
                break
        loss, correct, penalty = self._evaluate()
        return EpochResult(loss, correct, np.array([loss_total]), np.array([correct_total]),
                            examples=examples, updates=updates, penalty=penalty)


def schedule_value(schedule, step: int) -> float:
    """A schedule's rate at ``step`` (at least 0), as the shortest decimal of its float32 value."""
    return float(str(np.float32(schedule(max(step, 0)))))
