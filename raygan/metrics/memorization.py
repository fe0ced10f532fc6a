"""Memorization metrics for images: how much of what a generator emits it copied.

Measure against the training set itself (not only a test split): a generator that copies
its training data scores well on any realism metric, so copying has to be counted apart.
The same metrics for strings: ``raygan.metrics.text_memorization``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from raygan.metrics.copies import (
    chance_corrected,
    dcr_summary,
)

# Samples are real-valued (images in [0, 1], any shape per sample; each is flattened to one
# row). Distances are Euclidean on the values as given; exact copies are judged after
# rounding to the data's grey levels, since a generator's float output is never bit-equal to
# a training image even when it draws the same picture.
#
# Everything is measured against the TRAINING set, with a held-out set of real samples the
# generator never saw as the baseline: "close to training" means nothing until compared with
# how close genuinely new real samples are.
#
# Nearest-neighbour shares have one blind spot: samples far from all real data (noise) find
# their nearest neighbours among the same few "hub" samples, so their shares hinge on which
# reference set those few fall in (noise on digits reads 0.35..0.6, not 0.5). Such samples
# never look like copies, though: their dcr_ratio is well above 1.
#
# Empty synthetic input: every metric is 0.0 (nothing was generated, so nothing was copied);
# never NaN, so an objective can always read it. Empty training or holdout is a ValueError:
# without a reference set there is nothing to measure.

METRIC_KEYS = (
    "exact_copy",
    "dcr_synthetic",
    "dcr_holdout",
    "dcr_ratio",
    "closer_to_training",
    "memorization",
)


def quantize(x, levels: int) -> np.ndarray:
    """uint8 grey-level codes 0..levels-1 of ``x`` in [0, 1] (same shape), rounded to nearest.

    Values outside [0, 1] are clipped first (a generator's output may overshoot a little).
    ``quantize(x, levels) / (levels - 1)`` maps codes back onto [0, 1].
    """
    _check_levels(levels)
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"quantize: {int((~np.isfinite(x)).sum())} values are NaN or inf")
    return np.rint(np.clip(x, 0.0, 1.0) * (levels - 1)).astype(np.uint8)


def exact_copy_rate_arrays(synthetic, training, *, levels: int) -> float:
    """Share of synthetic samples equal to some training sample after ``quantize``.

    Repeats count, as in ``exact_copy_rate``: a generator stuck on one training image scores 1.0.
    """
    flags = exact_copy_flags(synthetic, training, levels=levels)
    return float(flags.mean()) if len(flags) else 0.0


def exact_copy_flags(synthetic, training, *, levels: int) -> np.ndarray:
    """(n_synthetic,) bool: whether each synthetic sample equals some training sample after
    ``quantize``; ``exact_copy_rate_arrays`` is their mean."""
    syn = _rows(synthetic, "synthetic")
    train = _rows(training, "training")
    _same_width(syn, train, "training")
    _check_levels(levels)  # bad input stays an error, generated samples or not
    if len(syn) == 0:
        return np.zeros(0, dtype=bool)
    syn, train = quantize(syn, levels), quantize(train, levels)  # C-contiguous uint8 rows
    # one opaque bytes value per row, so np.isin compares whole images in one sorted pass
    row = np.dtype((np.void, syn.shape[1]))
    return np.isin(syn.view(row).ravel(), train.view(row).ravel())


def nearest_distances(a, b) -> np.ndarray:
    """Euclidean distance (float64, shape (len(a),)) from each row of ``a`` to its nearest
    row of ``b``. Nothing is excluded: a row of ``a`` that is also in ``b`` gets 0."""
    return nearest_neighbours(a, b)[1]


def nearest_neighbours(a, b) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``a``: the index of its nearest row of ``b`` ((len(a),) int64) and
    the Euclidean distance to it ((len(a),) float64). Raises ValueError when ``b`` is
    empty or the widths differ."""
    a = _rows(a, "a")
    b = _rows(b, "b")
    _same_width(a, b, "b")
    if len(b) == 0:
        raise ValueError("b: no samples to measure distances to")
    if len(a) == 0:  # scikit-learn refuses an empty query
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    search = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(b)
    nearest = search.kneighbors(a, return_distance=False)[:, 0].astype(np.int64)
    # the search ranks by |a|^2 - 2 a.b + |b|^2, which cancels badly for near-identical
    # rows (a copy would read ~1e-8, not 0), so measure the winner's distance directly
    return nearest, np.linalg.norm(a - b[nearest], axis=1)


def dcr(synthetic, training, holdout) -> dict[str, float]:
    """Distance to closest record, SDMetrics' DCR baseline / syntheval's mDCR.

    ``dcr_synthetic``: median distance from a synthetic sample to its nearest training
    sample. ``dcr_holdout``: the same for held-out real samples, the baseline: how close
    genuinely new data sits to the training set. ``dcr_ratio`` = synthetic / holdout:
    below 1, the generator's samples sit closer to training than new real data does (a
    memorization signal); 1.0 when the baseline is 0 (held-out samples duplicate training
    ones, so closeness cannot tell copying apart from real data).
    """
    syn, train, hold = _reference_rows(synthetic, training, holdout)
    if len(syn) == 0:
        return {"dcr_synthetic": 0.0, "dcr_holdout": 0.0, "dcr_ratio": 0.0}
    return dcr_summary(nearest_distances(syn, train), nearest_distances(hold, train))


def closer_to_training_share(synthetic, training, holdout, *, seed: int = 0) -> float:
    """Share of synthetic samples nearer to the training set than to a held-out set of the
    same size (ties count half): 0.5 is no signal, 1.0 is copies.

    The larger of the two reference sets is subsampled (seeded) to the other's size, since
    the nearest of more points is nearer by chance alone. Subsampling the TRAINING set
    dilutes the signal (a copy of a training sample left out reads as new data), so when
    training is the larger set this share understates copying; ``memorization_score`` does not.
    """
    syn, train, hold = _reference_rows(synthetic, training, holdout)
    if len(syn) == 0:
        return 0.0
    n = min(len(train), len(hold))
    rng = np.random.default_rng(seed)
    train = train[np.sort(rng.permutation(len(train))[:n])]
    hold = hold[np.sort(rng.permutation(len(hold))[:n])]
    return _training_share(nearest_distances(syn, train), nearest_distances(syn, hold))


def memorization_score(synthetic, training, holdout) -> float:
    """One number in [0, 1] for objectives: the share of synthetic samples that are (near-)
    copies of training samples beyond what chance explains.

    Take ALL real samples, training and held-out, and ask for each synthetic sample which
    one is its nearest neighbour. A generator that draws new samples from the data's
    distribution knows nothing that tells training from held-out samples, so its nearest
    neighbour is a training sample with probability p0 = n_train / (n_train + n_holdout).
    If a share c of its samples copies training samples (and the rest are such new draws),
    the observed training share is p = c + (1 - c) p0, so

        memorization = (p - p0) / (1 - p0), clipped to [0, 1]

    estimates c: 0 for a generator that copies nothing, 1 for one that only copies. With
    equal-size sets this is ``2 * (closer_to_training - 0.5)``, the rescaling of the
    DESIGN.md share (0.5 -> 0, 1 -> 1); unlike that share it needs no subsampling, so it
    uses every reference sample (less noise) and is not diluted when training is the
    larger set. Below-chance values (the generator avoids its training data) clip to 0:
    that is not memorization, and an objective should not reward it. The price of clipping:
    with no memorization at all the score is ~0 plus noise of roughly
    sqrt(n_train / (n_holdout * n_synthetic)) (a few hundredths for the digits study's 10
    training and ~120 held-out minority samples), read as a small positive number.
    """
    syn, train, hold = _reference_rows(synthetic, training, holdout)
    if len(syn) == 0:
        return 0.0
    to_train = nearest_distances(syn, train)
    to_holdout = nearest_distances(syn, hold)
    return _memorization(to_train, to_holdout, len(train), len(hold))


def memorization_metrics(synthetic, training, holdout, *, levels: int, seed: int = 0) -> dict:
    """Every memorization metric of synthetic samples against their training set, with a
    held-out set of real samples as the baseline: ``exact_copy`` (``exact_copy_rate_arrays``),
    ``dcr_synthetic``, ``dcr_holdout``, ``dcr_ratio`` (``dcr``), ``closer_to_training``
    (``closer_to_training_share``) and ``memorization`` (``memorization_score``: the one to
    minimise). Floats; all 0.0 when there are no synthetic samples.
    """
    return memorization_evaluation(synthetic, training, holdout, levels=levels, seed=seed)[0]


@dataclass(frozen=True)
class NearestTraining:
    """What ``memorization_metrics`` knows of each synthetic sample, (n_synthetic,) each:
    ``index`` of its nearest training sample (int64, into the training set as given),
    ``distance`` to it (float64, Euclidean on the values as given: the DCR distance, so
    ``median(distance) == dcr_synthetic``), ``exact_copy`` (bool, equal to a training
    sample after ``quantize``: ``mean(exact_copy) == exact_copy``)."""

    index: np.ndarray
    distance: np.ndarray
    exact_copy: np.ndarray


def memorization_evaluation(
    synthetic, training, holdout, *, levels: int, seed: int = 0
) -> tuple[dict, NearestTraining]:
    """``memorization_metrics`` and, from the same nearest-neighbour search, each synthetic
    sample's ``NearestTraining`` judgement. Raises ValueError as ``memorization_metrics``."""
    syn, train, hold = _reference_rows(synthetic, training, holdout)
    flags = exact_copy_flags(syn, train, levels=levels)
    if len(syn) == 0:
        empty = NearestTraining(np.zeros(0, dtype=np.int64), np.zeros(0), flags)
        return dict.fromkeys(METRIC_KEYS, 0.0), empty
    index, to_train = nearest_neighbours(syn, train)
    to_holdout = nearest_distances(syn, hold)
    metrics = {
        "exact_copy": float(flags.mean()),
        **dcr_summary(to_train, nearest_distances(hold, train)),
        "closer_to_training": closer_to_training_share(syn, train, hold, seed=seed),
        "memorization": _memorization(to_train, to_holdout, len(train), len(hold)),
    }
    return metrics, NearestTraining(index, to_train, flags)


def _training_share(to_train: np.ndarray, to_holdout: np.ndarray) -> float:
    """Share of samples whose nearest training sample beats their nearest holdout one; ties half."""
    return float(np.mean((to_train < to_holdout) + 0.5 * (to_train == to_holdout)))


def _memorization(to_train, to_holdout, n_train: int, n_holdout: int) -> float:
    return chance_corrected(_training_share(to_train, to_holdout), n_train, n_holdout)


def _check_levels(levels) -> None:
    if (
        isinstance(levels, bool)
        or not isinstance(levels, int | np.integer)
        or not 2 <= levels <= 256
    ):
        raise ValueError(f"levels: {levels!r} must be an integer in 2..256 (codes are uint8)")


def _reference_rows(synthetic, training, holdout):
    """(synthetic, training, holdout) as float64 rows of one width; both references non-empty."""
    syn = _rows(synthetic, "synthetic")
    train = _rows(training, "training")
    hold = _rows(holdout, "holdout")
    _same_width(syn, train, "training")
    _same_width(syn, hold, "holdout")
    for name, x in (("training", train), ("holdout", hold)):
        if len(x) == 0:
            raise ValueError(f"{name}: no samples; memorization needs a non-empty reference set")
    return syn, train, hold


def _rows(x, name: str) -> np.ndarray:
    """``x`` as a C-contiguous 2-D array, one flattened sample per row; finite values only."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{name}: a scalar, expected an array of samples")
    width = int(np.prod(x.shape[1:]))  # not -1: numpy cannot infer it for 0 samples
    x = np.ascontiguousarray(x.reshape(len(x), width), dtype=np.float64)
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise ValueError(f"{name}: {bad} samples hold NaN or inf values")
    return x


def _same_width(a: np.ndarray, b: np.ndarray, name: str) -> None:
    if len(a) and len(b) and a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name}: samples of {b.shape[1]} values, but the synthetic ones have "
            f"{a.shape[1]}; both must have the same shape"
        )
