"""Cluster-GAN-cluster: KMeans style clusters per digit, a GAN per cluster, and the same KMeans
as the judge of whether generated samples kept the style of the cluster they came from.

The paper (Fang, "Personalized Data Generation using GAN", FEMNIST) clusters the samples of
each digit with KMeans (7 clusters per digit: similar handwriting together), trains a DCGAN on
each cluster, and checks that the KMeans model assigns the generated images to the cluster
the GAN was trained on: at least 80% for digit 0 and 85% for digit 2. Here: scikit-learn's
digits (8x8, ~127 training samples per digit, so 7 clusters of ~18) or MNIST-style IDX files.

**One conditional GAN, not a GAN per cluster.** The generator and critic are conditioned on
the (digit, cluster) pair as one class index (digit position x clusters + cluster), so the
clusters of all chosen digits share one model. With small data this is the better reading of
the paper's design: a cluster of 10-25 samples starves a GAN of its own (it has too few
samples to learn strokes from and either collapses or copies), whereas one conditional model
learns what all clusters have in common (strokes, stroke width, the digit's shape) from every
sample and spends each cluster's own few samples only on what sets it apart. It is also one
training loop (``raygan.models.cgan.ConditionalGAN``, shared with the augmentation study)
instead of digits x clusters of them, and the paper's test applies unchanged: generate for a
(digit, cluster) class, ask that digit's KMeans which cluster the sample belongs to.

**Clusters.** Per chosen digit, KMeans (``clusters`` centres, ``kmeans_init`` restarts,
random state ``data.seed``) on the flattened training images of that digit, float64. Every
trial of a study with the same ``clusters`` sees the same clustering, so trials compare. A
checkpoint stores no scikit-learn object: ``setup`` refits the clusters deterministically,
and ``load`` puts back the centres saved in the checkpoint (and the training classes they
imply), so a trial resumed on a machine with another scikit-learn still continues with the
clusters it started with.

**Metrics** (``eval_samples`` generated per (digit, cluster), the same noise every round so
rounds compare): ``consistency`` is the paper's accuracy, the share of generated samples the
KMeans of their digit assigns to their source cluster, over all samples; ``consistency_min``
is that of the worst digit. A generator that ignores the cluster and draws from the whole
digit scores exactly 1 / clusters (each source cluster k receives the digit's share p_k of
its samples, and the mean of p_k over k is 1 / clusters), so ``consistency_lift`` =
(consistency - 1/clusters) / (1 - 1/clusters) is the part above chance: 0 for a generator
that ignores the cluster, 1 for a perfect one. The objective is the paper's raw consistency;
read it next to ``clusters`` (fewer clusters are easier to hit) or look at the lift.
Memorization (``raygan.metrics.memorization``): generated samples of the chosen digits
against their training images, with the validation and test images of those digits as the
held-out real samples. ``per_digit`` (one row per chosen digit: digit, consistency,
memorization, exact_copy) and ``cluster_consistency`` (one row per digit, one value per
cluster) are matrix metrics, stored in trials.parquet.
"""

from __future__ import annotations

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
from raygan.experiments.checkpoint import (
    load_checkpoint,
    save_checkpoint,
    streams_kept,
    trial_stream,
)
from raygan.experiments.cluster_gan_settings import (
    ClusterGANConfig,
    ClusterGANData,
    ClusterGANDeclaration,
    check_sizes,
)
from raygan.experiments.sampled import ImageRound
from raygan.experiments.shared_settings import MEMORIZATION_KEYS
from raygan.metrics.image_samples import judge_images
from raygan.metrics.memorization import memorization_evaluation, memorization_metrics
from raygan.models.cgan import ConditionalGAN


class ClusterGANExperiment(ClusterGANDeclaration, Experiment):
    # ---- lifecycle -------------------------------------------------------------------
    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        self.cfg = cfg = build_config(ClusterGANConfig, config, where="fixed")
        d = build_config(ClusterGANData, data, where="data")
        self.digits = digits = d.digits
        split = d.split()
        check_sizes(split.y_train, digits, cfg.clusters)
        self.levels = split.levels
        self.device = torch.device(device)
        self.seed = seed
        train = np.isin(split.y_train, digits)
        held = np.isin(split.y_val, digits), np.isin(split.y_test, digits)
        self.x_train, self.y_train = split.x_train[train], split.y_train[train]
        self.x_holdout = np.concatenate([split.x_val[held[0]], split.x_test[held[1]]])
        self.y_holdout = np.concatenate([split.y_val[held[0]], split.y_test[held[1]]])
        self.kmeans = [
            fit_kmeans(self.x_train[self.y_train == g], cfg.clusters, cfg.kmeans_init, d.seed)
            for g in digits
        ]
        self.x = torch.tensor(self.x_train, device=self.device)  # (n, 1, H, W)
        self.y = torch.tensor(self._classes(), device=self.device)  # (n,) (digit, cluster)
        torch.manual_seed(seed)
        self.gan = ConditionalGAN.from_settings(
            cfg,
            num_classes=len(digits) * cfg.clusters,
            image_size=self.x_train.shape[-1],
            device=self.device,
        )
        self.rng = trial_stream(seed, self.device)
        self.steps_done = 0
        self.num_steps = cfg.rounds
        self._round: ImageRound | None = None  # the last step's generated images

    def step(self) -> dict[str, float]:
        cfg = self.cfg
        self.next_step()
        d_loss = g_loss = 0.0
        for _ in round_epochs(self.steps_done, epochs=cfg.epochs, rounds=cfg.rounds):
            d_loss, g_loss = self.gan.train_epoch(
                self.x, self.y, batch_size=cfg.batch_size, rng=self.rng, check=require_finite
            )
        self.steps_done += 1
        return {**self.evaluate(), "d_loss": d_loss, "g_loss": g_loss}

    def evaluate(self) -> dict:
        """Consistency and memorization of ``eval_samples`` per (digit, cluster); the
        images are kept for ``samples``."""
        out, self._round = self._evaluate()
        return out

    def _evaluate(self) -> tuple[dict, ImageRound]:
        K, n = self.cfg.clusters, self.cfg.eval_samples
        classes = np.repeat(np.arange(len(self.digits) * K), n)
        # the same noise every round (and none taken from the training stream)
        rng = torch.Generator(device=self.device).manual_seed(self.seed + 2)
        labels = torch.as_tensor(classes, device=self.device)
        generated = self.gan.generate(labels, rng=rng).cpu().numpy()  # (D*K*n, 1, H, W)
        by_cluster = np.array(
            [
                [cluster_consistency(model, generated[classes == i * K + k], k) for k in range(K)]
                for i, model in enumerate(self.kmeans)
            ]
        )  # (D, K); every cell has n samples, so means of cells are means of samples
        digit_of = classes // K
        per_digit = []
        for i, g in enumerate(self.digits):
            mem = self._memorization(
                generated[digit_of == i], self.y_train == g, self.y_holdout == g
            )
            per_digit.append(
                [float(g), by_cluster[i].mean(), mem["memorization"], mem["exact_copy"]]
            )
        consistency = float(by_cluster.mean())
        sizes = np.bincount(self.y.cpu().numpy(), minlength=len(self.digits) * K)
        scores, nearest = memorization_evaluation(
            generated, self.x_train, self.x_holdout, levels=self.levels, seed=self.seed
        )
        out = {
            "consistency": consistency,
            "consistency_min": float(by_cluster.mean(axis=1).min()),
            "consistency_lift": (consistency - 1 / K) / (1 - 1 / K),
            **{k: require_finite(k, float(scores[k])) for k in MEMORIZATION_KEYS},
            "cluster_size_min": float(sizes.min()),
            "per_digit": [[float(v) for v in row] for row in per_digit],
            "cluster_consistency": by_cluster.tolist(),
        }
        labels = np.asarray(self.digits)[digit_of]
        # handed out round-robin over the (digit, cluster) classes, so the first few
        # (all a study stores of a round) show every class
        order = np.arange(len(classes)).reshape(len(self.digits) * K, n).T.ravel()
        return out, ImageRound(generated, labels, self.x_train, nearest, order=order)

    # ---- samples ---------------------------------------------------------------------
    def samples(self) -> list[dict]:
        """The last step's ``eval_samples`` images per (digit, cluster), one of each class
        in turn, labelled with their digit and judged against the training images of the
        chosen digits (``image_judgements``)."""
        return [] if self._round is None else self._round.judged()

    def generate(self, n: int, *, seed: int, **sampling: Any) -> list[dict]:
        """``n`` images, one of each (digit, cluster) class in turn, judged as
        ``samples``. The family has no sampling settings."""
        self.check_sampling(sampling)
        if check_count(n) == 0:
            return []
        classes = np.arange(n) % (len(self.digits) * self.cfg.clusters)
        rng = torch.Generator(device=self.device).manual_seed(seed)
        with streams_kept(self.rng):
            labels = torch.as_tensor(classes, device=self.device)
            images = self.gan.generate(labels, rng=rng).cpu().numpy()
        digits = np.asarray(self.digits)[classes // self.cfg.clusters]
        return judge_images(images, digits, self.x_train, levels=self.levels)

    def evaluate_with(self, **sampling: Any) -> dict:
        """``evaluate``'s metrics for the GAN as it is (the family has no sampling
        settings, and its evaluation draws fixed noise, never the trial's stream). The
        training's own numbers (losses) are not among them."""
        self.check_sampling(sampling)
        with streams_kept(self.rng):
            return self._evaluate()[0]

    def save(self, path: str) -> None:
        state = {
            **self.gan.state_dict(),
            "centers": [torch.tensor(m.cluster_centers_) for m in self.kmeans],
        }
        save_checkpoint(path, "cluster_gan.pt", state, rng=self.rng, steps_done=self.steps_done)

    def load(self, path: str) -> None:
        state, self.steps_done = load_checkpoint(
            path, "cluster_gan.pt", rng=self.rng, device=self.device
        )
        self.gan.load_state_dict(state)
        for model, centers in zip(self.kmeans, state["centers"], strict=True):
            model.cluster_centers_ = centers.cpu().numpy()  # what the trial started with
        self.y = torch.tensor(self._classes(), device=self.device)

    # ---- helpers ---------------------------------------------------------------------
    def _classes(self) -> np.ndarray:
        """Class index of every training sample: digit position x clusters + its cluster."""
        out = np.empty(len(self.y_train), dtype=np.int64)
        for i, (g, model) in enumerate(zip(self.digits, self.kmeans, strict=True)):
            members = self.y_train == g
            out[members] = i * self.cfg.clusters + model.predict(_flat(self.x_train[members]))
        return out

    def _memorization(self, generated: np.ndarray, train, holdout) -> dict:
        scores = memorization_metrics(
            generated,
            self.x_train[train],
            self.x_holdout[holdout],
            levels=self.levels,
            seed=self.seed,
        )
        return {k: require_finite(k, float(scores[k])) for k in MEMORIZATION_KEYS}


# ---- clusters and their consistency ------------------------------------------------------


def fit_kmeans(images: np.ndarray, clusters: int, n_init: int, seed: int):
    """KMeans fitted on flattened images (float64): deterministic for a given seed."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=clusters, n_init=n_init, random_state=seed).fit(_flat(images))


def cluster_consistency(model, samples: np.ndarray, source) -> float:
    """Share of ``samples`` (n, ...) that the fitted KMeans ``model`` assigns to their source
    cluster ``source`` (one int for all, or (n,) ints): the paper's accuracy. 0.0 when there
    are no samples."""
    if len(samples) == 0:
        return 0.0
    assigned = model.predict(_flat(samples))
    return float(np.mean(assigned == np.asarray(source)))


def _flat(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    return np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float64)
