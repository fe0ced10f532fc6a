"""Downstream utility: the small CNN's scores."""

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from raygan.metrics.utility import (
    ClassifierSettings,
    evaluate_classifier,
    train_classifier,
    utility_scores,
)
from raygan.models.classifier import SmallCNN

FEW = ClassifierSettings(epochs=4)  # enough for digits; keeps the module to seconds


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """On a busy 2-core machine a second OpenMP thread mostly spins (measured: 30 epochs
    took 13.5 s with 1 thread, 163 s with 2)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def split():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    return train_test_split(x, d.target, test_size=500, stratify=d.target, random_state=0)


@pytest.fixture(scope="module")
def balanced(split):
    x_train, x_test, y_train, y_test = split
    model = train_classifier(x_train, y_train, num_classes=10, settings=FEW)
    return evaluate_classifier(model, x_test, y_test, minority=5, num_classes=10)


def test_trains_on_digits(balanced):
    assert balanced["accuracy"] >= 0.85
    assert set(balanced) == {
        "accuracy",
        "balanced_accuracy",
        "minority_recall",
        "macro_f1",
        "confusion",
    }
    assert all(isinstance(balanced[k], float) for k in balanced if k != "confusion")


def test_confusion_matrix(split, balanced):
    y_test = split[3]
    cm = np.array(balanced["confusion"])
    assert cm.shape == (10, 10)
    assert all(type(v) is int for row in balanced["confusion"] for v in row)
    assert cm.sum(1).tolist() == np.bincount(y_test, minlength=10).tolist()  # rows: true
    assert np.trace(cm) / cm.sum() == pytest.approx(balanced["accuracy"])
    assert cm[5, 5] / cm[5].sum() == pytest.approx(balanced["minority_recall"])


def test_deterministic_and_leaves_global_rng_alone(split):
    x_train, x_test, y_train, y_test = split
    settings = dataclasses.replace(FEW, epochs=1)
    state = torch.get_rng_state()
    a = utility_scores(
        x_train, y_train, x_test, y_test, minority=5, num_classes=10, settings=settings
    )
    b = utility_scores(
        torch.as_tensor(x_train),
        y_train,
        x_test,
        y_test,
        minority=5,
        num_classes=10,
        settings=settings,
    )
    assert a == b
    assert torch.equal(torch.get_rng_state(), state)


def test_removing_a_class_lowers_its_recall(split, balanced):
    x_train, x_test, y_train, y_test = split
    fives = np.flatnonzero(y_train == 5)
    keep = np.setdiff1d(np.arange(len(y_train)), fives[3:])  # 3 fives left of ~130
    cut = utility_scores(
        x_train[keep], y_train[keep], x_test, y_test, minority=5, num_classes=10, settings=FEW
    )
    assert cut["minority_recall"] < balanced["minority_recall"] - 0.2
    assert cut["balanced_accuracy"] < balanced["balanced_accuracy"]


def test_evaluate_needs_minority_in_test(split):
    x_train, x_test, y_train, y_test = split
    model = SmallCNN(num_classes=10, image_size=8)
    with pytest.raises(ValueError, match="minority"):
        evaluate_classifier(
            model, x_test[y_test != 5], y_test[y_test != 5], minority=5, num_classes=10
        )
