"""Conditional (W)GAN augmentation of a rare digit class, scored downstream and for memorization.

A conditional generator learns every class of an imbalanced digit set (the minority class
cut to a handful of samples); its minority samples are added to the training set of a fixed
small CNN, which is scored on a balanced test set. Memorization compares the generated
minority samples with the few real ones the GAN saw, against the real minority samples it
never saw (the ones cut away).

Objective choice: balanced accuracy rather than minority recall. Recall alone rewards
flooding the training set with minority samples until the classifier calls everything a
five; balanced accuracy (the mean of per-class recalls) rises only when the minority class
improves without the others paying for it. Minority recall is recorded all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from raygan.data import DataError
from raygan.data.digits import load_study_split
from raygan.experiments.base import Experiment, build_config, require_finite, round_epochs, setting
from raygan.metrics.memorization import memorization_metrics
from raygan.metrics.utility import ClassifierSettings, classic_augment, smote, utility_scores
from raygan.models.cgan import ConditionalGAN, DirectedNoise


@dataclass
class AugmentData:
    source: str = setting(
        "digits",
        path_unless=("digits",),
        help="'digits' (scikit-learn, 8x8) or a directory of MNIST-style IDX files",
    )
    kind: str = setting(
        "mnist", choices=("mnist", "fashion-mnist"), help="format of an IDX directory"
    )
    minority: int = setting(5, low=0, high=9, help="the class made rare")
    minority_count: int = setting(
        10, low=1, high=100_000, help="its training samples kept (paper: 54 of MNIST's fives)"
    )
    seed: int = setting(0, low=0, help="seed of the split and of the cut")


@dataclass
class AugmentConfig:
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


class AugmentExperiment(Experiment):
    Config = AugmentConfig
    Data = AugmentData
    metrics = (
        "balanced_accuracy",
        "minority_recall",
        "accuracy",
        "macro_f1",
        "synthetic_accuracy",
        "synthetic_balanced_accuracy",
        "memorization",
        "exact_copy",
        "dcr_ratio",
        "closer_to_training",
        "d_loss",
        "g_loss",
    )
    matrix_metrics = ("confusion",)
    gain_baseline = "raw"  # the classifier on the cut data: what augmentation must beat

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        super().check(config, data)
        split = _split(build_config(AugmentData, data, where="data"))
        kept = int((split.y_train == split.minority).sum())
        if kept < 2:  # found here, not in the SMOTE baseline after the run was written
            raise DataError(
                f"data.minority_count: {data.get('minority_count', kept)} leaves {kept} "
                f"training sample(s) of class {split.minority}; the SMOTE baseline "
                "interpolates between two, so keep at least 2"
            )

    @classmethod
    def baselines(cls, config: dict, data: dict, *, seed: int) -> list[dict]:
        """Raw data, classic augmentation (shifts, rotations of +-10 degrees), SMOTE, and the
        full data (the cut samples restored: what augmentation tries to approach)."""
        cfg = build_config(AugmentConfig, config, where="fixed")
        split = _split(build_config(AugmentData, data, where="data"))
        settings = ClassifierSettings(epochs=cfg.classifier_epochs, seed=seed)
        rng = np.random.default_rng(seed)
        x, y, m = split.x_train, split.y_train, split.minority
        minority_x = x[y == m]
        fill = int(np.bincount(y).max()) - len(minority_x)  # up to the majority class
        shift = max(1, round(split.x_train.shape[-1] / 8))  # one pixel of 8x8, ~3 of 28x28
        made = {
            "raw": None,
            "classic": classic_augment(minority_x, count=fill, rng=rng, max_shift=shift),
            "smote": smote(minority_x, count=fill, rng=rng),
        }
        rows = []
        for name, extra in made.items():
            xa, ya = _with_minority(x, y, extra, m)
            row = {"baseline": name, **_utility(xa, ya, split, settings)}
            if extra is not None and len(extra):
                row.update(_memorization(extra, split, seed=seed))
            rows.append(row)
        full_x = np.concatenate([x, split.x_removed])
        full_y = np.concatenate([y, split.y_removed])
        rows.append({"baseline": "full data", **_utility(full_x, full_y, split, settings)})
        return rows

    # ---- lifecycle -------------------------------------------------------------------
    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        self.cfg = cfg = build_config(AugmentConfig, config, where="fixed")
        self.split = split = _split(build_config(AugmentData, data, where="data"))
        self.device = torch.device(device)
        self.seed = seed
        self.x = torch.tensor(split.x_train, device=self.device)  # (n, 1, H, W)
        self.y = torch.tensor(split.y_train, device=self.device)  # (n,)
        torch.manual_seed(seed)  # weight init
        self.gan = ConditionalGAN.from_settings(
            cfg,
            num_classes=split.num_classes,
            image_size=split.x_train.shape[-1],
            device=self.device,
        )
        self.noise = (
            DirectedNoise.fit(self.x, self.y, components=cfg.noise_components)
            if cfg.directed_noise > 0
            else None
        )
        self.rng = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.steps_done = 0
        self.num_steps = cfg.rounds

    def step(self) -> dict:
        cfg = self.cfg
        if self.steps_done >= self.num_steps:
            raise RuntimeError(f"all {self.num_steps} steps already done")
        d_loss = g_loss = 0.0
        for _ in round_epochs(self.steps_done, epochs=cfg.epochs, rounds=cfg.rounds):
            d_loss, g_loss = self.gan.train_epoch(
                self.x,
                self.y,
                batch_size=cfg.batch_size,
                rng=self.rng,
                noise=self.noise,
                noise_scale=cfg.directed_noise,
                check=require_finite,
            )
        self.steps_done += 1
        return {
            "round": float(self.steps_done - 1),
            **self.evaluate(),
            "d_loss": d_loss,
            "g_loss": g_loss,
        }

    def evaluate(self) -> dict:
        cfg, split = self.cfg, self.split
        m = split.minority
        settings = ClassifierSettings(epochs=cfg.classifier_epochs, seed=self.seed)
        synthetic = self._generate(np.full(cfg.amount, m))
        x, y = _with_minority(split.x_train, split.y_train, synthetic, m)
        out = _utility(x, y, split, settings)
        out.update(
            _memorization(self._generate(np.full(cfg.eval_samples, m)), split, seed=self.seed)
        )
        if cfg.full_synthetic:  # a synthetic stand-in for the whole training set
            labels = split.y_train.copy()
            scores = _utility(self._generate(labels), labels, split, settings)
            out["synthetic_accuracy"] = scores["accuracy"]
            out["synthetic_balanced_accuracy"] = scores["balanced_accuracy"]
        else:
            out["synthetic_accuracy"] = out["synthetic_balanced_accuracy"] = 0.0
        return out

    def save(self, path: str) -> None:
        state = {
            **self.gan.state_dict(),
            "rng": self.rng.get_state(),
            "steps_done": self.steps_done,
        }
        torch.save(state, Path(path) / "augment.pt")

    def load(self, path: str) -> None:
        state = torch.load(Path(path) / "augment.pt", map_location=self.device, weights_only=True)
        self.gan.load_state_dict(state)
        self.rng.set_state(state["rng"].cpu())
        self.steps_done = state["steps_done"]

    def _generate(self, labels: np.ndarray) -> np.ndarray:
        """Images (n, 1, H, W) in [0, 1] for the given labels, as numpy on the CPU."""
        if len(labels) == 0:
            return np.zeros((0, *self.split.x_train.shape[1:]), dtype=np.float32)
        out = self.gan.generate(torch.as_tensor(labels, device=self.device), rng=self.rng)
        return out.cpu().numpy()


def _split(d: AugmentData):
    return load_study_split(
        source=d.source,
        kind=d.kind,
        minority=d.minority,
        minority_count=d.minority_count,
        seed=d.seed,
    )


def _with_minority(x: np.ndarray, y: np.ndarray, extra: np.ndarray | None, minority: int):
    if extra is None or len(extra) == 0:
        return x, y
    return np.concatenate([x, extra.astype(x.dtype)]), np.concatenate(
        [y, np.full(len(extra), minority, y.dtype)]
    )


def _utility(x, y, split, settings: ClassifierSettings) -> dict:
    scores = utility_scores(
        x,
        y,
        split.x_test,
        split.y_test,
        minority=split.minority,
        num_classes=split.num_classes,
        settings=settings,
    )
    return {k: (v if k == "confusion" else require_finite(k, float(v))) for k, v in scores.items()}


def _memorization(synthetic: np.ndarray, split, *, seed: int) -> dict:
    m = split.minority
    scores = memorization_metrics(
        synthetic,
        split.x_train[split.y_train == m],
        split.x_removed,
        levels=split.levels,
        seed=seed,
    )
    keep = ("memorization", "exact_copy", "dcr_ratio", "closer_to_training")
    return {k: float(scores[k]) for k in keep}
