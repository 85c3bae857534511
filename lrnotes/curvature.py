"""Sharpness: the largest eigenvalue of the training loss's Hessian, exactly, for small networks.

The testbed network has 303 weights, so its whole Hessian (303 × 303) is
cheap: :func:`hessian` computes it by differentiating the gradient once per
weight (TensorFlow's vectorised ``jacobian``), and :func:`sharpness` takes
its largest eigenvalue. Gradient descent on a quadratic with curvature
``lam`` is stable only while ``lr * lam < 2``, which is why the literature
compares the sharpness with ``2 / lr`` (Cohen et al. 2021, "Gradient
descent on neural networks typically occurs at the edge of stability").

:func:`sharpness_along` trains a run through the package (with a callback,
so one seed at a time through a real ``keras.Model``) and measures the
sharpness of the training loss every few epochs, on the weights the run has
then.

The loss is the one the run minimises: the mean cross-entropy over the
whole training set, plus the model's regularisation term (``MLP(l2=...)``),
as ``fit`` computes it.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd

from lrnotes import validation
from lrnotes._runtime import keras, tf

__all__ = ["LANCZOS_TOLERANCE", "MAX_WEIGHTS", "METHODS", "SharpnessMonitor", "hessian", "sharpness",
           "sharpness_along"]

#: How :func:`sharpness` finds the largest eigenvalue.
METHODS = ("exact", "lanczos")

#: Relative accuracy of the Lanczos iterations.
LANCZOS_TOLERANCE = 1e-5

#: Networks with more weights than this are refused: the exact Hessian has
#: ``n ** 2`` entries and costs ``n`` gradient evaluations.
MAX_WEIGHTS = 5000


def _loss_function(model: keras.Model, y):
    binary = int(model.output_shape[-1]) == 1
    return keras.losses.binary_crossentropy if binary else keras.losses.categorical_crossentropy


@contextlib.contextmanager
def _quiet_tracing():
    """Keep TensorFlow's "frequent retracing" warning out of notebooks: every run traces its own graph on purpose."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _check(model: keras.Model, x, y) -> int:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    count = int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))
    if count > MAX_WEIGHTS:
        raise ValueError(f"model has {count} trainable weights; the exact Hessian is computed for at most "
                         f"{MAX_WEIGHTS} (lrnotes.curvature.MAX_WEIGHTS)")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must hold the same positive number of examples, got {len(x)} and {len(y)}")
    return count


def hessian(model: keras.Model, x, y) -> np.ndarray:
    """The Hessian of the mean training loss with respect to all trainable weights.

    Weights are flattened variable by variable in the order of
    ``model.trainable_variables`` (each in C order). The loss is the mean
    cross-entropy over ``(x, y)`` plus ``sum(model.losses)``, computed in the
    model's dtype; the result is returned in float64, symmetrised (the two
    halves of an autodiff Hessian agree up to rounding).

    Parameters
    ----------
    model : keras.Model
        A built model with a softmax (or one sigmoid) output, at most
        :data:`MAX_WEIGHTS` weights.
    x, y : array-like
        The examples and their one-hot (or 0/1) targets.

    Returns
    -------
    numpy.ndarray
        The ``n × n`` Hessian.

    Examples
    --------
    >>> import lrnotes as ln
    >>> data = ln.load_blobs()
    >>> h = hessian(ln.testbed_model(0), data.x_train, data.y_train)
    >>> h.shape, bool(np.allclose(h, h.T))
    ((303, 303), True)
    """
    return _hessian_function(model, x, y)()


def _hessian_function(model: keras.Model, x, y):
    """A function of no arguments that returns the Hessian at the model's current weights (traced once)."""
    _check(model, x, y)
    variables = model.trainable_variables
    dtype = variables[0].dtype
    x = tf.constant(np.asarray(x), dtype=dtype)
    y = tf.constant(np.asarray(y), dtype=dtype)
    loss_fn = _loss_function(model, y)

    @tf.function(autograph=False)
    def compute():
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = tf.reduce_mean(loss_fn(y, model(x, training=False)))
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            gradients = inner.gradient(loss, variables)
            flat = tf.concat([tf.reshape(g, [-1]) for g in gradients], axis=0)
        blocks = outer.jacobian(flat, variables, experimental_use_pfor=True)
        return tf.concat([tf.reshape(block, [tf.shape(flat)[0], -1]) for block in blocks], axis=1)

    with _quiet_tracing():
        concrete = compute.get_concrete_function()

    def evaluate() -> np.ndarray:
        matrix = concrete().numpy().astype(np.float64)
        return (matrix + matrix.T) / 2.0

    return evaluate


def _lanczos_function(model: keras.Model, x, y):
    """A function of no arguments that returns the largest Hessian eigenvalue by Lanczos iterations.

    Each iteration is one Hessian-vector product (a gradient of the
    gradient's inner product with the vector, about three gradients' cost),
    so it needs no ``n × n`` matrix; ARPACK (``scipy.sparse.linalg.eigsh``)
    starts from a fixed vector, so the result is deterministic, and stops at
    a relative accuracy of ``LANCZOS_TOLERANCE``.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    count = _check(model, x, y)
    variables = model.trainable_variables
    dtype = variables[0].dtype
    x = tf.constant(np.asarray(x), dtype=dtype)
    y = tf.constant(np.asarray(y), dtype=dtype)
    loss_fn = _loss_function(model, y)
    sizes = [int(np.prod(v.shape)) for v in variables]

    @tf.function(input_signature=[tf.TensorSpec([count], dtype)], autograph=False)
    def product(vector):
        parts = [tf.reshape(part, v.shape) for part, v in zip(tf.split(vector, sizes), variables)]
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = tf.reduce_mean(loss_fn(y, model(x, training=False)))
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            gradients = inner.gradient(loss, variables)
            inner_product = tf.add_n([tf.reduce_sum(g * p) for g, p in zip(gradients, parts)])
        return tf.concat([tf.reshape(h, [-1]) for h in outer.gradient(inner_product, variables)], axis=0)

    with _quiet_tracing():
        product = product.get_concrete_function()
    numpy_dtype = dtype if isinstance(dtype, str) else dtype.name

    def matvec(vector):
        return product(tf.constant(np.asarray(vector, dtype=numpy_dtype).ravel())).numpy().astype(np.float64)

    operator = LinearOperator((count, count), matvec=matvec, dtype=np.float64)
    # A fixed random start (deterministic): a constant vector lies largely in
    # the null space of a softmax network's Hessian (shifting every logit
    # alike changes nothing), and ARPACK refuses a start whose product vanishes.
    start = np.random.default_rng(0).standard_normal(count)

    def evaluate() -> float:
        if not all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in variables):
            return math.nan  # a diverged run has no curvature to measure
        return float(eigsh(operator, k=1, which="LA", tol=LANCZOS_TOLERANCE, v0=start,
                           return_eigenvectors=False)[0])

    return evaluate


def sharpness(model: keras.Model, x, y, *, top: int = 1, method: str = "exact") -> float | np.ndarray:
    """The largest eigenvalue of :func:`hessian` (``top > 1``: the ``top`` largest, descending).

    ``method="exact"`` diagonalises the whole Hessian; ``"lanczos"`` finds
    the largest eigenvalue from Hessian-vector products (several times
    faster for the testbed, to a relative accuracy of
    :data:`LANCZOS_TOLERANCE`; ``top`` must then be 1).

    Examples
    --------
    >>> import lrnotes as ln
    >>> data = ln.load_blobs()
    >>> bool(sharpness(ln.testbed_model(0), data.x_train, data.y_train) > 0)
    True
    """
    top = validation.integer("top", top)
    validation.one_of("method", method, METHODS)
    if method == "lanczos":
        if top != 1:
            raise ValueError(f"top must be 1 with method='lanczos', got {top}")
        return _lanczos_function(model, x, y)()
    return _top(hessian(model, x, y), top)


def _top(matrix: np.ndarray, top: int = 1) -> float | np.ndarray:
    eigenvalues = np.linalg.eigvalsh(matrix)[::-1]
    return float(eigenvalues[0]) if top == 1 else eigenvalues[:top].copy()


class SharpnessMonitor(keras.callbacks.Callback):
    """Measures :func:`sharpness` on ``(x, y)`` before training and after every ``every``-th epoch.

    It uses the Lanczos method (``sharpness(..., method="lanczos")``), and
    gives NaN once the weights are no longer finite. Near the edge of
    stability the sharpness can alternate from one update to the next:
    measure at an odd interval, or an even one sees only one side.
    ``values`` maps the epoch (0: the initial weights) to the sharpness. A
    deep copy (the package copies callbacks for each run) shares ``values``
    with the original, so the monitor given to a run holds that run's values.

    Examples
    --------
    >>> import lrnotes as ln
    >>> data = ln.load_blobs()
    >>> monitor = SharpnessMonitor(data.x_train, data.y_train, every=2)
    >>> _ = ln.train(ln.RunConfig(learning_rate=0.1, epochs=4, callbacks=[monitor]), seed=0)
    >>> sorted(monitor.values)
    [0, 2, 4]
    """

    def __init__(self, x, y, every: int = 1, values: dict[int, float] | None = None):
        super().__init__()
        self.x, self.y = x, y
        self.every = validation.integer("every", every)
        self.values: dict[int, float] = {} if values is None else values

    def __deepcopy__(self, memo):
        return SharpnessMonitor(self.x, self.y, self.every, self.values)

    def on_train_begin(self, logs=None):
        self.values.clear()
        self._largest = _lanczos_function(self.model, self.x, self.y)  # traced once per run
        self.values[0] = self._largest()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.values[epoch + 1] = self._largest()


def sharpness_along(config, seed: int = 0, *, every: int = 1) -> pd.DataFrame:
    """Train one run and measure its training loss's sharpness along the way.

    Parameters
    ----------
    config : RunConfig
        The run (an :class:`~lrnotes.MLP` of at most :data:`MAX_WEIGHTS` weights).
    seed : int, default 0
    every : int, default 1
        Measure after every ``every``-th epoch (and before the first).

    Returns
    -------
    pandas.DataFrame
        The run's record (see :data:`lrnotes.RECORD_COLUMNS`) with a
        ``sharpness`` column (NaN at epochs not measured, and once the run
        has diverged) and ``edge`` = ``2 / learning_rate``, the sharpness at
        which gradient descent on a quadratic stops being stable.

    Examples
    --------
    >>> import lrnotes as ln
    >>> record = sharpness_along(ln.RunConfig(batch_size=None, learning_rate=0.5, epochs=4), seed=0, every=2)
    >>> record["sharpness"].notna().tolist()
    [True, False, True, False, True]
    """
    from lrnotes.config import RunConfig
    from lrnotes.training import train

    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    dataset = config.dataset
    monitor = SharpnessMonitor(dataset.x_train, dataset.y_train, every)
    record = train(config.replace(callbacks=[*config.callbacks, monitor]), seed)
    values = pd.Series(monitor.values, dtype=float)
    record["sharpness"] = record["epoch"].map(values).astype(float)
    record.loc[record["diverged"], "sharpness"] = math.nan
    record["edge"] = 2.0 / record["learning_rate"]
    return record
