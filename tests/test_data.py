"""Data sets: shapes, splits, the Bayes ceiling, the vendored Ionosphere checksum."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import lrnotes.data as data
import keras


def test_blobs_follow_the_tutorial_settings():
    blobs = data.load_blobs()
    assert blobs.x_train.shape == (500, 2) and blobs.x_test.shape == (500, 2)
    assert blobs.y_train.shape == (500, 3) and blobs.x_train.dtype == np.float32
    assert np.allclose(blobs.y_train.sum(axis=1), 1.0)  # one-hot
    # the first 500 rows of make_blobs(..., random_state=2) train, the last 500 test
    from sklearn.datasets import make_blobs

    features, labels = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    assert np.allclose(blobs.x_test, features[500:].astype(np.float32))
    assert (blobs.labels("test") == labels[500:]).all()


def test_blobs_validation_points_are_new_draws_from_the_same_blobs():
    blobs = data.load_blobs()
    assert blobs.x_val.shape == (500, 2) and blobs.y_val.shape == (500, 3)
    seen = {tuple(row) for row in np.concatenate([blobs.x_train, blobs.x_test])}
    assert not any(tuple(row) in seen for row in blobs.x_val)  # no point shared with train or test
    centers = blobs.extras["centers"]
    for label in range(3):  # same centres and spread
        points = blobs.x_val[blobs.labels("validation") == label]
        standard_error = 2.0 * np.sqrt(2 / len(points))  # of the 2-D mean's distance, spread 2
        assert np.linalg.norm(points.mean(axis=0) - centers[label]) < 3 * standard_error
        assert points.std(axis=0).mean() == pytest.approx(2.0, abs=0.25)
    # the Bayes rule does about as well on validation as on test points
    for split in ("validation", "test"):
        accuracy = (data.bayes_predict(blobs, blobs.split(split)[0]) == blobs.labels(split)).mean()
        assert accuracy == pytest.approx(data.bayes_accuracy(blobs), abs=0.04)


def test_splits_are_named_and_checked():
    blobs = data.load_blobs()
    assert blobs.split("validation")[0] is blobs.x_val
    with pytest.raises(ValueError, match="split must be one of 'train', 'validation', 'test', got 'val'"):
        blobs.labels("val")


def test_bayes_accuracy_is_a_ceiling_that_converges():
    blobs = data.load_blobs()
    coarse = data.bayes_accuracy(blobs, resolution=0.1)
    fine = data.bayes_accuracy(blobs, resolution=0.025)
    assert abs(coarse - fine) < 1e-4
    assert 0.80 < fine < 0.85
    # Monte Carlo check of the integral with fresh samples from the same Gaussians
    rng = np.random.default_rng(0)
    centers = blobs.extras["centers"]
    labels = rng.choice(3, size=200_000, p=blobs.extras["counts"] / 1000)
    points = centers[labels] + rng.normal(scale=2.0, size=(labels.size, 2))
    monte_carlo = (data.bayes_predict(blobs, points) == labels).mean()
    assert abs(monte_carlo - fine) < 0.005
    # no classifier beats it on fresh data: nearest-centroid equals it, a wrong rule is worse
    assert (np.argmin(((points[:, None] - centers[None]) ** 2).sum(-1), 1) == labels).mean() <= monte_carlo + 0.002


def test_bayes_accuracy_rejects_other_data_and_bad_resolution():
    with pytest.raises(ValueError, match="blobs"):
        data.bayes_accuracy(data.load_digits())
    with pytest.raises(ValueError, match="resolution"):
        data.bayes_accuracy(resolution=0)


def test_digits_split_is_stratified_and_scaled():
    digits = data.load_digits()
    assert digits.x_train.shape == (1077, 64) and digits.x_val.shape == (270, 64) and digits.x_test.shape == (450, 64)
    assert digits.x_train.min() >= 0 and digits.x_train.max() <= 1
    shares = [np.bincount(digits.labels(split), minlength=10) / len(digits.labels(split))
              for split in ("train", "validation", "test")]
    assert max(np.abs(share - shares[0]).max() for share in shares) < 0.01
    all_rows = np.concatenate([digits.x_train, digits.x_val, digits.x_test])
    assert len(np.unique(all_rows, axis=0)) == len(np.unique(_sk_digits(), axis=0))  # nothing lost or repeated
    images = data.load_digits(images=True)
    assert images.input_shape == (8, 8, 1)
    assert np.array_equal(images.x_train.reshape(-1, 64), digits.x_train)


def test_ionosphere_is_vendored_verified_and_split():
    iono = data.load_ionosphere()
    assert iono.x_train.shape == (176, 34) and iono.x_val.shape == (59, 34) and iono.x_test.shape == (116, 34)
    assert iono.binary and iono.y_train.shape == (176, 1)
    assert set(np.unique(iono.y_train)) == {0.0, 1.0}
    # 225 good and 126 bad returns, split in the same proportion
    assert iono.y_train.sum() + iono.y_val.sum() + iono.y_test.sum() == 225
    assert abs(iono.y_train.mean() - iono.y_test.mean()) < 0.02
    assert abs(iono.y_val.mean() - iono.y_test.mean()) < 0.02
    assert iono.x_train.min() >= -1 and iono.x_train.max() <= 1


def _sk_digits():
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)


def test_ionosphere_checksum_mismatch_is_a_clear_error(monkeypatch, tmp_path):
    original = (data.resources.files("lrnotes") / "datasets/ionosphere.csv").read_bytes()
    assert hashlib.sha256(original).hexdigest() == data.IONOSPHERE_SHA256
    damaged = tmp_path / "lrnotes" / "datasets"
    damaged.mkdir(parents=True)
    (damaged / "ionosphere.csv").write_bytes(original.replace(b"1,0,0.99539", b"1,0,0.99540", 1))
    monkeypatch.setattr(data.resources, "files", lambda package: tmp_path / "lrnotes")
    with pytest.raises(ValueError, match="checksum"):
        data.load_ionosphere()


def test_unknown_dataset_lists_the_names():
    with pytest.raises(ValueError, match="blobs, cifar10, digits, digits_images, ionosphere, mnist"):
        data.load_dataset("iris")


def test_offline_datasets_never_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", refuse)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", refuse)
    for name in sorted(data.DATASETS.keys() - data.ONLINE_DATASETS):
        data.DATASETS[name]()
