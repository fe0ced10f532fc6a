"""Downstream utility of augmented training data (train on the augmented data, test on
real data): a fixed small CNN (``raygan.models.classifier.SmallCNN``) or fixed
scikit-learn classifiers, scored on a balanced test set.

The classifier is the Keras MNIST CNN the WGAN-augmentation paper uses, scaled to the
input size; its training settings are fixed so that scores compare across trials: the only
thing a trial changes is the training data. Training is unweighted and unbalanced on
purpose: the imbalance is what augmentation is meant to repair.

Inputs are images (n, 1, H, W) or (n, H, W) in [0, 1], numpy or torch; labels (n,) ints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn import metrics

from raygan.models.classifier import SmallCNN


@dataclass(frozen=True)
class ClassifierSettings:
    # Fixed across the trials of a study: a trial's score must move only with its training
    # data, not with the classifier's own tuning or luck (hence a fixed seed as well).
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3  # Adam, Keras' default
    weight_decay: float = 0.0
    seed: int = 0


def _images(x) -> torch.Tensor:
    """numpy or torch, (n, H, W) or (n, 1, H, W) -> float32 CPU tensor (n, 1, H, W)."""
    # a copy: cached data sets are read-only numpy arrays, which torch will not wrap quietly
    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x, dtype=np.float32))
    x = x.detach().cpu().float()
    x = x.unsqueeze(1) if x.dim() == 3 else x
    # A fresh standard layout: a one-channel view like x[:, None] has channels-last strides,
    # which send convolutions down another kernel whose rounding, amplified by training,
    # breaks "same inputs, same scores" (.contiguous() keeps it: it counts as contiguous).
    return x.clone(memory_format=torch.contiguous_format)


def _labels(y) -> torch.Tensor:
    y = y.detach().cpu() if isinstance(y, torch.Tensor) else torch.from_numpy(np.array(y))
    return y.long()


def train_classifier(
    x,
    y,
    *,
    num_classes: int,
    settings: ClassifierSettings = ClassifierSettings(),  # noqa: B008 (frozen, so shared is safe)
    device: str | torch.device = "cpu",
) -> SmallCNN:
    """Train a SmallCNN with Adam on images x (n, 1, H, W) or (n, H, W) and labels y (n,).
    Same inputs and settings, same model: the initialisation and dropout draw from a
    forked RNG seeded with settings.seed (the caller's global RNG state is left as it
    was), and shuffling uses its own generator. Returns the model in eval mode.
    Raises ValueError when x and y differ in length or are empty."""
    x, y = _images(x), _labels(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as images, and some: {len(x)} vs {len(y)}")
    device = torch.device(device)
    cuda = device.type == "cuda"
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if cuda else []
    )
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(settings.seed)
        model = SmallCNN(num_classes=num_classes, image_size=x.shape[-1]).to(device)
        opt = torch.optim.Adam(
            model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        shuffle = torch.Generator().manual_seed(settings.seed)
        x, y = x.to(device), y.to(device)
        model.train()
        for _ in range(settings.epochs):
            order = torch.randperm(len(x), generator=shuffle).to(device)
            for idx in order.split(settings.batch_size):
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    model.eval()
    return model


@torch.no_grad()
def predict(model: nn.Module, x, *, batch_size: int = 1024) -> np.ndarray:
    """(n,) predicted classes, in eval mode (no dropout)."""
    device = next(model.parameters()).device
    model.eval()
    x = _images(x)
    out = [model(part.to(device)).argmax(1).cpu() for part in x.split(batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def evaluate_classifier(
    model: nn.Module, x_test, y_test, *, minority: int, num_classes: int
) -> dict:
    """accuracy, balanced_accuracy, minority_recall, macro_f1 (floats in [0, 1]) and
    confusion (num_classes x num_classes list of int lists; rows true class, columns
    predicted) of ``model`` on x_test (m, 1, H, W), y_test (m,). Every class counts in
    macro F1, predicted or not (an unpredicted class scores 0). Raises ValueError when
    y_test holds no sample of ``minority``."""
    y_true = _labels(y_test).numpy()
    if not (y_true == minority).any():
        raise ValueError(f"the test set has no sample of the minority class {minority}")
    y_pred = predict(model, x_test)
    labels = list(range(num_classes))
    cm = metrics.confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y_true, y_pred)),
        "minority_recall": float(cm[minority, minority] / cm[minority].sum()),
        "macro_f1": float(
            metrics.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "confusion": cm.astype(int).tolist(),
    }


def utility_scores(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    minority: int,
    num_classes: int,
    settings: ClassifierSettings = ClassifierSettings(),  # noqa: B008
    device: str | torch.device = "cpu",
) -> dict:
    """train_classifier on the training data, then evaluate_classifier on the test data:
    the train-on-augmented, test-on-real scores. Errors as those two raise."""
    model = train_classifier(
        x_train, y_train, num_classes=num_classes, settings=settings, device=device
    )
    return evaluate_classifier(model, x_test, y_test, minority=minority, num_classes=num_classes)


# ---- scikit-learn classifiers (the VAE latent-augmentation paper's SVM, kNN and MLP) -----

SKLEARN_CLASSIFIERS = ("svm", "knn", "mlp")


def sklearn_scores(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    classifiers: tuple[str, ...] = SKLEARN_CLASSIFIERS,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, float]:
    """Test accuracy of each named classifier trained on (x_train, y_train), on flattened
    pixels: ``{"svm_accuracy": ..., "knn_accuracy": ..., "mlp_accuracy": ...}``.

    Settings are fixed, never tuned per trial: a trial's score must move only with its
    training data (the generated samples), not with the classifiers' own tuning or luck,
    hence a fixed ``seed`` for the MLP as well. SVM: scikit-learn's RBF SVC defaults
    (C = 1, gamma 'scale'). kNN: 5 neighbours, scikit-learn's default (the paper names
    none). MLP: one hidden layer of 100 units, Adam, at most 200 epochs; the paper's five
    1024-unit layers with dropout and batch norm would be slow on a laptop and overfit the
    few hundred labelled samples. Hitting the 200 epochs is part of the fixed setting, so
    scikit-learn's ConvergenceWarning is silenced.

    ``threads`` caps the BLAS threads scikit-learn uses (default: torch's thread count,
    which the engine sets from the trial's CPUs). Uncapped, OpenBLAS starts one thread per
    core in every concurrent trial; on a busy 2-core machine the MLP on 400 digits took
    10.8 s that way, 0.36 s with one thread.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    from threadpoolctl import threadpool_limits

    make = {
        "svm": lambda: SVC(kernel="rbf"),
        "knn": lambda: KNeighborsClassifier(n_neighbors=5),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(100,), max_iter=200, random_state=seed),
    }
    unknown = [c for c in classifiers if c not in make]
    if unknown:
        raise ValueError(f"classifiers {unknown} unknown; choose from {', '.join(make)}")
    x = np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1)  # (n, H*W)
    y = np.asarray(y_train)
    xt = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)  # (m, H*W)
    yt = np.asarray(y_test)
    if len(x) != len(y) or len(x) == 0 or len(xt) != len(yt) or len(xt) == 0:
        raise ValueError(
            f"need as many labels as images, and some: train {len(x)} vs {len(y)}, "
            f"test {len(xt)} vs {len(yt)}"
        )
    out = {}
    with threadpool_limits(limits=threads or torch.get_num_threads()):
        for name in classifiers:
            model = make[name]()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x, y)
            out[f"{name}_accuracy"] = float(metrics.accuracy_score(yt, model.predict(xt)))
    return out
