"""MNIST-style IDX files written by tests: nothing is ever downloaded."""

import gzip

import numpy as np

from raygan.data.digits import IDX_NAMES, IMAGES_MAGIC, LABELS_MAGIC

TRAIN_N, TEST_COUNTS = 200, [12, 10, 10, 8, 10, 10, 10, 10, 10, 10]  # test: class 3 smallest


def idx_bytes(array: np.ndarray, magic: int, dims=None) -> bytes:
    dims = array.shape if dims is None else dims
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory, *, gz=False, overrides=None):
    """Tiny MNIST look-alike: 200 random 28x28 train images (20 per class), 100 test.

    ``overrides`` maps a file's key in IDX_NAMES to the bytes to write instead (None: omit it).
    """
    rng = np.random.default_rng(0)
    train_y = np.arange(TRAIN_N) % 10
    test_y = rng.permutation(np.repeat(np.arange(10), TEST_COUNTS))
    images = {
        "train_images": rng.integers(0, 256, (TRAIN_N, 28, 28)),
        "train_labels": train_y,
        "test_images": rng.integers(0, 256, (len(test_y), 28, 28)),
        "test_labels": test_y,
    }
    directory.mkdir(exist_ok=True)
    for key, name in IDX_NAMES.items():
        magic = IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC
        data = idx_bytes(images[key], magic)
        if overrides and key in overrides:
            data = overrides[key]
            if data is None:
                continue
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return images
