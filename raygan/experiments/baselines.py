"""Data-side augmentation baselines a generator has to beat: classic image augmentation and
SMOTE. They make new training samples of one class without any learning; the experiments
score them with the same utility and memorization metrics as a generator's samples.

Inputs are images (n, 1, H, W) or (n, H, W) in [0, 1] (any array-like); outputs are float32
numpy arrays with the same trailing shape.
"""

from __future__ import annotations

import numpy as np
from imblearn.over_sampling import SMOTE
from scipy import ndimage


def classic_augment(
    x,
    *,
    count: int,
    rng: np.random.Generator,
    max_shift: int = 1,
    max_rotation_deg: float = 10.0,
) -> np.ndarray:
    """``count`` new images (count, *x.shape[1:]), each a random source image of x rotated
    by U[-deg, deg] degrees about its centre and shifted by whole pixels in
    [-max_shift, max_shift] per axis (1 suits 8x8, ~3 suits 28x28). Whole-pixel shifts
    keep strokes sharp; the rotation interpolates linearly. Empty space fills with 0;
    output clipped to [0, 1]. Raises ValueError when count > 0 and x holds no image."""
    x = np.asarray(x, dtype=np.float32)
    if count > 0 and len(x) == 0:
        raise ValueError("classic_augment needs at least one source image")
    out = np.empty((count, *x.shape[1:]), dtype=np.float32)
    src = rng.integers(0, len(x), size=count) if count else np.zeros(0, dtype=int)
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, size=count)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(count, 2))
    for i in range(count):
        img = x[src[i]].reshape(x.shape[-2:])  # (H, W)
        img = ndimage.rotate(img, angles[i], reshape=False, order=1, mode="constant", cval=0.0)
        img = ndimage.shift(img, shifts[i], order=0, mode="constant", cval=0.0)
        out[i] = img.reshape(x.shape[1:])
    return np.clip(out, 0.0, 1.0)


def smote(x_minority, *, count: int, k: int = 5, rng: np.random.Generator) -> np.ndarray:
    """SMOTE (Chawla et al. 2002, JAIR 16) for one class, through imbalanced-learn: each of
    the ``count`` new samples (count, *x_minority.shape[1:]) lies at a uniform random
    point on the segment from a random sample to one of its k nearest same-class
    neighbours (Euclidean, in pixel space).

    ``k`` shrinks to n - 1 for a class of n samples, so a class of two still interpolates
    (between its two). Same ``rng`` state, same samples (one draw of it seeds the
    resampler). Raises ValueError for fewer than 2 samples."""
    x = np.asarray(x_minority, dtype=np.float32)
    n = len(x)
    if n < 2:
        raise ValueError(f"SMOTE needs at least 2 samples of the class, got {n}")
    flat = x.reshape(n, -1).astype(np.float64)
    # imbalanced-learn resamples a labelled data set of two classes or more: one placeholder
    # row of another class, never resampled, lets it resample this class alone
    data = np.vstack([flat, np.zeros((1, flat.shape[1]))])
    labels = np.r_[np.zeros(n, dtype=np.int64), 1]
    resampler = SMOTE(
        sampling_strategy={0: n + count},  # exactly count new samples of class 0
        k_neighbors=min(k, n - 1),
        random_state=int(rng.integers(2**31 - 1)),
    )
    resampled, _ = resampler.fit_resample(data, labels)
    new = resampled[n + 1 :]  # the input rows come first, in order, then the new ones
    return new.reshape(count, *x.shape[1:]).astype(np.float32)
