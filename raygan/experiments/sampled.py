"""The images a step evaluated, kept for ``Experiment.samples``: what the memorization
metric found of each is kept with the metrics; the PNG encoding is done once, when the
samples are first asked for (most rounds of a study are never stored)."""

from __future__ import annotations

import numpy as np

from raygan.metrics.image_samples import image_judgements
from raygan.metrics.memorization import NearestTraining


class ImageRound:
    """One step's evaluated images (n, 1, H, W) in [0, 1], their labels (n,), the
    training images the metric compared them with, and its ``NearestTraining``.
    ``training_index`` maps indices of ``training`` to the family's training set;
    ``order`` is the order the samples are handed out in (default: as generated)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        training: np.ndarray,
        nearest: NearestTraining,
        *,
        training_index: np.ndarray | None = None,
        order: np.ndarray | None = None,
    ) -> None:
        self._parts = (images, labels, training, nearest, training_index, order)
        self._judged: list[dict] | None = None

    def judged(self) -> list[dict]:
        """``image_judgements`` of the images, in ``order``: a new list each call."""
        if self._judged is None:
            images, labels, training, nearest, training_index, order = self._parts
            judged = image_judgements(
                images, labels, training, nearest, training_index=training_index
            )
            self._judged = judged if order is None else [judged[i] for i in order]
        return list(self._judged)
