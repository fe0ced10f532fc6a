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

from typing import Any

import numpy as np
import torch

from raygan.experiments.augment_settings import (
    AugmentConfig,
    AugmentData,
    AugmentDeclaration,
)
from raygan.experiments.base import (
    Experiment,
    build_config,
    check_count,
    require_finite,
    round_epochs,
)
from raygan.experiments.baselines import classic_augment, smote
from raygan.experiments.checkpoint import (
    load_checkpoint,
    save_checkpoint,
    streams_kept,
    trial_stream,
)
from raygan.experiments.sampled import ImageRound
from raygan.experiments.shared_settings import MEMORIZATION_KEYS
from raygan.metrics.image_samples import judge_images
from raygan.metrics.memorization import memorization_evaluation, memorization_metrics
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
        self._round: ImageRound | None = None  # the last step's memorization samples
        minority = split.y_train == split.minority
        self._minority_index = np.flatnonzero(minority)  # into the training set
        self._minority_x = split.x_train[minority]

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
        """Utility with ``amount`` generated minority samples, memorization of
        ``eval_samples`` others (kept for ``samples``), and the full-synthetic scores."""
        out, self._round = self._evaluate(self.cfg.amount)
        return out

    def _evaluate(self, amount: int) -> tuple[dict, ImageRound]:
        """``evaluate`` with ``amount`` samples for the classifier. Every draw is the
        trial's ``amount`` one's, in the same order, so the memorization and
        full-synthetic scores do not move with ``amount``; the samples beyond the trial's
        amount are drawn last, and fewer are the first ones."""
        cfg, split = self.cfg, self.split
        m = split.minority
        settings = ClassifierSettings(epochs=cfg.classifier_epochs, seed=self.seed)
        synthetic = self._generate(np.full(cfg.amount, m))
        judged = self._generate(np.full(cfg.eval_samples, m))
        labels = split.y_train.copy()
        whole = self._generate(labels) if cfg.full_synthetic else None
        extra = self._generate(np.full(max(0, amount - cfg.amount), m))
        added = np.concatenate([synthetic, extra])[:amount]
        x, y = _with_minority(split.x_train, split.y_train, added, m)
        out = _utility(x, y, split, settings)
        scores, nearest = memorization_evaluation(
            judged, self._minority_x, split.x_removed, levels=split.levels, seed=self.seed
        )
        out.update({k: float(scores[k]) for k in MEMORIZATION_KEYS})
        if whole is not None:  # a synthetic stand-in for the whole training set
            scores = _utility(whole, labels, split, settings)
            out["synthetic_accuracy"] = scores["accuracy"]
            out["synthetic_balanced_accuracy"] = scores["balanced_accuracy"]
        else:
            out["synthetic_accuracy"] = out["synthetic_balanced_accuracy"] = 0.0
        round_ = ImageRound(
            judged,
            np.full(len(judged), m),
            self._minority_x,
            nearest,
            training_index=self._minority_index,
        )
        return out, round_

    # ---- samples ---------------------------------------------------------------------
    def samples(self) -> list[dict]:
        """The last step's ``eval_samples`` minority samples, judged against the minority
        training samples (``image_judgements``); nearest_index is into the training set."""
        return [] if self._round is None else self._round.judged()

    def generate(self, n: int, *, seed: int, **sampling: Any) -> list[dict]:
        """``n`` minority samples, judged as ``samples``. ``amount`` is accepted and
        changes nothing: it is how many samples the classifier gets."""
        self.with_sampling(self.cfg, sampling)
        check_count(n)
        rng = torch.Generator(device=self.device).manual_seed(seed)
        with streams_kept(self.rng):
            images = self._generate(np.full(n, self.split.minority), rng=rng)
        return judge_images(
            images,
            np.full(n, self.split.minority),
            self._minority_x,
            levels=self.split.levels,
            training_index=self._minority_index,
        )

    def evaluate_with(self, **sampling: Any) -> dict[str, float]:
        """``evaluate``'s metrics with another ``amount`` of generated samples in the
        classifier's training set (the classifier is retrained, the GAN is not); the
        trial's stream is put back. The training's own numbers (losses) are not among them."""
        cfg = self.with_sampling(self.cfg, sampling)
        with streams_kept(self.rng):
            return self._evaluate(cfg.amount)[0]

    def save(self, path: str) -> None:
        save_checkpoint(
            path, "augment.pt", self.gan.state_dict(), rng=self.rng, steps_done=self.steps_done
        )

    def load(self, path: str) -> None:
        state, self.steps_done = load_checkpoint(
            path, "augment.pt", rng=self.rng, device=self.device
        )
        self.gan.load_state_dict(state)

    def _generate(self, labels: np.ndarray, *, rng: torch.Generator | None = None) -> np.ndarray:
        """Images (n, 1, H, W) in [0, 1] for the given labels, as numpy on the CPU, drawn
        with ``rng`` (default: the trial's stream); none drawn for no labels."""
        if len(labels) == 0:
            return np.zeros((0, *self.split.x_train.shape[1:]), dtype=np.float32)
        labels_t = torch.as_tensor(labels, device=self.device)
        out = self.gan.generate(labels_t, rng=self.rng if rng is None else rng)
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
