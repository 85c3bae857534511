"""Model specifications: small dense networks and a small convolutional network.

A specification is a frozen dataclass that knows how to build a fresh Keras
model for a data set and a seed. The output layer follows from the data: a
softmax over the classes, or one sigmoid unit for two classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrnotes import validation
from lrnotes._runtime import keras
from lrnotes.data import Dataset

__all__ = ["CNN", "MLP", "ModelSpec", "build_model", "testbed_model"]


def _check_units(name: str, units: tuple[int, ...]) -> tuple[int, ...]:
    units = tuple(units)
    if not units or any(not isinstance(u, int) or isinstance(u, bool) or u <= 0 for u in units):
        raise ValueError(f"{name} must be a non-empty tuple of positive integers, got {units!r}")
    return units


def _input(dataset: Dataset, seed: int, *, model: str, rank: int, needs: str, instead: str) -> list:
    """The input layer of a fresh ``model`` (after seeding its weights); the data must have ``rank`` axes."""
    if len(dataset.input_shape) != rank:
        raise ValueError(
            f"{model} needs {needs}, but data set {dataset.name!r} has examples of shape {dataset.input_shape}; "
            f"{instead}"
        )
    keras.utils.set_random_seed(seed)
    return [keras.Input(dataset.input_shape)]


@dataclass(frozen=True)
class MLP:
    """A multilayer perceptron: ``Dense`` hidden layers, then the output layer.

    Parameters
    ----------
    hidden : tuple of int, default (50,)
        Units of each hidden layer.
    activation : str, default "relu"
        Activation of the hidden layers (any name Keras accepts).
    kernel_initializer : str, default "he_uniform"
        Initializer of the hidden layers; the output layer keeps Keras'
        default (``glorot_uniform``), as in the classic tutorials.
    l2 : float, default 0.0
        L2 regularisation in the loss: every ``Dense`` kernel (hidden and
        output, not the biases) gets ``kernel_regularizer=L2(l2)``, which
        adds ``l2 * sum(kernel ** 2)`` to the loss that is minimised and, as
        under ``fit``, to every loss that is reported (the record's
        ``penalty`` column holds that term).

    Examples
    --------
    >>> from lrnotes.data import load_blobs
    >>> model = MLP().build(load_blobs(), seed=0)
    >>> [layer.units for layer in model.layers]
    [50, 3]
    """

    hidden: tuple[int, ...] = (50,)
    activation: str = "relu"
    kernel_initializer: str = "he_uniform"
    l2: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", _check_units("hidden", self.hidden))
        object.__setattr__(self, "l2", validation.number("l2", self.l2, low=0, low_open=False))
        keras.activations.get(self.activation)  # raises ValueError when unknown
        keras.initializers.get(self.kernel_initializer)

    def build(self, dataset: Dataset, seed: int) -> keras.Model:
        """A fresh, uncompiled Keras model whose weights depend only on ``seed``."""
        layers = _input(dataset, seed, model="MLP", rank=1, needs="flat features", instead="use CNN or a flat data set")
        for units in self.hidden:
            layers.append(
                keras.layers.Dense(units, activation=self.activation, kernel_initializer=self.kernel_initializer,
                                   kernel_regularizer=self.regularizer())
            )
        layers.append(_output_layer(dataset, self.regularizer()))
        return keras.Sequential(layers)

    def regularizer(self) -> keras.regularizers.Regularizer | None:
        """``keras.regularizers.L2(l2)``, or ``None`` without regularisation."""
        return keras.regularizers.L2(self.l2) if self.l2 else None


@dataclass(frozen=True)
class CNN:
    """A small convolutional network for small images.

    ``Conv2D(filters[0], 3, relu, padding="same")`` → ... → ``Flatten`` →
    ``Dense(dense, relu)`` → output layer. With the defaults on 8x8 digits it
    has about 75,000 weights.

    Examples
    --------
    >>> from lrnotes.data import load_digits
    >>> model = CNN().build(load_digits(images=True), seed=0)
    >>> model.output_shape
    (None, 10)
    """

    filters: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    dense: int = 64
    kernel_initializer: str = "he_uniform"

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", _check_units("filters", self.filters))
        _check_units("kernel_size", (self.kernel_size,))
        _check_units("dense", (self.dense,))

    def build(self, dataset: Dataset, seed: int) -> keras.Model:
        """A fresh, uncompiled Keras model whose weights depend only on ``seed``."""
        layers = _input(dataset, seed, model="CNN", rank=3, needs="images (height, width, channels)", instead="use MLP")
        for index, filters in enumerate(self.filters):
            layers.append(
                keras.layers.Conv2D(
                    filters,
                    self.kernel_size,
                    activation="relu",
                    padding="same",
                    kernel_initializer=self.kernel_initializer,
                )
            )
            if index < len(self.filters) - 1:
                layers.append(keras.layers.MaxPooling2D(2))
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(self.dense, activation="relu", kernel_initializer=self.kernel_initializer),
            _output_layer(dataset),
        ]
        return keras.Sequential(layers)


ModelSpec = MLP | CNN


def _output_layer(dataset: Dataset, regularizer: keras.regularizers.Regularizer | None = None) -> keras.layers.Layer:
    if dataset.binary:
        return keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=regularizer)
    return keras.layers.Dense(dataset.output_units, activation="softmax", kernel_regularizer=regularizer)


def build_model(spec: ModelSpec, dataset: Dataset, seed: int) -> keras.Model:
    """Build ``spec`` for ``dataset`` with the initial weights of ``seed``.

    Raises
    ------
    TypeError
        When ``spec`` is not an :class:`MLP` or a :class:`CNN`.

    Examples
    --------
    >>> from lrnotes.data import load_blobs
    >>> model = build_model(MLP(), load_blobs(), seed=0)
    >>> model.count_params(), model.output_shape
    (303, (None, 3))
    """
    if not isinstance(spec, (MLP, CNN)):
        raise TypeError(f"model must be an lrnotes MLP or CNN specification, got {type(spec).__name__}")
    return spec.build(dataset, seed)


def testbed_model(seed: int = 0) -> keras.Model:
    """The book's testbed network: Dense(50, relu, he_uniform) → Dense(3, softmax).

    Examples
    --------
    >>> testbed_model(seed=0).count_params()
    303
    """
    from lrnotes.data import load_dataset

    return MLP().build(load_dataset("blobs"), seed)
