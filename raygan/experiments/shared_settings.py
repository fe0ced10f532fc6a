"""Settings and metric names that several families share (no torch): the digit-image
data settings, the conditional GAN's settings, and the memorization metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from raygan.settings import setting

if TYPE_CHECKING:
    from raygan.data.digits import DigitSplit

# what raygan.metrics.memorization.memorization_metrics gives of an image generator
MEMORIZATION_KEYS = ("memorization", "exact_copy", "dcr_ratio", "closer_to_training")


@dataclass
class DigitsData:
    """Digit images: sklearn's embedded 8x8 digits, or MNIST-style IDX files."""

    source: str = setting(
        "digits",
        path_unless=("digits",),
        help="'digits' (scikit-learn, 8x8) or a directory of MNIST-style IDX files",
    )
    kind: str = setting(
        "mnist", choices=("mnist", "fashion-mnist"), help="format of an IDX directory"
    )
    seed: int = setting(0, low=0, help="seed of the split")

    def split(self) -> DigitSplit:
        """Train, validation and test sets of these settings; no class is cut."""
        from raygan.data.digits import load_study_split  # numpy and sklearn: when used

        return load_study_split(
            source=self.source, kind=self.kind, minority_count=None, seed=self.seed
        )


@dataclass
class GANConfig:
    """The conditional GAN (``raygan.models.cgan``): networks, loss and training length.
    Defaults: the augmentation papers' WGAN-GP."""

    # generator and critic (paper: MLP 'vanilla' vs convolutional; BCE vs WGAN-GP)
    arch: str = setting("conv", choices=("mlp", "conv"))
    loss: str = setting("wgan-gp", choices=("bce", "wgan-gp"))
    gp_lambda: float = setting(
        5.0,
        low=0.0,
        high=1000.0,
        help="gradient-penalty coefficient (paper: 5; reference code: 10)",
    )
    n_critic: int = setting(5, low=1, high=50, help="critic updates per generator update")
    lr: float = setting(2e-4, low=1e-6, high=1.0, help="Adam learning rate of both networks")
    beta1: float = setting(0.5, low=0.0, high=0.999)
    beta2: float = setting(0.9, low=0.0, high=0.9999)
    noise_dim: int = setting(64, low=1, high=4096)
    hidden: int = setting(256, low=8, high=8192)
    batch_size: int = setting(64, low=2, high=65_536)
    epochs: int = setting(
        60, low=1, high=100_000, help="passes over the training set, over all rounds"
    )
    rounds: int = setting(
        2, low=1, high=1000, help="evaluations; the epochs are split evenly between them"
    )
