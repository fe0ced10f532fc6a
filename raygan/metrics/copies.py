"""The arithmetic every memorization metric shares, whatever its samples are (images in
``raygan.metrics.memorization``, strings in ``raygan.metrics.text_memorization``)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np


def exact_copy_rate(samples: Sequence[Hashable], training: Iterable[Hashable]) -> float:
    """Share of ``samples`` equal to some training item (0.0 when there are no samples).

    Every sample counts, repeats included: a generator stuck on one training item scores 1.0.
    """
    if not samples:
        return 0.0
    seen = set(training)
    return sum(s in seen for s in samples) / len(samples)


def dcr_summary(synthetic_to_train: np.ndarray, holdout_to_train: np.ndarray) -> dict[str, float]:
    """Distance to closest record (SDMetrics' DCR baseline / syntheval's mDCR) from
    nearest-neighbour distances (n_synthetic,) and (n_holdout,), in the samples' distance
    unit: ``dcr_synthetic`` and ``dcr_holdout`` their medians, ``dcr_ratio`` synthetic /
    holdout, 1.0 when the baseline is 0 or absent (closeness then cannot tell copying
    apart from real data). ``synthetic_to_train`` must not be empty."""
    dcr_synthetic = float(np.median(synthetic_to_train))
    # no held-out samples (a text corpus without one): no baseline, read like a zero one
    dcr_holdout = float(np.median(holdout_to_train)) if len(holdout_to_train) else 0.0
    ratio = dcr_synthetic / dcr_holdout if dcr_holdout > 0 else 1.0
    return {"dcr_synthetic": dcr_synthetic, "dcr_holdout": dcr_holdout, "dcr_ratio": ratio}


def chance_corrected(p: float, n_train: float, n_holdout: float) -> float:
    """The memorization score (p - p0) / (1 - p0), clipped to [0, 1], from the observed
    share p of nearest neighbours that are training samples, with the chance level
    p0 = n_train / (n_train + n_holdout) (see ``memorization.memorization_score``)."""
    p0 = n_train / (n_train + n_holdout)
    return float(np.clip((p - p0) / (1.0 - p0), 0.0, 1.0))
