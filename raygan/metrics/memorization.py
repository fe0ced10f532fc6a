"""Memorization metrics shared by every study: how much of what a generator emits it copied.

Measure against the training set itself (not only a test split): a generator that copies
its training data scores well on any realism metric, so copying has to be counted apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist


def exact_copy_rate(samples: Sequence[Hashable], training: Iterable[Hashable]) -> float:
    """Share of ``samples`` equal to some training item (0.0 when there are no samples).

    Every sample counts, repeats included: a generator stuck on one training item scores 1.0.
    """
    if not samples:
        return 0.0
    seen = set(training)
    return sum(s in seen for s in samples) / len(samples)


# ----------------------------------------------------------------------------- arrays (images)
#
# The same ideas for real-valued samples (images in [0, 1], any shape per sample; each is
# flattened to one row). Distances are Euclidean on the values as given; exact copies are
# judged after rounding to the data's grey levels, since a generator's float output is never
# bit-equal to a training image even when it draws the same picture.
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
_CHUNK_ELEMENTS = 1 << 22  # distance-matrix entries per chunk: 32 MB of float64


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
    syn = _rows(synthetic, "synthetic")
    train = _rows(training, "training")
    _same_width(syn, train, "training")
    if len(syn) == 0:
        _check_levels(levels)
        return 0.0
    syn, train = quantize(syn, levels), quantize(train, levels)  # C-contiguous uint8 rows
    # one opaque bytes value per row, so np.isin compares whole images in one sorted pass
    row = np.dtype((np.void, syn.shape[1]))
    return float(np.isin(syn.view(row).ravel(), train.view(row).ravel()).mean())


def nearest_distances(a, b) -> np.ndarray:
    """Euclidean distance (float64, shape (len(a),)) from each row of ``a`` to its nearest
    row of ``b``. Nothing is excluded: a row of ``a`` that is also in ``b`` gets 0."""
    a = _rows(a, "a")
    b = _rows(b, "b")
    _same_width(a, b, "b")
    if len(b) == 0:
        raise ValueError("b: no samples to measure distances to")
    out = np.empty(len(a))
    b_sq = np.einsum("ij,ij->i", b, b)
    step = max(1, _CHUNK_ELEMENTS // len(b))
    for start in range(0, len(a), step):
        part = a[start : start + step]
        # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same for every b, so the argmin
        # of the rest finds the nearest row with one matrix product
        nearest = np.argmin(b_sq[None, :] - 2.0 * (part @ b.T), axis=1)
        # the expansion cancels badly for near-identical rows (a copy would read ~1e-8, not
        # 0), so measure the winner's distance directly
        out[start : start + step] = np.linalg.norm(part - b[nearest], axis=1)
    return out


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
    return _dcr(nearest_distances(syn, train), nearest_distances(hold, train))


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
    syn, train, hold = _reference_rows(synthetic, training, holdout)
    if len(syn) == 0:
        _check_levels(levels)  # bad input stays an error, generated samples or not
        return dict.fromkeys(METRIC_KEYS, 0.0)
    to_train = nearest_distances(syn, train)
    to_holdout = nearest_distances(syn, hold)
    return {
        "exact_copy": exact_copy_rate_arrays(syn, train, levels=levels),
        **_dcr(to_train, nearest_distances(hold, train)),
        "closer_to_training": closer_to_training_share(syn, train, hold, seed=seed),
        "memorization": _memorization(to_train, to_holdout, len(train), len(hold)),
    }


def _dcr(synthetic_to_train: np.ndarray, holdout_to_train: np.ndarray) -> dict[str, float]:
    dcr_synthetic = float(np.median(synthetic_to_train))
    # no held-out samples (a text corpus without one): no baseline, read like a zero one
    dcr_holdout = float(np.median(holdout_to_train)) if len(holdout_to_train) else 0.0
    ratio = dcr_synthetic / dcr_holdout if dcr_holdout > 0 else 1.0
    return {"dcr_synthetic": dcr_synthetic, "dcr_holdout": dcr_holdout, "dcr_ratio": ratio}


def _training_share(to_train: np.ndarray, to_holdout: np.ndarray) -> float:
    """Share of samples whose nearest training sample beats their nearest holdout one; ties half."""
    return float(np.mean((to_train < to_holdout) + 0.5 * (to_train == to_holdout)))


def _memorization(to_train, to_holdout, n_train: int, n_holdout: int) -> float:
    return _chance_corrected(_training_share(to_train, to_holdout), n_train, n_holdout)


def _chance_corrected(p: float, n_train: int, n_holdout: int) -> float:
    """``memorization_score``'s (p - p0) / (1 - p0) in [0, 1] from the observed training
    share p of nearest neighbours, with p0 = n_train / (n_train + n_holdout)."""
    p0 = n_train / (n_train + n_holdout)
    return float(np.clip((p - p0) / (1.0 - p0), 0.0, 1.0))


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


# ----------------------------------------------------------------------------- strings (text)
#
# The same ideas for strings. Distance is the normalized Levenshtein distance: the fewest
# one-character insertions, deletions and substitutions that turn one string into the other,
# over the longer one's length, so in [0, 1]: 0 for equal strings, 1 for nothing in common.
# A ``key`` function (the emoticon metrics pass ``emoticon.skeleton``) maps every string to
# the form that is compared, so copies that differ only in padding count as copies.
#
# Generators repeat themselves a lot and reference sets hold strings with one key, so every
# distance is computed once per distinct key and weighted by how many strings share it.
#
# Empty synthetic input: every metric is 0.0, as for arrays. Empty training is a ValueError.
# An empty held-out set (a user's own file) is allowed: memorization then falls back to the
# near-copy rate and DCR has no baseline (dcr_holdout 0.0, dcr_ratio 1.0).

TEXT_METRIC_KEYS = (
    "exact_copy",
    "near_copy",
    "dcr_synthetic",
    "dcr_holdout",
    "dcr_ratio",
    "memorization",
)


@dataclass(frozen=True, eq=False)
class TextReference:
    """Training and held-out strings, prepared once for every string memorization metric.

    Build it with ``TextReference.build``; a study builds one per trial and scores every
    round's samples against it. Fields:
      training, heldout: the strings as given (exact copies, held-out hits);
      train_keys: the key of every training string (near copies);
      neighbours: the memorization reference as distinct keys: the training keys first
        (``n_train_keys`` of them), then the held-out keys that are no training key;
      train_counts (n_train_keys,), heldout_counts (len(neighbours) - n_train_keys,):
        how many training / held-out strings have each of those keys (float64);
      heldout_to_train (len of the held-out input,): each held-out string's distance to
        its nearest training key, the DCR baseline.
    """

    training: frozenset[str]
    heldout: frozenset[str]
    train_keys: frozenset[str]
    neighbours: tuple[str, ...]
    n_train_keys: int
    train_counts: np.ndarray
    heldout_counts: np.ndarray
    heldout_to_train: np.ndarray
    key: Callable[[str], str] | None = None

    @classmethod
    def build(
        cls,
        training: Iterable[str],
        heldout: Iterable[str] = (),
        *,
        key: Callable[[str], str] | None = None,
    ) -> TextReference:
        """The reference for ``training`` and ``heldout`` strings; ``key`` (default: the
        string itself) maps a string to the form that is compared.

        A held-out string whose key is a training key is left out of the memorization
        reference (by the copy rule it is a copy, so it cannot stand for new data) but kept
        in the DCR baseline (it is still real data the generator never saw).
        Raises ValueError when ``training`` is empty.
        """
        training = list(training)
        heldout = list(heldout)
        if not training:
            raise ValueError("training: no strings; memorization needs a non-empty reference set")
        keyed = _key_map(training + heldout, key)
        train_counts = Counter(keyed[s] for s in training)
        heldout_keys = [keyed[s] for s in heldout]
        heldout_counts = Counter(k for k in heldout_keys if k not in train_counts)
        train_list = list(train_counts)
        if heldout:
            distinct = list(dict.fromkeys(heldout_keys))
            nearest = dict(
                zip(distinct, _nearest_text_distances(distinct, train_list), strict=True)
            )
            heldout_to_train = np.array([nearest[k] for k in heldout_keys])
        else:
            heldout_to_train = np.zeros(0)
        return cls(
            training=frozenset(training),
            heldout=frozenset(heldout),
            train_keys=frozenset(train_counts),
            neighbours=(*train_list, *heldout_counts),
            n_train_keys=len(train_list),
            train_counts=np.array(list(train_counts.values()), dtype=np.float64),
            heldout_counts=np.array(list(heldout_counts.values()), dtype=np.float64),
            heldout_to_train=heldout_to_train,
            key=key,
        )

    @property
    def has_baseline(self) -> bool:
        """Whether any held-out string is left in the memorization reference."""
        return len(self.heldout_counts) > 0

    def keys(self, samples: Sequence[str]) -> list[str]:
        """The key of each sample (computed once per distinct sample)."""
        keyed = _key_map(samples, self.key)
        return [keyed[s] for s in samples]


def near_copy_rate(samples: Sequence[str], reference: TextReference) -> float:
    """Share of ``samples`` whose key equals the key of some training string (exact copies
    included; repeats count). 0.0 when there are no samples."""
    if not samples:
        return 0.0
    return sum(k in reference.train_keys for k in reference.keys(samples)) / len(samples)


def text_dcr(samples: Sequence[str], reference: TextReference) -> dict[str, float]:
    """``dcr`` for strings: SDMetrics' DCR baseline / syntheval's mDCR with the normalized
    Levenshtein distance between keys. ``dcr_synthetic``: median over samples of the
    distance to the nearest training key; ``dcr_holdout``: the same median over the
    held-out strings; ``dcr_ratio`` = synthetic / holdout, 1.0 when the baseline is 0 or
    there is no held-out set. All 0.0 when there are no samples."""
    return _text_metrics(samples, reference, ("dcr_synthetic", "dcr_holdout", "dcr_ratio"))


def text_memorization_score(samples: Sequence[str], reference: TextReference) -> float:
    """``memorization_score`` for strings: the share of samples that are (near) copies of
    training strings beyond what chance explains, in [0, 1].

    The reference is every training key and every held-out key that is no training key,
    each weighted by its number of strings. For each sample, take its nearest reference
    keys (normalized Levenshtein distance; several when tied at the minimum) and the
    training share among them, n_train_tied / (n_train_tied + n_heldout_tied) counted in
    strings: under the null (the sample is one more draw from the real data) that is the
    expected share of a nearest neighbour picked at random among the tied ones. With p the
    mean share over samples and p0 = n_train / (n_train + n_heldout) the same counts,

        memorization = clip((p - p0) / (1 - p0), 0, 1).

    A sample whose key is a training key has share 1 (no held-out key equals it), so a set
    of near copies scores 1.0. Without a held-out reference (none given, or every held-out
    string a copy) there is no chance level to correct for: the score is then
    ``near_copy_rate``. 0.0 when there are no samples.
    """
    return _text_metrics(samples, reference, ("memorization",))["memorization"]


def text_memorization_metrics(samples: Sequence[str], reference: TextReference) -> dict:
    """Every string memorization metric in one pass (floats; all 0.0 without samples):
    ``exact_copy`` (share of samples equal to a training string, ``exact_copy_rate``),
    ``near_copy`` (``near_copy_rate``), ``dcr_synthetic``, ``dcr_holdout``, ``dcr_ratio``
    (``text_dcr``) and ``memorization`` (``text_memorization_score``)."""
    return _text_metrics(samples, reference, TEXT_METRIC_KEYS)


def _text_metrics(
    samples: Sequence[str], reference: TextReference, wanted: tuple[str, ...]
) -> dict[str, float]:
    """The ``wanted`` ones of ``TEXT_METRIC_KEYS``; distances only when a wanted one needs them."""
    if not samples:
        return dict.fromkeys(wanted, 0.0)
    counts = Counter(reference.keys(samples))
    keys = list(counts)
    weights = np.array(list(counts.values()), dtype=np.float64)
    near_copy = sum(w for k, w in counts.items() if k in reference.train_keys) / len(samples)
    out = {
        "exact_copy": exact_copy_rate(samples, reference.training),
        "near_copy": near_copy,
    }
    if {"dcr_synthetic", "dcr_holdout", "dcr_ratio", "memorization"} & set(wanted):
        to_train, share = _text_neighbours(keys, reference)
        out |= _dcr(np.repeat(to_train, weights.astype(np.int64)), reference.heldout_to_train)
        if reference.has_baseline:
            p = float(weights @ share) / weights.sum()
            n_train, n_heldout = reference.train_counts.sum(), reference.heldout_counts.sum()
            out["memorization"] = _chance_corrected(p, n_train, n_heldout)
        else:
            out["memorization"] = near_copy
    return {k: out[k] for k in wanted}


def _text_neighbours(keys: list[str], reference: TextReference) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``keys``: distance to its nearest training key, and the training share
    of its nearest memorization-reference keys (ties split by string counts). (len(keys),)
    float64 each."""
    n_train = reference.n_train_keys
    to_train = np.empty(len(keys))
    share = np.empty(len(keys))
    step = max(1, _CHUNK_ELEMENTS // len(reference.neighbours))
    for start in range(0, len(keys), step):
        d = _text_distances(keys[start : start + step], reference.neighbours)
        to_train[start : start + step] = d[:, :n_train].min(axis=1)
        tied = d == d.min(axis=1, keepdims=True)
        n_tied_train = tied[:, :n_train] @ reference.train_counts
        n_tied_heldout = tied[:, n_train:] @ reference.heldout_counts
        share[start : start + step] = n_tied_train / (n_tied_train + n_tied_heldout)
    return to_train, share


def _nearest_text_distances(a: list[str], b: list[str]) -> np.ndarray:
    """(len(a),) float64: each string of ``a``'s distance to its nearest string of ``b``."""
    out = np.empty(len(a))
    step = max(1, _CHUNK_ELEMENTS // len(b))
    for start in range(0, len(a), step):
        out[start : start + step] = _text_distances(a[start : start + step], b).min(axis=1)
    return out


def _text_distances(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """(len(a), len(b)) float64 normalized Levenshtein distances."""
    # float64, not rapidfuzz's float32 default: ties are found by equality, and float32
    # (steps of 6e-8) could merge two different ratios of long strings, which differ by at
    # least 1/n^2 for lengths up to n. One worker: a trial holds one CPU.
    return cdist(a, b, scorer=Levenshtein.normalized_distance, dtype=np.float64, workers=1)


def _key_map(strings: Iterable[str], key: Callable[[str], str] | None) -> dict[str, str]:
    """{string: its key} over the distinct ``strings``."""
    distinct = dict.fromkeys(strings)
    return {s: s if key is None else key(s) for s in distinct}
