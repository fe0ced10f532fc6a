"""Imbalanced digit splits: sklearn digits, and MNIST-style IDX files (tests/support/idx_files.py)."""

import numpy as np
import pytest
from idx_files import TRAIN_N, idx_bytes, write_mnist  # tests/support

from raygan.data import DataError, digits
from raygan.data.digits import (
    IDX_NAMES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    load_digits_split,
    load_idx_split,
    load_split,
)
from raygan.data.kaomoji import DataError as KaomojiDataError

PARTS = ("train", "val", "test", "removed")


def rows(x: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in x.reshape(len(x), -1)}


# ----------------------------------------------------------------------------- sklearn digits


def test_default_split_sizes_and_balanced_test():
    s = load_digits_split()
    assert (s.source, s.levels, s.num_classes, s.minority) == ("digits", 17, 10, 5)
    assert np.bincount(s.y_test).tolist() == [30] * 10
    train_counts = np.bincount(s.y_train, minlength=10)
    assert train_counts[5] == 10 and train_counts.min() == 10
    assert all(c > 100 for i, c in enumerate(train_counts) if i != 5)
    assert set(s.y_removed.tolist()) == {5}
    # val is stratified: every class, ~15% of the ~150 per class left after the test pick
    assert all(20 <= c <= 25 for c in np.bincount(s.y_val, minlength=10))
    # the removed fives plus the kept ones are all training fives: the same count as uncut
    assert len(s.y_removed) + 10 == (load_digits_split(minority_count=None).y_train == 5).sum()


def test_every_sample_lands_in_exactly_one_part():
    from sklearn.datasets import load_digits

    s = load_digits_split(seed=3)
    xs = [getattr(s, f"x_{p}") for p in PARTS]
    ys = [getattr(s, f"y_{p}") for p in PARTS]
    codes = np.concatenate([np.rint(x * 16).astype(np.uint8).reshape(len(x), -1) for x in xs])
    digits = load_digits()
    expected = digits.images.astype(np.uint8).reshape(len(digits.images), -1)
    assert len(codes) == len(expected) == len(rows(codes))  # no sample twice, none lost
    assert rows(codes) == rows(expected)
    # and with its own label
    label_of = {r.tobytes(): y for r, y in zip(expected, digits.target, strict=True)}
    assert [label_of[r.tobytes()] for r in codes] == np.concatenate(ys).tolist()


def test_removed_minority_samples_are_not_in_train():
    s = load_digits_split()
    assert len(s.x_removed) > 100
    assert not rows(s.x_removed) & rows(s.x_train)


def test_arrays_are_float_images_in_unit_range_and_read_only():
    s = load_digits_split()
    for p in PARTS:
        x, y = getattr(s, f"x_{p}"), getattr(s, f"y_{p}")
        assert x.dtype == np.float32 and x.shape[1:] == (1, 8, 8) and y.dtype == np.int64
        assert len(x) == len(y) and x.min() >= 0 and x.max() <= 1
        assert np.array_equal(x * 16, np.rint(x * 16))  # on the 17 grey levels
        assert not x.flags.writeable and not y.flags.writeable  # the cached copy is shared
    assert s.x_train.max() == 1.0


def test_split_is_deterministic_and_cached():
    a = load_digits_split(seed=4, minority_count=12)
    assert load_digits_split(seed=4, minority_count=12) is a  # cached per process
    digits._digits_split.cache_clear()  # a fresh process draws the same split
    fresh = load_digits_split(seed=4, minority_count=12)
    assert fresh is not a
    for p in PARTS:
        assert np.array_equal(getattr(a, f"x_{p}"), getattr(fresh, f"x_{p}"))
        assert np.array_equal(getattr(a, f"y_{p}"), getattr(fresh, f"y_{p}"))
    other = load_digits_split(seed=5, minority_count=12)
    assert rows(a.x_removed) != rows(other.x_removed)
    assert rows(a.x_test) != rows(other.x_test)


def test_minority_options_change_only_the_cut():
    """Test and val don't move with the cut, and a smaller cut keeps a subset of a larger."""
    small, large = load_digits_split(minority_count=5), load_digits_split(minority_count=40)
    for p in ("val", "test"):
        assert np.array_equal(getattr(small, f"x_{p}"), getattr(large, f"x_{p}"))
    kept_small = rows(small.x_train[small.y_train == 5])
    kept_large = rows(large.x_train[large.y_train == 5])
    assert len(kept_small) == 5 and len(kept_large) == 40 and kept_small < kept_large
    others = small.y_train != 5
    assert np.array_equal(small.x_train[others], large.x_train[large.y_train != 5])


def test_minority_fraction_and_keep_all():
    all_fives = int((load_digits_split(minority_count=None).y_train == 5).sum())
    s = load_digits_split(minority_fraction=0.25)  # alone: the count's default steps aside
    assert (s.y_train == 5).sum() == round(0.25 * all_fives)
    assert len(s.y_removed) == all_fives - round(0.25 * all_fives)
    keep_all = load_digits_split(minority_count=None)
    assert keep_all.x_removed.shape == (0, 1, 8, 8) and keep_all.y_removed.shape == (0,)
    assert load_digits_split(minority=2, minority_fraction=1.0).y_removed.shape == (0,)


def test_other_minority_and_test_size():
    s = load_digits_split(minority=0, minority_count=3, test_per_class=50, val_fraction=0.0)
    assert (s.y_train == 0).sum() == 3 and set(s.y_removed.tolist()) == {0}
    assert np.bincount(s.y_test).tolist() == [50] * 10 and len(s.y_val) == 0
    assert s.x_val.shape == (0, 1, 8, 8)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"minority": 10}, "data.minority: 10 is not a class; choose 0..9"),
        ({"minority": "5"}, "data.minority: '5' is not a class"),
        ({"minority_count": 0}, "data.minority_count: 0 must be an integer >= 1"),
        ({"minority_count": 500}, "data.minority_count: 500 exceeds the 1.. training samples"),
        ({"minority_count": 10, "minority_fraction": 0.5}, "give one of the two"),
        ({"minority_fraction": 0.0}, r"data.minority_fraction: 0.0 must be in \(0, 1\]"),
        ({"minority_fraction": 1.5}, r"data.minority_fraction: 1.5 must be in \(0, 1\]"),
        ({"val_fraction": 1.0}, r"data.val_fraction: 1.0 must be in \[0, 1\)"),
        ({"test_per_class": 0}, "data.test_per_class: 0 must be an integer >= 1"),
        ({"test_per_class": 200}, "data.test_per_class: 200 leaves no training sample"),
        ({"seed": -1}, "data.seed: -1 must be an integer >= 0"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(DataError, match=message):
        load_digits_split(**options)


def test_load_split_dispatches_on_source(tmp_path):
    assert load_split() is load_digits_split()
    assert load_split(source="digits", seed=2, minority_count=7) is load_digits_split(
        seed=2, minority_count=7
    )
    with pytest.raises(DataError, match="data.kind: 'mnist' applies to a directory"):
        load_split(source="digits", kind="mnist")
    with pytest.raises(DataError, match="data.source: '.*nowhere' is neither 'digits' nor a dir"):
        load_split(source=str(tmp_path / "nowhere"))


def test_data_error_is_shared_with_kaomoji():
    assert DataError is KaomojiDataError and issubclass(DataError, ValueError)


# ----------------------------------------------------------------------------- IDX files


def test_idx_files_parse_into_a_split(tmp_path):
    raw = write_mnist(tmp_path)
    s = load_idx_split(tmp_path, minority=5, minority_count=None, val_fraction=0.0)
    assert (s.source, s.levels, s.num_classes) == ("mnist", 256, 10)
    assert s.x_train.shape == (TRAIN_N, 1, 28, 28) and s.x_train.dtype == np.float32
    assert np.array_equal(s.x_train[:, 0] * 255, raw["train_images"])  # order kept, /255
    assert s.y_train.tolist() == raw["train_labels"].tolist()
    # test: the t10k files cut to the smallest class's count, every class alike
    assert np.bincount(s.y_test).tolist() == [8] * 10
    assert rows(s.x_test * 255) <= rows(raw["test_images"].astype(np.float32))


def test_idx_minority_cut_and_val(tmp_path):
    write_mnist(tmp_path)
    s = load_idx_split(tmp_path, minority_count=2, test_per_class=5, kind="fashion-mnist", seed=1)
    assert s.source == "fashion-mnist" and np.bincount(s.y_test).tolist() == [5] * 10
    assert np.bincount(s.y_val).tolist() == [3] * 10  # round(0.15 * 20)
    assert (s.y_train == 5).sum() == 2 and len(s.y_removed) == 20 - 3 - 2
    assert len(s.y_train) + len(s.y_val) + len(s.y_removed) == TRAIN_N
    assert not rows(s.x_removed) & rows(s.x_train)
    again = load_idx_split(
        tmp_path, minority_count=2, test_per_class=5, kind="fashion-mnist", seed=1
    )
    assert again is s  # cached


def test_gzipped_idx_files_read_the_same(tmp_path):
    write_mnist(tmp_path / "plain")
    write_mnist(tmp_path / "gz", gz=True)
    assert not list((tmp_path / "gz").glob("*ubyte"))
    plain, gz = load_idx_split(tmp_path / "plain"), load_idx_split(tmp_path / "gz")
    for p in PARTS:
        assert np.array_equal(getattr(plain, f"x_{p}"), getattr(gz, f"x_{p}"))
        assert np.array_equal(getattr(plain, f"y_{p}"), getattr(gz, f"y_{p}"))


def test_load_split_reads_a_directory(tmp_path):
    write_mnist(tmp_path)
    s = load_split(source=str(tmp_path), kind="fashion-mnist", minority_count=4)
    assert s.source == "fashion-mnist" and (s.y_train == 5).sum() == 4


def test_rewritten_files_are_read_again(tmp_path):
    write_mnist(tmp_path)
    before = load_idx_split(tmp_path)
    labels = tmp_path / IDX_NAMES["train_labels"]
    labels.write_bytes(idx_bytes(np.full(TRAIN_N, 10), LABELS_MAGIC))
    with pytest.raises(DataError, match="label 10"):
        load_idx_split(tmp_path)
    assert before.levels == 256


IMAGES_28 = np.zeros((TRAIN_N, 28, 28))
LABELS_OK = np.arange(TRAIN_N) % 10


@pytest.mark.parametrize(
    "key, content, message",
    [
        (
            "train_images",
            idx_bytes(IMAGES_28, 0x00000802),
            r"train-images-idx3-ubyte: wrong magic number 0x00000802 "
            r"\(expected 0x00000803 for images\)",
        ),
        (
            "train_labels",
            idx_bytes(IMAGES_28, IMAGES_MAGIC),
            r"train-labels-idx1-ubyte: wrong magic number 0x00000803 "
            r"\(expected 0x00000801 for labels\)",
        ),
        (
            "train_images",
            idx_bytes(IMAGES_28[:, :2, :22], IMAGES_MAGIC, dims=(TRAIN_N, 28, 28)),
            r"train-images-idx3-ubyte: truncated: header says 200 images of 28x28, "
            r"file holds 8800 bytes of pixels \(expected 156800\)",
        ),
        (
            "test_labels",
            idx_bytes(np.zeros(50), LABELS_MAGIC, dims=(100,)),
            "t10k-labels-idx1-ubyte: truncated: header says 100 labels, file holds 50 bytes",
        ),
        (
            "train_labels",
            idx_bytes(np.zeros(TRAIN_N + 3), LABELS_MAGIC, dims=(TRAIN_N,)),
            "train-labels-idx1-ubyte: 3 bytes after the 200 labels the header announces",
        ),
        ("train_images", b"\x00\x00\x08", "train-images-idx3-ubyte: 3 bytes, too short"),
        (
            "train_labels",
            idx_bytes(LABELS_OK[:199], LABELS_MAGIC),
            "train-labels-idx1-ubyte: 199 labels but .*train-images-idx3-ubyte holds 200 images",
        ),
        (
            "train_labels",
            idx_bytes(np.where(LABELS_OK == 7, 12, LABELS_OK), LABELS_MAGIC),
            r"train-labels-idx1-ubyte: label 12 at index 7 is outside 0..9 \(20 such labels\)",
        ),
        (
            "test_images",
            idx_bytes(np.zeros((100, 8, 8)), IMAGES_MAGIC),
            "t10k-images-idx3-ubyte: images are 8x8 but those of .*train-images-idx3-ubyte are 28x28",
        ),
        (
            "test_labels",
            idx_bytes(np.arange(100) % 9, LABELS_MAGIC),
            "t10k-labels-idx1-ubyte: no sample of class 9",
        ),
        (
            "test_labels",
            None,
            r"missing t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\); an IDX directory "
            r"holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            r"t10k-labels-idx1-ubyte",
        ),
    ],
)
def test_bad_idx_files(tmp_path, key, content, message):
    write_mnist(tmp_path, overrides={key: content})
    with pytest.raises(DataError, match=message):
        load_idx_split(tmp_path)


def test_bad_gzip_file(tmp_path):
    write_mnist(tmp_path, gz=True)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: not a readable gzip file"):
        load_idx_split(tmp_path)


def test_bad_idx_options(tmp_path):
    write_mnist(tmp_path)
    with pytest.raises(DataError, match="data.test_per_class: 9 exceeds the 8 test samples"):
        load_idx_split(tmp_path, test_per_class=9)
    with pytest.raises(DataError, match="data.kind: 'emnist' is not one of mnist, fashion-mnist"):
        load_idx_split(tmp_path, kind="emnist")
    with pytest.raises(DataError, match="data.minority_count: 18 exceeds the 17 training"):
        load_idx_split(tmp_path, minority_count=18)
