"""Memorization metrics for strings: how much of what a text generator emits it copied.

The ideas of ``raygan.metrics.memorization`` (exact copies, distance to closest record, a
chance-corrected nearest-neighbour share) for strings. Distance is the normalized
Levenshtein distance: the fewest one-character insertions, deletions and substitutions
that turn one string into the other, over the longer one's length, so in [0, 1]: 0 for
equal strings, 1 for nothing in common. A ``key`` function (the emoticon metrics pass
``emoticon.copy_key``) maps every string to the form that is compared, so copies that
differ only in padding count as copies.

Generators repeat themselves a lot and reference sets hold strings with one key, so every
distance is computed once per distinct key and weighted by how many strings share it.

Empty synthetic input: every metric is 0.0, as for arrays. Empty training is a ValueError.
An empty held-out set (a user's own file) is allowed: memorization then falls back to the
near-copy rate and DCR has no baseline (dcr_holdout 0.0, dcr_ratio 1.0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from raygan.metrics.copies import chance_corrected, dcr_summary, exact_copy_rate

_CHUNK_ELEMENTS = 1 << 22  # distance-matrix entries per chunk: 32 MB of float64

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
    train_items: tuple[str, ...] = ()
    key_members: tuple[tuple[int, ...], ...] = ()

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
        members: dict[str, list[int]] = {k: [] for k in train_list}
        for i, s in enumerate(training):
            members[keyed[s]].append(i)
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
            train_items=tuple(training),
            key_members=tuple(tuple(members[k]) for k in train_list),
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


@dataclass(frozen=True)
class TextNearest:
    """Each sample's nearest training string, (n_samples,) each: ``index`` (int64, into
    ``TextReference.train_items``) of a training string whose key is nearest to the
    sample's key (of the training strings with that key, the one nearest to the sample
    itself, so an exact copy points at the string it copies); ``distance`` (float64)
    between the two keys: the DCR distance, so ``median(distance) == dcr_synthetic``."""

    index: np.ndarray
    distance: np.ndarray


def text_memorization_evaluation(
    samples: Sequence[str], reference: TextReference, *, keys: Sequence[str] | None = None
) -> tuple[dict[str, float], TextNearest]:
    """``text_memorization_metrics`` and, from the same distances, each sample's
    ``TextNearest``. ``keys``: the samples' keys (``reference.keys(samples)``) where the
    caller has them already."""
    if not samples:
        empty = TextNearest(np.zeros(0, dtype=np.int64), np.zeros(0))
        return dict.fromkeys(TEXT_METRIC_KEYS, 0.0), empty
    keys = reference.keys(samples) if keys is None else keys
    found: dict[str, tuple[int, float]] = {}
    metrics = _text_metrics(samples, reference, TEXT_METRIC_KEYS, nearest=found, keys=keys)
    pairs = dict.fromkeys(zip(samples, keys, strict=True))  # each distinct sample once
    chosen = {s: _closest_member(s, found[k][0], reference) for s, k in pairs}
    index = np.array([chosen[s] for s in samples], dtype=np.int64)
    distance = np.array([found[k][1] for k in keys], dtype=np.float64)
    return metrics, TextNearest(index, distance)


def _closest_member(sample: str, train_key: int, reference: TextReference) -> int:
    """Of the training strings with training key number ``train_key``, the index of the
    one nearest to ``sample`` (the first on ties)."""
    members = reference.key_members[train_key]
    if len(members) == 1:
        return members[0]
    items = [reference.train_items[i] for i in members]
    return members[int(np.argmin(_text_distances([sample], items)[0]))]


def _text_metrics(
    samples: Sequence[str],
    reference: TextReference,
    wanted: tuple[str, ...],
    *,
    nearest: dict[str, tuple[int, float]] | None = None,
    keys: Sequence[str] | None = None,
) -> dict[str, float]:
    """The ``wanted`` ones of ``TEXT_METRIC_KEYS``; distances only when a wanted one needs
    them. ``nearest``, when given, is filled with {sample key: (number of its nearest
    training key, distance to it)}; ``keys``: the samples' keys, if known."""
    if not samples:
        return dict.fromkeys(wanted, 0.0)
    counts = Counter(reference.keys(samples) if keys is None else keys)
    distinct = list(counts)
    weights = np.array(list(counts.values()), dtype=np.float64)
    near_copy = sum(w for k, w in counts.items() if k in reference.train_keys) / len(samples)
    out = {
        "exact_copy": exact_copy_rate(samples, reference.training),
        "near_copy": near_copy,
    }
    if {"dcr_synthetic", "dcr_holdout", "dcr_ratio", "memorization"} & set(wanted):
        to_train, share, which = _text_neighbours(distinct, reference)
        if nearest is not None:
            pairs = zip(which.tolist(), to_train.tolist(), strict=True)
            nearest.update(zip(distinct, pairs, strict=True))
        out |= dcr_summary(
            np.repeat(to_train, weights.astype(np.int64)), reference.heldout_to_train
        )
        if reference.has_baseline:
            p = float(weights @ share) / weights.sum()
            n_train, n_heldout = reference.train_counts.sum(), reference.heldout_counts.sum()
            out["memorization"] = chance_corrected(p, n_train, n_heldout)
        else:
            out["memorization"] = near_copy
    return {k: out[k] for k in wanted}


def _text_neighbours(
    keys: list[str], reference: TextReference
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``keys``: distance to its nearest training key, the training share of
    its nearest memorization-reference keys (ties split by string counts), both
    (len(keys),) float64, and the number of that nearest training key (int64)."""
    # Whole distance rows, not scikit-learn's NearestNeighbors: the share needs every key
    # tied at the minimum, and a Python-level Levenshtein metric there is far slower than
    # rapidfuzz's C++ cdist.
    n_train = reference.n_train_keys
    to_train = np.empty(len(keys))
    share = np.empty(len(keys))
    which = np.empty(len(keys), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // len(reference.neighbours))
    for start in range(0, len(keys), step):
        d = _text_distances(keys[start : start + step], reference.neighbours)
        which[start : start + step] = d[:, :n_train].argmin(axis=1)
        to_train[start : start + step] = d[:, :n_train].min(axis=1)
        tied = d == d.min(axis=1, keepdims=True)
        n_tied_train = tied[:, :n_train] @ reference.train_counts
        n_tied_heldout = tied[:, n_train:] @ reference.heldout_counts
        share[start : start + step] = n_tied_train / (n_tied_train + n_tied_heldout)
    return to_train, share, which


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
