"""The generator-free baselines: classic augmentation and SMOTE (imbalanced-learn)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from raygan.experiments.baselines import classic_augment, smote


@pytest.fixture(scope="module")
def split():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    return train_test_split(x, d.target, test_size=500, stratify=d.target, random_state=0)


def test_classic_augment(split):
    x = split[0][:20]
    out = classic_augment(x, count=50, rng=np.random.default_rng(0))
    assert out.shape == (50, 1, 8, 8) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    # every new image differs from every source image
    dist = ((out.reshape(50, 1, -1) - x.reshape(1, 20, -1)) ** 2).sum(2)
    assert dist.min() > 0
    again = classic_augment(x, count=50, rng=np.random.default_rng(0))
    assert np.array_equal(out, again)
    flat = classic_augment(x[:, 0], count=4, rng=np.random.default_rng(1), max_shift=3)
    assert flat.shape == (4, 8, 8)
    assert classic_augment(x, count=0, rng=np.random.default_rng(0)).shape == (0, 1, 8, 8)


def test_smote_lies_on_same_class_segments(split):
    x_train, _, y_train, _ = split
    x = x_train[y_train == 5][:12].astype(np.float64)
    new = smote(x, count=40, k=3, rng=np.random.default_rng(0))
    assert new.shape == (40, 1, 8, 8)
    a, b, p = x.reshape(12, 1, 1, -1), x.reshape(1, 12, 1, -1), new.reshape(1, 1, 40, -1)
    d = b - a  # (12, 12, 1, 64): segment i -> j
    t = ((p - a) * d).sum(-1) / np.maximum((d**2).sum(-1), 1e-12)  # (12, 12, 40)
    residual = np.linalg.norm(p - (a + t[..., None] * d), axis=-1)
    residual[np.eye(12, dtype=bool)] = np.inf
    on_segment = (residual < 1e-4) & (t >= -1e-6) & (t <= 1 + 1e-6)
    assert on_segment.any(axis=(0, 1)).all()
    with pytest.raises(ValueError):
        smote(x[:1], count=3, rng=np.random.default_rng(0))


def test_smote_makes_exactly_count_samples_deterministically(split):
    x_train, _, y_train, _ = split
    x = x_train[y_train == 5][:12]
    for count in (0, 1, 7, 100):
        new = smote(x, count=count, rng=np.random.default_rng(3))
        assert new.shape == (count, 1, 8, 8) and new.dtype == np.float32
    a = smote(x, count=30, rng=np.random.default_rng(3))
    assert np.array_equal(a, smote(x, count=30, rng=np.random.default_rng(3)))
    assert not np.array_equal(a, smote(x, count=30, rng=np.random.default_rng(4)))


def test_smote_with_two_samples_interpolates_between_them(split):
    x_train, _, y_train, _ = split
    x = x_train[y_train == 5][:2].astype(np.float64)
    new = smote(x, count=20, k=5, rng=np.random.default_rng(0)).astype(np.float64)
    d = (x[1] - x[0]).ravel()
    t = (new.reshape(20, -1) - x[0].ravel()) @ d / (d @ d)  # (20,) position on the segment
    residual = new.reshape(20, -1) - (x[0].ravel() + t[:, None] * d)
    assert np.abs(residual).max() < 1e-4 and (t >= -1e-6).all() and (t <= 1 + 1e-6).all()
    with pytest.raises(ValueError, match="SMOTE needs at least 2 samples of the class, got 1"):
        smote(x[:1], count=3, rng=np.random.default_rng(0))
