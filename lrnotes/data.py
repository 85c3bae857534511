"""Data sets of the book: the blobs testbed, digits, Ionosphere (and online options).

Every loader returns a :class:`Dataset` with float32 features, one-hot targets
for several classes (a single 0/1 column for two classes), and a fixed
three-way split: training data to fit, validation data to choose settings by
(a learning rate, a patience, an epoch to stop at), and test data that no
choice has seen, for the numbers the book reports. Nothing is downloaded
unless a reader asks for MNIST or CIFAR-10, which are online-only options.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

from lrnotes import validation

__all__ = [
    "DATASETS",
    "SPLITS",
    "IONOSPHERE_SHA256",
    "Dataset",
    "bayes_accuracy",
    "bayes_predict",
    "load_blobs",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_ionosphere",
    "load_mnist",
]

#: Settings of the testbed, as in the classic tutorials.
BLOBS_SETTINGS = dict(n_samples=1000, centers=3, n_features=2, cluster_std=2.0, random_state=2)

#: sha256 of the vendored ``ionosphere.csv``.
IONOSPHERE_SHA256 = "fd6dd7864b55d56dac0a1e6e24af9ccc35bf2555ac79af8ab9f3d1daa065ab83"

#: Seed of the fixed train/test splits of digits and Ionosphere.
SPLIT_SEED = 7

#: Seed of the blobs' validation points (500 more draws from the same blobs).
BLOBS_VALIDATION_SEED = 3

#: Splits a data set has, in the order the engine evaluates them.
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/validation/test split ready for Keras.

    Attributes
    ----------
    name : str
        Short name, as accepted by :func:`load_dataset`.
    x_train, y_train, x_val, y_val, x_test, y_test : numpy.ndarray
        Features (float32) and targets (float32; one-hot for several classes,
        a single 0/1 column for two classes) of the training, validation and
        test splits.
    class_names : tuple of str
        Names of the classes, in target order.
    description : str
        One sentence for figure captions and tables.
    extras : dict
        Data set specific extras (for the blobs: the generating centres).

    Examples
    --------
    >>> blobs = load_blobs()
    >>> blobs.n_classes, blobs.input_shape, blobs.split("validation")[0].shape
    (3, (2,), (500, 2))
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    description: str
    extras: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def binary(self) -> bool:
        """Whether the targets are a single 0/1 column (sigmoid output)."""
        return self.y_train.shape[1] == 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.x_train.shape[1:])

    @property
    def output_units(self) -> int:
        """Units of the output layer: 1 for binary targets, else the classes."""
        return int(self.y_train.shape[1])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Features and targets of the ``"train"``, ``"validation"`` or ``"test"`` split."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {name!r}")
        return {
            "train": (self.x_train, self.y_train),
            "validation": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }[name]

    def labels(self, split: str = "train") -> np.ndarray:
        """Integer class labels of the ``"train"``, ``"validation"`` or ``"test"`` split."""
        targets = self.split(split)[1]
        if self.binary:
            return targets[:, 0].astype(int)
        return targets.argmax(axis=1)


def _one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype="float32")[labels]


def load_blobs() -> Dataset:
    """The book's testbed: three overlapping Gaussian blobs in two dimensions.

    ``make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2,
    random_state=2)``; the first 500 rows train, the last 500 test. The
    problem is generated, so it can afford a validation split of its own:
    500 more points drawn from the same three blobs (same centres and spread,
    ``random_state=3``), so choosing a setting on validation data never
    touches the test points.

    Returns
    -------
    Dataset
        With the generating centres in ``extras["centers"]`` and the standard
        deviation in ``extras["cluster_std"]``.

    Examples
    --------
    >>> blobs = load_blobs()
    >>> blobs.x_train.shape, blobs.x_val.shape, blobs.y_test.shape
    ((500, 2), (500, 2), (500, 3))
    """
    features, labels, centers = make_blobs(return_centers=True, **BLOBS_SETTINGS)
    features = features.astype("float32")
    targets = _one_hot(labels, 3)
    x_val, l_val = make_blobs(
        n_samples=500, centers=centers, n_features=2, cluster_std=BLOBS_SETTINGS["cluster_std"],
        random_state=BLOBS_VALIDATION_SEED,
    )
    return Dataset(
        name="blobs",
        x_train=features[:500],
        y_train=targets[:500],
        x_val=x_val.astype("float32"),
        y_val=_one_hot(l_val, 3),
        x_test=features[500:],
        y_test=targets[500:],
        class_names=("0", "1", "2"),
        description="three Gaussian blobs in 2-D (500 train, 500 validation, 500 test)",
        extras={
            "centers": centers,
            "cluster_std": BLOBS_SETTINGS["cluster_std"],
            "counts": np.bincount(labels, minlength=3),
        },
    )


def bayes_accuracy(dataset: Dataset | None = None, *, resolution: float = 0.05) -> float:
    """Accuracy of the Bayes-optimal classifier of the blobs problem.

    The blobs are isotropic Gaussians with known centres and a common standard
    deviation, drawn in (almost) equal numbers, so the best possible rule picks
    the class ``k`` that maximises ``pi_k N(x; mu_k, sigma^2 I)``. Its accuracy
    is the integral of ``max_k pi_k N(x; mu_k, sigma^2 I)`` over the plane,
    computed here on a grid (halving the default spacing changes it by
    less than 1e-8).

    Parameters
    ----------
    dataset : Dataset, optional
        The blobs data set; loaded when omitted.
    resolution : float, default 0.05
        Grid spacing, in the units of the features.

    Returns
    -------
    float
        The Bayes-optimal accuracy, a ceiling for every model in the book.

    Examples
    --------
    >>> round(bayes_accuracy(), 4)
    0.8226
    """
    dataset = load_blobs() if dataset is None else dataset
    if "centers" not in dataset.extras:
        raise ValueError("bayes_accuracy needs the blobs data set (generating centres known)")
    resolution = validation.number("resolution", resolution, low=0)
    centers = np.asarray(dataset.extras["centers"], dtype=float)
    sigma = float(dataset.extras["cluster_std"])
    priors = dataset.extras["counts"] / dataset.extras["counts"].sum()
    low = centers.min(axis=0) - 9 * sigma
    high = centers.max(axis=0) + 9 * sigma
    xs = np.arange(low[0], high[0], resolution)
    total = 0.0
    for start in range(0, xs.size, 500):  # in strips, to bound memory
        grid_x, grid_y = np.meshgrid(xs[start : start + 500], np.arange(low[1], high[1], resolution))
        points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
        sq = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        density = priors * np.exp(-sq / (2 * sigma**2)) / (2 * np.pi * sigma**2)
        total += density.max(axis=1).sum()
    return float(total * resolution**2)


def bayes_predict(dataset: Dataset, features: np.ndarray) -> np.ndarray:
    """Class labels chosen by the Bayes-optimal rule of the blobs problem.

    Examples
    --------
    >>> blobs = load_blobs()
    >>> float((bayes_predict(blobs, blobs.x_test) == blobs.labels("test")).mean())
    0.84
    """
    centers = np.asarray(dataset.extras["centers"], dtype=float)
    sigma = float(dataset.extras["cluster_std"])
    priors = dataset.extras["counts"] / dataset.extras["counts"].sum()
    sq = ((np.asarray(features, float)[:, None, :] - centers[None]) ** 2).sum(axis=2)
    return np.argmax(np.log(priors) - sq / (2 * sigma**2), axis=1)


def load_digits(*, images: bool = False) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

    Pixel values are scaled to [0, 1]; a stratified split keeps 25% for
    testing, and a fifth of the rest (stratified again) for validation.

    Parameters
    ----------
    images : bool, default False
        ``False`` gives flat vectors of 64 features (for dense networks);
        ``True`` gives 8x8x1 images (for convolutional networks).

    Examples
    --------
    >>> digits = load_digits()
    >>> digits.x_train.shape, digits.x_val.shape, digits.x_test.shape, digits.n_classes
    ((1077, 64), (270, 64), (450, 64), 10)
    >>> load_digits(images=True).input_shape
    (8, 8, 1)
    """
    bunch = _sk_load_digits()
    features = (bunch.data / 16.0).astype("float32")
    labels = bunch.target
    x_train, x_test, l_train, l_test = train_test_split(
        features, labels, test_size=0.25, stratify=labels, random_state=SPLIT_SEED
    )
    x_train, x_val, l_train, l_val = train_test_split(
        x_train, l_train, test_size=0.2, stratify=l_train, random_state=SPLIT_SEED
    )
    if images:
        x_train, x_val, x_test = (x.reshape(-1, 8, 8, 1) for x in (x_train, x_val, x_test))
    return Dataset(
        name="digits_images" if images else "digits",
        x_train=x_train,
        y_train=_one_hot(l_train, 10),
        x_val=x_val,
        y_val=_one_hot(l_val, 10),
        x_test=x_test,
        y_test=_one_hot(l_test, 10),
        class_names=tuple(str(d) for d in range(10)),
        description="scikit-learn's 8x8 digits (1,077 train, 270 validation, 450 test)",
    )


def _verified_ionosphere_bytes() -> bytes:
    payload = resources.files("lrnotes").joinpath("datasets/ionosphere.csv").read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != IONOSPHERE_SHA256:
        raise ValueError(
            "the vendored ionosphere.csv does not match its checksum "
            f"(expected sha256 {IONOSPHERE_SHA256}, got {digest}); "
            "reinstall lrnotes or restore lrnotes/datasets/ionosphere.csv"
        )
    return payload


def load_ionosphere() -> Dataset:
    """The UCI Ionosphere radar returns (351 rows, 34 features, good/bad).

    Read from the copy shipped inside the package (CC BY 4.0; Sigillito et al.,
    1989), after checking its sha256. The split is stratified, 67% train and
    33% test, as in the tutorials; a quarter of the training rows (stratified
    again) are held out for validation. Targets are a single column: 1 for a
    good return (``g``).

    Raises
    ------
    ValueError
        When the vendored file does not match its checksum.

    Examples
    --------
    >>> iono = load_ionosphere()
    >>> iono.x_train.shape, iono.x_val.shape, iono.x_test.shape, iono.binary
    ((176, 34), (59, 34), (116, 34), True)
    """
    import io

    import pandas as pd

    frame = pd.read_csv(io.BytesIO(_verified_ionosphere_bytes()), header=None)
    features = frame.iloc[:, :-1].to_numpy(dtype="float32")
    labels = (frame.iloc[:, -1] == "g").to_numpy(dtype=int)
    x_train, x_test, l_train, l_test = train_test_split(
        features, labels, test_size=0.33, stratify=labels, random_state=SPLIT_SEED
    )
    x_train, x_val, l_train, l_val = train_test_split(
        x_train, l_train, test_size=0.25, stratify=l_train, random_state=SPLIT_SEED
    )
    column = lambda labels: labels.reshape(-1, 1).astype("float32")  # noqa: E731
    return Dataset(
        name="ionosphere",
        x_train=x_train,
        y_train=column(l_train),
        x_val=x_val,
        y_val=column(l_val),
        x_test=x_test,
        y_test=column(l_test),
        class_names=("bad", "good"),
        description="UCI Ionosphere radar returns (176 train, 59 validation, 116 test)",
    )


def load_mnist() -> Dataset:  # pragma: no cover - needs the internet
    """MNIST through ``keras.datasets`` (online only: downloads 11 MB once)."""
    from lrnotes._runtime import keras

    (x_train, l_train), (x_test, l_test) = keras.datasets.mnist.load_data()
    x_train = (x_train.reshape(-1, 784) / 255.0).astype("float32")
    return Dataset(
        name="mnist",
        x_train=x_train[:-10_000],
        y_train=_one_hot(l_train[:-10_000], 10),
        x_val=x_train[-10_000:],
        y_val=_one_hot(l_train[-10_000:], 10),
        x_test=(x_test.reshape(-1, 784) / 255.0).astype("float32"),
        y_test=_one_hot(l_test, 10),
        class_names=tuple(str(d) for d in range(10)),
        description="MNIST handwritten digits (50,000 train, 10,000 validation, 10,000 test)",
    )


def load_cifar10() -> Dataset:  # pragma: no cover - needs the internet
    """CIFAR-10 through ``keras.datasets`` (online only: downloads 170 MB once)."""
    from lrnotes._runtime import keras

    (x_train, l_train), (x_test, l_test) = keras.datasets.cifar10.load_data()
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    x_train, l_train = (x_train / 255.0).astype("float32"), l_train.ravel()
    return Dataset(
        name="cifar10",
        x_train=x_train[:-5_000],
        y_train=_one_hot(l_train[:-5_000], 10),
        x_val=x_train[-5_000:],
        y_val=_one_hot(l_train[-5_000:], 10),
        x_test=(x_test / 255.0).astype("float32"),
        y_test=_one_hot(l_test.ravel(), 10),
        class_names=names,
        description="CIFAR-10 colour images (45,000 train, 5,000 validation, 10,000 test)",
    )


#: Loaders by name; ``mnist`` and ``cifar10`` need the internet.
DATASETS = {
    "blobs": load_blobs,
    "digits": load_digits,
    "digits_images": functools.partial(load_digits, images=True),
    "ionosphere": load_ionosphere,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
}

#: Data sets that download on first use.
ONLINE_DATASETS = frozenset({"mnist", "cifar10"})


@functools.lru_cache(maxsize=None)
def load_dataset(name: str) -> Dataset:
    """Load a data set by name (cached for the life of the process).

    Parameters
    ----------
    name : str
        One of ``"blobs"``, ``"digits"``, ``"digits_images"``,
        ``"ionosphere"``, ``"mnist"`` (online), ``"cifar10"`` (online).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the accepted names.

    Examples
    --------
    >>> load_dataset("blobs").name
    'blobs'
    >>> load_dataset("iris")
    Traceback (most recent call last):
    ...
    ValueError: unknown data set 'iris'; expected one of: blobs, cifar10, digits, digits_images, ionosphere, mnist
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]()
