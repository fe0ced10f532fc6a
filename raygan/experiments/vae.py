"""VAE latent-space augmentation of a few labelled digits, scored by SVM, kNN and MLP.

The paper's pipeline: a conv VAE learns every training image, unlabelled; the labelled
subset (the paper's restricted MNIST: 1k of 55k) is encoded; each code is perturbed in
latent space (Gaussian noise, or interpolation / extrapolation towards its k nearest
same-class codes) and decoded; the new images keep their source's label and join the
labelled set of three fixed classifiers, scored with and without them on the test set.

Choices made here, and why:

- ``amount`` is generated samples PER LABELLED SAMPLE, not a total: the labelled size is
  searched too, and a total would mean a different augmentation ratio at every size.
  Interpolation and extrapolation make the j-th sample of a source towards its
  (j mod k)-th nearest neighbour, so amount = k is the paper's one sample per neighbour.
  Beyond k, a fixed alpha would repeat the same points, so later cycles start from a
  fresh posterior draw z ~ q(z | x) of the source and its neighbours instead of their
  means: the VAE's own uncertainty about each image supplies the variety. Noise draws
  fresh noise for every sample.
- Objective ``gain``: the mean over the three classifiers of accuracy with augmentation
  minus accuracy without, so no single classifier's quirks decide (the paper's kNN gains
  most from interpolation and loses most from extrapolation; its MLP barely moves). Each
  gain is recorded too.
- Memorization compares the generated images with the labelled images they were made
  from, against the validation images as the held-out set: real, never seen by the VAE,
  never used to make a synthetic one. (The unlabelled rest of the training set would not
  do: the VAE trained on it.)
- ``beta`` weights the KL term (1 = the paper's VAE). The paper's 28x28 MNIST has 784
  pixels of reconstruction per image against the KL term; 8x8 digits have 64, and with
  beta 1 the VAE collapses to nearly the mean digit (measured: reconstruction 22 nats,
  KL 2.5, against 18 and 12 at beta 0.1), whose decoded samples only hurt the classifiers.
- The classifiers' seed is the data seed, the same in every trial, so a gain moves only
  with the generated samples; the scores without augmentation depend on the data settings
  alone and are computed once per process (Ray reuses workers across trials).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from raygan.experiments.base import (
    Experiment,
    build_config,
    check_count,
    require_finite,
    round_epochs,
)
from raygan.experiments.baselines import smote
from raygan.experiments.checkpoint import (
    load_checkpoint,
    save_checkpoint,
    streams_kept,
    trial_stream,
)
from raygan.experiments.sampled import ImageRound
from raygan.experiments.shared_settings import MEMORIZATION_KEYS
from raygan.experiments.vae_settings import (
    VAEConfig,
    VAEData,
    VAEDeclaration,
    labelled_indices,
    labelled_set,
)
from raygan.metrics.image_samples import judge_images
from raygan.metrics.memorization import memorization_evaluation, memorization_metrics
from raygan.metrics.utility import SKLEARN_CLASSIFIERS, sklearn_scores
from raygan.models.vae import (
    ConvVAE,
    extrapolate,
    interpolate,
    nearest_same_class,
    noise,
    sample_posterior,
)

_DECODE_CHUNK = 4096  # codes decoded at once: bounds memory for MNIST-sized sets


class VAEAugmentExperiment(VAEDeclaration, Experiment):
    @classmethod
    def baselines(cls, config: dict, data: dict, *, seed: int) -> list[dict]:
        """No generator: the labelled set alone (what every gain is measured from), SMOTE
        (interpolation between the same k nearest same-class neighbours, in pixel space:
        is the VAE's latent space worth it?) with the same amount, and every training
        image labelled (the paper's full setting: the ceiling). They use the labelled
        size, amount and k of the study's [fixed] settings, or the Config defaults where
        those are searched; every trial records its own scores without augmentation
        (``*_accuracy_base``) all the same."""
        cfg = build_config(VAEConfig, config, where="fixed")
        d = build_config(VAEData, data, where="data")
        split = d.split()
        x, y = labelled_set(split, cfg.labelled, seed=d.seed)
        base = _base_scores(d.source, d.kind, d.seed, cfg.labelled)
        rng = np.random.default_rng(seed)
        extra_x, extra_y = [], []
        for c in np.unique(y):  # SMOTE is per class: its samples keep their class
            members = x[y == c]
            extra_x.append(smote(members, count=cfg.amount * len(members), k=cfg.k, rng=rng))
            extra_y.append(np.full(cfg.amount * len(members), c, dtype=y.dtype))
        made = np.concatenate(extra_x)
        augmented = _scores(np.concatenate([x, made]), np.concatenate([y, *extra_y]), split, d)
        rows = [
            {"baseline": f"labelled only ({len(y)})", **_gains(base, base)},
            {
                "baseline": f"smote ({len(y)} + {len(made)})",
                **_gains(augmented, base),
                **_memorization(made, x, split, seed=seed),
            },
        ]
        if len(y) < len(split.y_train):
            full = _scores(split.x_train, split.y_train, split, d)
            rows.append({"baseline": f"all labelled ({len(split.y_train)})", **_gains(full, base)})
        return rows

    # ---- lifecycle -------------------------------------------------------------------
    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        self.cfg = cfg = build_config(VAEConfig, config, where="fixed")
        self.data_cfg = d = build_config(VAEData, data, where="data")
        self.split = split = d.split()
        self.device = torch.device(device)
        self.seed = seed
        # the VAE learns every training image; the classifiers only the labelled ones
        self.x = torch.tensor(split.x_train, device=self.device)  # (n, 1, H, W)
        self.x_val = torch.tensor(split.x_val, device=self.device)  # (v, 1, H, W)
        self.x_lab, self.y_lab = labelled_set(split, cfg.labelled, seed=d.seed)  # numpy
        index = labelled_indices(split, cfg.labelled, seed=d.seed)
        self._lab_index = np.arange(len(self.y_lab)) if index is None else index
        self._round: ImageRound | None = None  # the last step's generated images
        self.base = _base_scores(d.source, d.kind, d.seed, cfg.labelled)  # cached per process
        torch.manual_seed(seed)  # weight init
        self.vae = ConvVAE(
            image_size=split.x_train.shape[-1], latent=cfg.latent, hidden=cfg.hidden
        ).to(self.device)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=cfg.lr)
        # every draw after init (batches, reparameterisation, perturbations) goes through
        # this generator, so save/load restores it and a resumed trial continues exactly
        self.rng = trial_stream(seed, self.device)
        self.steps_done = 0
        self.num_steps = cfg.rounds

    def step(self) -> dict[str, float]:
        cfg = self.cfg
        self.next_step()
        recon = kl = float("nan")  # a round with no epoch left is measured below instead
        for _ in round_epochs(self.steps_done, epochs=cfg.vae_epochs, rounds=cfg.rounds):
            recon, kl = self._epoch()
        val_recon, _ = self._losses(self.x_val)
        if math.isnan(recon):
            recon, kl = self._losses(self.x)
        self.steps_done += 1
        return {
            "round": float(self.steps_done - 1),
            **self.evaluate(),
            "recon_loss": recon,
            "kl": kl,
            "val_recon": val_recon,
        }

    def evaluate(self) -> dict[str, float]:
        """Gains with ``amount`` generated images per labelled one, and their memorization
        (the images kept for ``samples``)."""
        out, self._round = self._evaluate(self.cfg.amount)
        return out

    def _evaluate(self, amount: int) -> tuple[dict[str, float], ImageRound]:
        """``evaluate`` with ``amount`` generated images per labelled one for the
        classifiers. The trial's ``amount`` images are made first, as always, and scored
        for memorization, so that score does not move with ``amount``; fewer are their
        first cycles, more continue them (``augment`` is made cycle by cycle)."""
        made, labels = self.augment(range(self.cfg.amount))
        if amount > self.cfg.amount:
            more, more_labels = self.augment(range(self.cfg.amount, amount))
            made, labels = np.concatenate([made, more]), np.concatenate([labels, more_labels])
        n = amount * len(self.y_lab)
        x = np.concatenate([self.x_lab, made[:n]])
        y = np.concatenate([self.y_lab, labels[:n]])
        out = _gains(_scores(x, y, self.split, self.data_cfg), self.base)
        judged = self.cfg.amount * len(self.y_lab)
        scores, nearest = memorization_evaluation(
            made[:judged], self.x_lab, self.split.x_val, levels=self.split.levels, seed=self.seed
        )
        out.update({k: float(scores[k]) for k in MEMORIZATION_KEYS})
        round_ = ImageRound(
            made[:judged], labels[:judged], self.x_lab, nearest, training_index=self._lab_index
        )
        return out, round_

    # ---- samples ---------------------------------------------------------------------
    def samples(self) -> list[dict]:
        """The last step's generated images (``amount`` per labelled image, cycle by
        cycle), each labelled with its source's class and judged against the labelled
        images (``image_judgements``); nearest_index is into the training set."""
        return [] if self._round is None else self._round.judged()

    def generate(self, n: int, *, seed: int, **sampling: Any) -> list[dict]:
        """``n`` images drawn at random from enough cycles of ``augment`` for ``n``,
        judged as ``samples``; ``amount`` is accepted and changes nothing."""
        self.with_sampling(self.cfg, sampling)
        check_count(n)
        rng = torch.Generator(device=self.device).manual_seed(seed)
        with streams_kept(self.rng):
            made, labels = self.augment(range(math.ceil(n / len(self.y_lab))), rng=rng)
            pick = torch.randperm(len(made), generator=rng, device=self.device)[:n].cpu().numpy()
        return judge_images(
            made[pick],
            labels[pick],
            self.x_lab,
            levels=self.split.levels,
            training_index=self._lab_index,
        )

    def evaluate_with(self, **sampling: Any) -> dict[str, float]:
        """``evaluate``'s metrics with another ``amount`` per labelled image given to the
        classifiers (they are retrained, the VAE is not); the trial's stream is put back.
        The training's own numbers (losses) are not among them."""
        cfg = self.with_sampling(self.cfg, sampling)
        with streams_kept(self.rng):
            return self._evaluate(cfg.amount)[0]

    def save(self, path: str) -> None:
        state = {"vae": self.vae.state_dict(), "opt": self.opt.state_dict()}
        save_checkpoint(path, "vae.pt", state, rng=self.rng, steps_done=self.steps_done)

    def load(self, path: str) -> None:
        state, self.steps_done = load_checkpoint(path, "vae.pt", rng=self.rng, device=self.device)
        self.vae.load_state_dict(state["vae"])
        self.opt.load_state_dict(state["opt"])

    # ---- training --------------------------------------------------------------------
    def _epoch(self) -> tuple[float, float]:
        """One pass over all training images; the epoch's mean recon and KL per image."""
        order = torch.randperm(len(self.x), generator=self.rng, device=self.device)
        recon_sum = kl_sum = 0.0
        for idx in order.split(self.cfg.batch_size):
            loss, recon, kl = self.vae.loss(self.x[idx], beta=self.cfg.beta, generator=self.rng)
            require_finite("VAE loss", loss.item())
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            recon_sum += recon.item() * len(idx)
            kl_sum += kl.item() * len(idx)
        return recon_sum / len(self.x), kl_sum / len(self.x)

    @torch.no_grad()
    def _losses(self, x: torch.Tensor) -> tuple[float, float]:
        """Mean recon and KL per image of x, without training."""
        _, recon, kl = self.vae.loss(x, generator=self.rng)
        return require_finite("recon loss", recon.item()), require_finite("KL", kl.item())

    # ---- generation ------------------------------------------------------------------
    @torch.no_grad()
    def augment(
        self, cycles: range | None = None, *, rng: torch.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """New images, one per labelled image for each cycle j in ``cycles`` (default:
        range(amount)), (N, 1, H, W) in [0, 1], and their labels (N,) (the source's), as
        numpy, cycle by cycle; drawn from ``rng`` (default: the trial's stream). Cycles
        draw in order, so range(a) then range(a, b) is range(b)."""
        cfg = self.cfg
        cycles = range(cfg.amount) if cycles is None else cycles
        rng = self.rng if rng is None else rng
        y = torch.tensor(self.y_lab, device=self.device)  # (n,)
        x = torch.tensor(self.x_lab, device=self.device)  # a copy: the cached split is read-only
        mu, logvar = self.vae.encode(x)  # (n, Z) each
        neighbours = None
        codes = []
        for j in cycles:
            if cfg.method == "noise":
                z = mu.clone()
                for c in torch.unique(y):  # each class's noise is as wide as its own codes
                    z[y == c] = noise(mu[y == c], alpha=cfg.alpha, rng=rng)
            else:
                if neighbours is None:  # (n, k), found once, on the means
                    neighbours = nearest_same_class(mu, y, k=cfg.k)
                cycle, nearest = divmod(j, cfg.k)
                # first cycle: the means (the paper); later ones: a fresh posterior draw
                z = mu if cycle == 0 else sample_posterior(mu, logvar, generator=rng)
                move = interpolate if cfg.method == "interpolation" else extrapolate
                z = move(z, z[neighbours[:, nearest]], alpha=cfg.alpha)
            codes.append(z)
        if not codes:
            return np.zeros((0, *self.x_lab.shape[1:]), np.float32), self.y_lab[:0]
        z = torch.cat(codes)  # (amount * n, Z), source order repeated
        made = torch.cat([self.vae.decode(part) for part in z.split(_DECODE_CHUNK)])
        return made.cpu().numpy(), np.tile(self.y_lab, len(cycles))


def _scores(x, y, split, d: VAEData) -> dict[str, float]:
    scores = sklearn_scores(x, y, split.x_test, split.y_test, seed=d.seed)
    return {k: require_finite(k, v) for k, v in scores.items()}


@functools.lru_cache(maxsize=16)
def _base_scores(source: str, kind: str, seed: int, labelled: int) -> dict[str, float]:
    """The classifiers on the labelled set alone: independent of the VAE, so computed once
    per process for each data setting and labelled size."""
    d = VAEData(source=source, kind=kind, seed=seed)
    split = d.split()
    x, y = labelled_set(split, labelled, seed=seed)
    return _scores(x, y, split, d)


def _gains(scores: dict, base: dict) -> dict[str, float]:
    """Accuracies with and without augmentation, per-classifier gains and their mean."""
    out = dict(scores)
    for name in SKLEARN_CLASSIFIERS:
        out[f"{name}_accuracy_base"] = base[f"{name}_accuracy"]
        out[f"gain_{name}"] = scores[f"{name}_accuracy"] - base[f"{name}_accuracy"]
    out["gain"] = float(np.mean([out[f"gain_{name}"] for name in SKLEARN_CLASSIFIERS]))
    return out


def _memorization(made: np.ndarray, labelled: np.ndarray, split, *, seed: int) -> dict:
    scores = memorization_metrics(made, labelled, split.x_val, levels=split.levels, seed=seed)
    return {k: float(scores[k]) for k in MEMORIZATION_KEYS}
