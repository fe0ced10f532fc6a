"""MNIST-style IDX files: finding the four of a directory and reading them, checked.

IDX: a 4-byte big-endian magic number (0x0000, type 0x08 = unsigned byte, number of
dims), one big-endian uint32 per dim, then the values. Only the two kinds MNIST uses are
read; every problem is a DataError naming the file.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from raygan.data import DataError

NUM_CLASSES = 10
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dims (count, rows, cols)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dim (count)


def find_idx_file(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    expected = ", ".join(IDX_NAMES.values())
    raise DataError(
        f"{directory}: missing {name} (or {name}.gz); an IDX directory holds {expected} "
        "(each optionally .gz)"
    )


def stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def read_idx_pair(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (n, rows, cols) images, int64 (n,) labels in 0..9) of one images/labels pair."""
    images = read_idx(images_path, magic=IMAGES_MAGIC)
    labels = read_idx(labels_path, magic=LABELS_MAGIC).astype(np.int64)
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path}: {len(labels)} labels but {images_path} holds {len(images)} "
            "images; the two files must have the same count"
        )
    bad = np.flatnonzero(labels >= NUM_CLASSES)  # unsigned bytes: never below 0
    if len(bad):
        raise DataError(
            f"{labels_path}: label {labels[bad[0]]} at index {bad[0]} is outside 0..9 "
            f"({len(bad)} such labels)"
        )
    return images, labels


def read_idx(path: str | Path, *, magic: int) -> np.ndarray:
    """The uint8 array of one IDX file (gzipped when its name ends in .gz), checked.

    IDX: 4-byte big-endian magic (0x0000, type 0x08 = unsigned byte, number of dims), one
    big-endian uint32 per dim, then the values. We read only the two kinds MNIST uses.
    """
    path = Path(path)
    what = "images" if magic == IMAGES_MAGIC else "labels"
    ndim = magic & 0xFF
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: not a readable gzip file ({e})") from None
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: {len(data)} bytes, too short for the {header}-byte header of IDX {what}"
        )
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(
            f"{path}: wrong magic number 0x{found:08x} (expected 0x{magic:08x} for {what})"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    body = len(data) - header
    expected = int(np.prod(dims))
    if what == "images":
        if dims[1] < 1 or dims[2] < 1:
            raise DataError(f"{path}: header says images of {dims[1]}x{dims[2]} pixels")
        announced = f"{dims[0]} images of {dims[1]}x{dims[2]}"
        unit = "pixels"
    else:
        announced = f"{dims[0]} labels"
        unit = "labels"
    if body < expected:
        raise DataError(
            f"{path}: truncated: header says {announced}, file holds {body} bytes of {unit} "
            f"(expected {expected})"
        )
    if body > expected:
        raise DataError(
            f"{path}: {body - expected} bytes after the {announced} the header announces"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
