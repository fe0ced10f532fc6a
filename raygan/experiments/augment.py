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

import numpy as np
import torch

from raygan.experiments.augment_settings import (
    AugmentConfig,
    AugmentData,
    AugmentDeclaration,
)
from raygan.experiments.base import Experiment, build_config, require_finite, round_epochs
from raygan.experiments.baselines import classic_augment, smote
from raygan.experiments.checkpoint import load_checkpoint, save_checkpoint, trial_stream
from raygan.experiments.shared_settings import MEMORIZATION_KEYS
from raygan.metrics.memorization import memorization_metrics
from raygan.metrics.utility import ClassifierSettings, utility_scores
from raygan.models.cgan import ConditionalGAN, DirectedNoise

__all__ = ["AugmentConfig", "AugmentData", "AugmentExperiment"]


class AugmentExperiment(AugmentDeclaration, Experiment):
    @classmethod
    def baselines(cls, config: dict, data: dict, *, seed: int) -> list[dict]:
        """Raw data, classic augmentation (shifts, rotations of +-10 degrees), SMOTE, and the
        full data (the cut samples restored: what augmentation tries to approach)."""
        cfg = build_config(AugmentConfig, config, where="fixed")
        split = build_config(AugmentData, data, where="data").split()
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
        self.split = split = build_config(AugmentData, data, where="data").split()
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
        self.rng = trial_stream(seed, self.device)
        self.steps_done = 0
        self.num_steps = cfg.rounds

    def step(self) -> dict:
        cfg = self.cfg
        self.next_step()
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
        save_checkpoint(
            path, "augment.pt", self.gan.state_dict(), rng=self.rng, steps_done=self.steps_done
        )

    def load(self, path: str) -> None:
        state, self.steps_done = load_checkpoint(
            path, "augment.pt", rng=self.rng, device=self.device
        )
        self.gan.load_state_dict(state)

    def _generate(self, labels: np.ndarray) -> np.ndarray:
        """Images (n, 1, H, W) in [0, 1] for the given labels, as numpy on the CPU."""
        if len(labels) == 0:
            return np.zeros((0, *self.split.x_train.shape[1:]), dtype=np.float32)
        out = self.gan.generate(torch.as_tensor(labels, device=self.device), rng=self.rng)
        return out.cpu().numpy()


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
    return {k: float(scores[k]) for k in MEMORIZATION_KEYS}
