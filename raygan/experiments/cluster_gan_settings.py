"""Declaration of the cluster-GAN-cluster family (no torch): its settings, metrics and
driver-side check. The training is in :mod:`raygan.experiments.cluster_gan`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from raygan.data import DataError
from raygan.data.idx import NUM_CLASSES
from raygan.experiments.base import Declaration
from raygan.experiments.shared_settings import MEMORIZATION_KEYS, DigitsData, GANConfig
from raygan.settings import is_int, setting, with_default


def digits_problem(value: Any) -> str | None:
    """The rule of data.digits: a non-empty list of distinct classes 0..9."""
    if not isinstance(value, list) or not value:
        return f"{value!r} must be a non-empty list of digits 0..9"
    for g in value:
        if not is_int(g) or not 0 <= g < NUM_CLASSES:
            return f"{g!r} is not a digit; choose 0..9"
    if len(set(value)) != len(value):
        return f"{value!r} names a digit twice"
    return None


@dataclass
class ClusterGANData(DigitsData):
    seed: int = with_default(DigitsData, "seed", 0, help="seed of the split and of KMeans")
    digits: list = setting(
        [0, 2],
        rule=digits_problem,
        help="digits (classes) whose styles are clustered (paper's measured: 0 and 2)",
    )


@dataclass
class ClusterGANConfig(GANConfig):
    # the clusters
    clusters: int = setting(7, low=2, high=10, help="KMeans style clusters per digit (paper: 7)")
    kmeans_init: int = setting(10, low=1, high=1000, help="KMeans restarts (n_init), best kept")
    # the paper's DCGAN: conv + bce
    loss: str = with_default(GANConfig, "loss", "bce")
    gp_lambda: float = with_default(
        GANConfig, "gp_lambda", 10.0, help="gradient-penalty coefficient (wgan-gp only)"
    )
    n_critic: int = with_default(
        GANConfig, "n_critic", 1, help="critic updates per generator update (DCGAN: 1, WGAN-GP: 5)"
    )
    lr: float = with_default(
        GANConfig,
        "lr",
        1e-3,
        help="Adam learning rate of both networks (DCGAN's 2e-4 needs ~3x the epochs here)",
    )
    beta2: float = with_default(GANConfig, "beta2", 0.999, help="DCGAN: 0.999; WGAN-GP: 0.9")
    hidden: int = with_default(GANConfig, "hidden", 128)
    batch_size: int = with_default(GANConfig, "batch_size", 32)
    epochs: int = with_default(GANConfig, "epochs", 200)
    eval_samples: int = setting(
        100, low=1, high=100_000, help="samples generated per (digit, cluster) to evaluate"
    )


class ClusterGANDeclaration(Declaration):
    Config = ClusterGANConfig
    Data = ClusterGANData
    metrics = (
        "consistency",
        "consistency_min",
        "consistency_lift",
        *MEMORIZATION_KEYS,
        "cluster_size_min",
        "d_loss",
        "g_loss",
    )
    matrix_metrics = ("per_digit", "cluster_consistency")
    sample_kind = "image"

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        cfg, d = cls.build_settings(config, data)
        check_sizes(d.split().y_train, d.digits, cfg.clusters)


def check_sizes(y_train: np.ndarray, digits: list[int], clusters: int) -> None:
    """Every chosen digit has at least ``clusters`` training samples; DataError if not."""
    for g in digits:
        n = int((y_train == g).sum())
        if n < clusters:
            raise DataError(
                f"data.digits: digit {g} has {n} training samples, fewer than the {clusters} "
                "clusters asked for"
            )
