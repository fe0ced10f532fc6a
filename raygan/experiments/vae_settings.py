"""Declaration of the VAE latent-augmentation family (no torch): its settings, metrics,
the labelled subset and the driver-side check. The training is in
:mod:`raygan.experiments.vae`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from raygan.experiments.base import Declaration
from raygan.experiments.shared_settings import MEMORIZATION_KEYS, DigitsData
from raygan.settings import setting, with_default

if TYPE_CHECKING:
    from raygan.data.digits import DigitSplit

METHODS = ("noise", "interpolation", "extrapolation")


@dataclass
class VAEData(DigitsData):
    seed: int = with_default(
        DigitsData,
        "seed",
        0,
        help="seed of the split, of the labelled subset and of the classifiers",
    )


@dataclass
class VAEConfig:
    # the VAE (paper: 5x5 stride-2 convs of 16 and 8 channels, 1024 dense, Z in 10..100)
    latent: int = setting(20, low=1, high=4096, help="latent size Z (paper: 10, 20, 50, 100)")
    hidden: int = setting(1024, low=1, high=16_384, help="dense units (paper: 1024)")
    beta: float = setting(
        1.0,
        low=0.0,
        high=100.0,
        help="KL weight; 1 = the paper's VAE (8x8 digits want less: see raygan/experiments/vae.py)",
    )
    lr: float = setting(1e-3, low=1e-6, high=1.0, help="Adam learning rate")
    batch_size: int = setting(64, low=1, high=65_536)
    vae_epochs: int = setting(
        30, low=1, high=100_000, help="passes over all training images, over all rounds"
    )
    rounds: int = setting(
        2, low=1, high=1000, help="evaluations; the epochs are split evenly between them"
    )
    # latent augmentation (paper: alpha 0.5 and k 3 throughout)
    method: str = setting("interpolation", choices=METHODS)
    alpha: float = setting(0.5, low=0.0, high=10.0, help="noise scale, or step towards/away")
    k: int = setting(3, low=1, high=1000, help="nearest same-class neighbours")
    amount: int = setting(
        3, low=0, high=1000, help="generated samples per labelled sample (k: the paper's)"
    )
    labelled: int = setting(
        100,
        low=0,
        high=10_000_000,
        help="labelled training samples, drawn stratified with the data seed; 0 = all",
    )


class VAEDeclaration(Declaration):
    Config = VAEConfig
    Data = VAEData
    metrics = (
        "gain",
        "gain_svm",
        "gain_knn",
        "gain_mlp",
        "svm_accuracy",
        "knn_accuracy",
        "mlp_accuracy",
        "svm_accuracy_base",
        "knn_accuracy_base",
        "mlp_accuracy_base",
        *MEMORIZATION_KEYS,
        "recon_loss",
        "kl",
        "val_recon",
    )
    sample_kind = "image"
    # generated samples per labelled one given to the classifiers: the VAE never sees it
    sampling_settings = ("amount",)
    has_baselines = True  # the labelled set alone, SMOTE, every training image labelled

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        cfg, d = cls.build_settings(config, data)
        _, y = labelled_set(d.split(), cfg.labelled, seed=d.seed)
        smallest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 0
        needs = cfg.method != "noise" and cfg.amount > 0
        if needs and smallest <= cfg.k:  # found here, not in every trial
            raise ValueError(
                f"fixed.k: {cfg.k} neighbours, but the labelled set ({cfg.labelled}) holds "
                f"{smallest} samples of its smallest class; {cfg.method} needs k <= "
                f"{smallest - 1}, or more labelled samples"
            )


def labelled_set(split: DigitSplit, size: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x (m, 1, H, W), y (m,)): ``size`` training samples drawn stratified by class with
    ``seed``, or all of them for 0. Raises ValueError naming fixed.labelled when ``size``
    exceeds the training set or leaves a class fewer than 2 samples."""
    index = labelled_indices(split, size, seed=seed)
    if index is None:
        return split.x_train, split.y_train
    return split.x_train[index], split.y_train[index]


def labelled_indices(split: DigitSplit, size: int, *, seed: int) -> np.ndarray | None:
    """(m,) int: which training samples ``labelled_set`` takes, in its order; None for all
    of them in their own order. Raises ValueError as ``labelled_set``."""
    from sklearn.model_selection import train_test_split  # slow to import: when used

    n, classes = len(split.y_train), len(np.unique(split.y_train))
    if size == 0 or size == n:
        return None
    if size > n:
        raise ValueError(f"fixed.labelled: {size} exceeds the {n} training samples; 0 = all")
    if size < 2 * classes:
        raise ValueError(
            f"fixed.labelled: {size} leaves fewer than 2 samples per class ({classes} "
            f"classes); neighbours need 2; choose 0 or >= {2 * classes}"
        )
    # the split of the indices is the split of the samples: it depends only on their
    # number, the classes and the seed
    index, _ = train_test_split(
        np.arange(n), train_size=size, stratify=split.y_train, random_state=seed
    )
    return index
