"""Declaration of the conditional (W)GAN augmentation family (no torch): its settings,
metrics and driver-side check. The training is in :mod:`raygan.experiments.augment`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from raygan.data import DataError
from raygan.experiments.base import Declaration
from raygan.experiments.shared_settings import MEMORIZATION_KEYS, DigitsData, GANConfig
from raygan.settings import setting, with_default

if TYPE_CHECKING:
    from raygan.data.digits import DigitSplit


@dataclass
class AugmentData(DigitsData):
    seed: int = with_default(DigitsData, "seed", 0, help="seed of the split and of the cut")
    minority: int = setting(5, low=0, high=9, help="the class made rare")
    minority_count: int = setting(
        10, low=1, high=100_000, help="its training samples kept (paper: 54 of MNIST's fives)"
    )

    def split(self) -> DigitSplit:
        """The split with the minority class cut to ``minority_count`` training samples."""
        from raygan.data.digits import load_study_split  # numpy and sklearn: when used

        return load_study_split(
            source=self.source,
            kind=self.kind,
            minority=self.minority,
            minority_count=self.minority_count,
            seed=self.seed,
        )


@dataclass
class AugmentConfig(GANConfig):
    # directed noise: along each class's principal components, scale c (0 = off)
    directed_noise: float = setting(0.0, low=0.0, high=10.0)
    noise_components: int = setting(10, low=1, high=1000)
    # augmentation and its evaluation
    amount: int = setting(
        100, low=0, high=1_000_000, help="synthetic minority samples added to the training set"
    )
    eval_samples: int = setting(
        500, low=10, high=1_000_000, help="minority samples generated to measure memorization"
    )
    full_synthetic: bool = setting(
        True, help="also score a classifier trained on synthetic data only"
    )
    classifier_epochs: int = setting(
        30, low=1, high=10_000, help="fixed across trials so scores compare"
    )


class AugmentDeclaration(Declaration):
    Config = AugmentConfig
    Data = AugmentData
    metrics = (
        "balanced_accuracy",
        "minority_recall",
        "accuracy",
        "macro_f1",
        "synthetic_accuracy",
        "synthetic_balanced_accuracy",
        *MEMORIZATION_KEYS,
        "d_loss",
        "g_loss",
    )
    matrix_metrics = ("confusion",)
    gain_baseline = "raw"  # the classifier on the cut data: what augmentation must beat
    has_baselines = True  # raw, classic augmentation, SMOTE, the full data
    sample_kind = "image"
    # how many generated samples the classifier gets: the GAN never sees it
    sampling_settings = ("amount",)

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        _, d = cls.build_settings(config, data)
        split = d.split()
        kept = int((split.y_train == split.minority).sum())
        if kept < 2:  # found here, not in the SMOTE baseline after the run was written
            raise DataError(
                f"data.minority_count: {data.get('minority_count', kept)} leaves {kept} "
                f"training sample(s) of class {split.minority}; the SMOTE baseline "
                "interpolates between two, so keep at least 2"
            )
