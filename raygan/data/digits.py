"""Imbalanced digit images: sklearn's embedded 8x8 digits, or MNIST / Fashion-MNIST from IDX files.

The setting of the conditional-GAN augmentation papers: one *minority* class is cut down to a
handful of training samples (MNIST: the fives, 54 kept), a generator learns from what is left,
and a classifier is scored on a *balanced* test set. The cut-away minority samples are kept as
``x_removed``: never given to a generator, they are real minority samples it has not seen, the
held-out baseline that memorization metrics compare against.

Random streams are separate per step (test pick, val split, minority cut), so changing the
minority options never changes the test or validation sets of a seed, and a smaller
``minority_count`` keeps a subset of the samples a larger one keeps.

Nothing is ever downloaded: MNIST must already be on disk as the four standard IDX files.
Splits are cached once per process (Ray reuses worker processes across trials); their arrays
are read-only so one trial cannot corrupt the cached copy another trial gets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raygan.data import DataError
from raygan.data.idx import (
    IDX_NAMES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    NUM_CLASSES,
    find_idx_file,
    read_idx,
    read_idx_pair,
    stamp,
)
from raygan.settings import is_int, is_number

__all__ = ["IDX_NAMES", "IMAGES_MAGIC", "LABELS_MAGIC", "NUM_CLASSES", "DigitSplit", "read_idx"]

KINDS = ("mnist", "fashion-mnist")  # the same IDX format; the kind only names the source
DIGITS_TEST_PER_CLASS = 30  # of ~180 per class in sklearn digits: ~150 left for train + val
# random streams, one per step (see the module docstring)
_TEST_STREAM, _VAL_STREAM, _CUT_STREAM = 0, 1, 2


class _Unset:
    """minority_count left unset: 10, unless minority_fraction is given instead.

    A sentinel rather than a plain 10 so that ``minority_fraction=0.01`` alone works (study
    files are TOML, which has no null to switch the count off with).
    """

    def __repr__(self) -> str:
        return "10 (unless minority_fraction)"


UNSET = _Unset()
DEFAULT_MINORITY_COUNT = 10


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays has no single truth value
class DigitSplit:
    x_train: np.ndarray  # float32 (n, 1, H, W) in [0, 1]; minority class already cut
    y_train: np.ndarray  # int64 (n,)
    x_val: np.ndarray  # stratified like the source (the minority is not cut here)
    y_val: np.ndarray
    x_test: np.ndarray  # balanced: the same count for every class
    y_test: np.ndarray
    x_removed: np.ndarray  # minority training samples cut away: real, never given to a generator
    y_removed: np.ndarray
    minority: int
    num_classes: int
    levels: int  # grey levels of the source: 17 for sklearn digits (0..16), 256 for MNIST
    source: str

    def __repr__(self) -> str:  # sizes, not the arrays (the default repr prints pixels)
        h, w = self.x_train.shape[2:]
        return (
            f"DigitSplit(source={self.source!r}, {h}x{w}, levels={self.levels}, "
            f"minority={self.minority}, train={len(self.y_train)} "
            f"({int((self.y_train == self.minority).sum())} of the minority), "
            f"val={len(self.y_val)}, test={len(self.y_test)}, removed={len(self.y_removed)})"
        )


def load_split(*, source: str = "digits", **options) -> DigitSplit:
    """``source`` "digits" (embedded), or a directory of IDX files (option ``kind``)."""
    if source == "digits":
        if "kind" in options:
            raise DataError(
                f"data.kind: {options['kind']!r} applies to a directory of IDX files, "
                "not to source 'digits'"
            )
        return load_digits_split(**options)
    return load_idx_split(source, **options)


def load_study_split(*, source: str, kind: str, **options) -> DigitSplit:
    """load_split for a study's data settings, where ``kind`` always has a value (its
    default) but means something only for a directory of IDX files."""
    if source != "digits":
        options["kind"] = kind
    return load_split(source=source, **options)


def load_digits_split(
    *,
    minority: int = 5,
    minority_count: int | None | _Unset = UNSET,
    minority_fraction: float | None = None,
    val_fraction: float = 0.15,
    test_per_class: int | None = None,
    seed: int = 0,
) -> DigitSplit:
    """sklearn's 8x8 digits (values 0..16, ~180 per class), split and cut.

    Test: ``test_per_class`` (default 30) of every class. Val: ``val_fraction`` of what is
    left, per class. Train: the rest, with the minority class cut to ``minority_count``
    samples (default 10) or to ``minority_fraction`` of them; give one of the two, or
    ``minority_count=None`` alone to keep every minority sample.
    """
    count, fraction = _check_options(
        minority, minority_count, minority_fraction, val_fraction, test_per_class, seed
    )
    per_class = DIGITS_TEST_PER_CLASS if test_per_class is None else test_per_class
    return _digits_split(minority, count, fraction, val_fraction, per_class, seed)


def load_idx_split(
    directory: str | Path,
    *,
    minority: int = 5,
    minority_count: int | None | _Unset = UNSET,
    minority_fraction: float | None = None,
    val_fraction: float = 0.15,
    test_per_class: int | None = None,
    seed: int = 0,
    kind: str = "mnist",
) -> DigitSplit:
    """MNIST or Fashion-MNIST from the four standard IDX files (each optionally ``.gz``).

    Train and val come from the ``train-*`` files (val stratified); test is the ``t10k-*``
    files subsampled to ``test_per_class`` of every class (default: the smallest class's
    count). The paper's setting: ``minority=5, minority_count=54``.
    """
    if kind not in KINDS:
        raise DataError(f"data.kind: {kind!r} is not one of {', '.join(KINDS)}")
    count, fraction = _check_options(
        minority, minority_count, minority_fraction, val_fraction, test_per_class, seed
    )
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"data.source: {str(directory)!r} is neither 'digits' nor a directory")
    # (path, mtime, size) in the cache key, so a file rewritten in place is read again
    stamps = tuple(stamp(find_idx_file(directory, name)) for name in IDX_NAMES.values())
    return _idx_split(stamps, kind, minority, count, fraction, val_fraction, test_per_class, seed)


# ----------------------------------------------------------------------------- option checks


def _check_options(minority, minority_count, minority_fraction, val_fraction, test_per_class, seed):
    """Validate the options shared by both sources; return the cut as (count, fraction).

    A study's values arrive checked by its Data class; these loaders are also called
    directly (benchmarks, notebooks) with options no Data class declares, so they check
    their own, in the words of the data settings they stand for."""
    if not is_int(minority) or not 0 <= minority < NUM_CLASSES:
        raise DataError(f"data.minority: {minority!r} is not a class; choose 0..9")
    if isinstance(minority_count, _Unset):
        minority_count = None if minority_fraction is not None else DEFAULT_MINORITY_COUNT
    elif minority_count is not None and minority_fraction is not None:
        raise DataError(
            f"data.minority_count: {minority_count!r} given together with data.minority_fraction "
            f"{minority_fraction!r}; give one of the two"
        )
    if minority_count is not None and (not is_int(minority_count) or minority_count < 1):
        raise DataError(f"data.minority_count: {minority_count!r} must be an integer >= 1")
    if minority_fraction is not None and (
        not is_number(minority_fraction) or not 0 < minority_fraction <= 1
    ):
        raise DataError(f"data.minority_fraction: {minority_fraction!r} must be in (0, 1]")
    if not is_number(val_fraction) or not 0 <= val_fraction < 1:
        raise DataError(f"data.val_fraction: {val_fraction!r} must be in [0, 1)")
    if test_per_class is not None and (not is_int(test_per_class) or test_per_class < 1):
        raise DataError(f"data.test_per_class: {test_per_class!r} must be an integer >= 1")
    if not is_int(seed) or seed < 0:
        raise DataError(f"data.seed: {seed!r} must be an integer >= 0")
    return minority_count, None if minority_fraction is None else float(minority_fraction)


# ----------------------------------------------------------------------------- sources


@functools.lru_cache(maxsize=8)
def _digits_split(minority, count, fraction, val_fraction, test_per_class, seed) -> DigitSplit:
    from sklearn.datasets import load_digits

    digits = load_digits()  # bundled with scikit-learn: no download
    images = digits.images.astype(np.uint8)  # (1797, 8, 8), values 0..16
    labels = digits.target.astype(np.int64)
    smallest = int(np.bincount(labels, minlength=NUM_CLASSES).min())
    if test_per_class >= smallest:
        raise DataError(
            f"data.test_per_class: {test_per_class} leaves no training sample of the smallest "
            f"digits class ({smallest} samples); choose < {smallest}"
        )
    test = _balanced_pick(labels, test_per_class, _rng(seed, _TEST_STREAM))
    rest = np.setdiff1d(np.arange(len(labels)), test)
    return _make_split(
        images[rest],
        labels[rest],
        images[test],
        labels[test],
        levels=17,
        source="digits",
        minority=minority,
        count=count,
        fraction=fraction,
        val_fraction=val_fraction,
        seed=seed,
    )


@functools.lru_cache(maxsize=4)  # an MNIST split is ~200 MB of float32
def _idx_split(
    stamps, kind, minority, count, fraction, val_fraction, test_per_class, seed
) -> DigitSplit:
    train_images_path, train_labels_path, test_images_path, test_labels_path = (
        path for path, _, _ in stamps
    )
    train_images, train_labels = read_idx_pair(train_images_path, train_labels_path)
    test_images, test_labels = read_idx_pair(test_images_path, test_labels_path)
    if test_images.shape[1:] != train_images.shape[1:]:
        raise DataError(
            f"{test_images_path}: images are {_size(test_images)} but those of "
            f"{train_images_path} are {_size(train_images)}; both must be the same size"
        )
    counts = np.bincount(test_labels, minlength=NUM_CLASSES)
    smallest = int(counts.min())
    if smallest == 0:
        missing = int(np.argmin(counts))
        raise DataError(
            f"{test_labels_path}: no sample of class {missing}; a balanced test set needs "
            "every class 0..9"
        )
    per_class = smallest if test_per_class is None else test_per_class
    if per_class > smallest:
        raise DataError(
            f"data.test_per_class: {per_class} exceeds the {smallest} test samples of the "
            f"smallest class in {test_labels_path}; choose <= {smallest}"
        )
    test = _balanced_pick(test_labels, per_class, _rng(seed, _TEST_STREAM))
    return _make_split(
        train_images,
        train_labels,
        test_images[test],
        test_labels[test],
        levels=256,
        source=kind,
        minority=minority,
        count=count,
        fraction=fraction,
        val_fraction=val_fraction,
        seed=seed,
    )


def _make_split(
    images,
    labels,
    test_images,
    test_labels,
    *,
    levels,
    source,
    minority,
    count,
    fraction,
    val_fraction,
    seed,
) -> DigitSplit:
    """Stratified val from (images, labels), then the minority cut of what stays for train."""
    val = _stratified_pick(labels, val_fraction, _rng(seed, _VAL_STREAM))
    train = np.setdiff1d(np.arange(len(labels)), val)
    train, removed = _cut_minority(
        labels, train, minority, count, fraction, _rng(seed, _CUT_STREAM)
    )

    def x(idx, source_images=images):  # uint8 grey levels -> float32 (n, 1, H, W) in [0, 1]
        out = source_images[idx].astype(np.float32)[:, None] / np.float32(levels - 1)
        return _read_only(out)

    def y(idx, source_labels=labels):
        return _read_only(source_labels[idx].astype(np.int64))

    all_test = np.arange(len(test_labels))
    return DigitSplit(
        x_train=x(train),
        y_train=y(train),
        x_val=x(val),
        y_val=y(val),
        x_test=x(all_test, test_images),
        y_test=y(all_test, test_labels),
        x_removed=x(removed),
        y_removed=y(removed),
        minority=minority,
        num_classes=NUM_CLASSES,
        levels=levels,
        source=source,
    )


# ----------------------------------------------------------------------------- splitting


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _balanced_pick(labels: np.ndarray, per_class: int, rng) -> np.ndarray:
    """Sorted indices of ``per_class`` random samples of every class."""
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(NUM_CLASSES)]
    return np.sort(np.concatenate(picks))


def _stratified_pick(labels: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Sorted indices of ``fraction`` of every class, rounded; at least one sample of a class
    always stays behind, so val never empties a class out of train."""
    picks = []
    for c in range(NUM_CLASSES):
        members = np.flatnonzero(labels == c)
        take = min(round(fraction * len(members)), max(len(members) - 1, 0))
        picks.append(rng.permutation(members)[:take])
    return np.sort(np.concatenate(picks))


def _cut_minority(labels, train, minority, count, fraction, rng):
    """(kept train indices, removed minority indices), both sorted.

    The kept ones are the first of one seeded permutation, so a smaller cut is a subset of
    a larger one for the same seed.
    """
    members = train[labels[train] == minority]
    if count is None and fraction is None:
        return train, train[:0]
    keep = count if count is not None else max(1, round(fraction * len(members)))
    if keep > len(members):
        raise DataError(
            f"data.minority_count: {keep} exceeds the {len(members)} training samples of "
            f"class {minority}; choose <= {len(members)}"
        )
    order = rng.permutation(members)
    removed = np.sort(order[keep:])
    return np.setdiff1d(train, removed), removed


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _size(images: np.ndarray) -> str:
    return f"{images.shape[1]}x{images.shape[2]}"
