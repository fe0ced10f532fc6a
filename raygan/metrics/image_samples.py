"""Generated images judged one by one, as the samples of a round are stored and shown.

Each image becomes a dict of the sample columns (``raygan.results.schema.SAMPLE_COLUMNS``):
the image and its nearest training image as PNG bytes, its class, whether it is an exact
copy, and its distance to that training image. The judgements are the ones
``raygan.metrics.memorization.memorization_evaluation`` made while computing the round's
metrics, so over one round's samples mean(exact_copy) is its ``exact_copy`` and
median(distance) its ``dcr_synthetic``.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from raygan.metrics.memorization import NearestTraining, exact_copy_flags, nearest_neighbours


def png_bytes(image: np.ndarray) -> bytes:
    """An image (H, W) or (1, H, W) with values in [0, 1] as an 8-bit greyscale PNG:
    each value clipped to [0, 1], scaled to 0..255 and rounded. Raises ValueError for any
    other shape."""
    # Pillow, not an own encoder: it is already installed with matplotlib, and PNG needs
    # zlib framing and CRCs that are easy to get subtly wrong.
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f"image: shape {x.shape}; expected (H, W) or (1, H, W)")
    grey = np.rint(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(grey, mode="L").save(out, format="PNG")
    return out.getvalue()


def png_image(data: bytes) -> np.ndarray:
    """The inverse of ``png_bytes``: (H, W) float64 in [0, 1], in steps of 1/255."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def image_judgements(
    images: np.ndarray,
    labels: np.ndarray,
    training: np.ndarray,
    nearest: NearestTraining,
    *,
    training_index: np.ndarray | None = None,
) -> list[dict]:
    """One dict per image: kind "image", image (PNG), label, exact_copy, nearest_image
    (PNG of the nearest training image), nearest_index, distance.

    ``images`` (n, 1, H, W) or (n, H, W) in [0, 1]; ``labels`` (n,) ints; ``training``:
    the images ``nearest`` indexes; ``training_index`` maps those indices to the indices
    reported (the family's whole training set when the metric compared with a part of
    it), default: as they are. Raises ValueError when the lengths differ."""
    n = len(images)
    if not len(labels) == len(nearest.index) == n:
        raise ValueError(
            f"images: {n} images, {len(labels)} labels and {len(nearest.index)} judgements; "
            "need one of each per image"
        )
    index = nearest.index if training_index is None else np.asarray(training_index)[nearest.index]
    # each training image once, however many samples it is nearest to
    nearest_png = {int(i): png_bytes(training[i]) for i in np.unique(nearest.index)}
    return [
        {
            "kind": "image",
            "image": png_bytes(images[i]),
            "label": int(labels[i]),
            "exact_copy": bool(nearest.exact_copy[i]),
            "nearest_image": nearest_png[int(nearest.index[i])],
            "nearest_index": int(index[i]),
            "distance": float(nearest.distance[i]),
        }
        for i in range(n)
    ]


def judge_images(
    images: np.ndarray,
    labels: np.ndarray,
    training: np.ndarray,
    *,
    levels: int,
    training_index: np.ndarray | None = None,
) -> list[dict]:
    """``image_judgements`` of images no metric has looked at yet (fresh samples): their
    nearest training images and exact copies (after ``quantize`` to ``levels`` grey
    levels) found here, as ``memorization_evaluation`` finds them."""
    index, distance = nearest_neighbours(images, training)
    flags = exact_copy_flags(images, training, levels=levels)
    nearest = NearestTraining(index, distance, flags)
    return image_judgements(images, labels, training, nearest, training_index=training_index)
