"""Memorization metrics shared by every study: how much of what a generator emits it copied.

Measure against the training set itself (not only a test split): a generator that copies
its training data scores well on any realism metric, so copying has to be counted apart.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence


def exact_copy_rate(samples: Sequence[Hashable], training: Iterable[Hashable]) -> float:
    """Share of ``samples`` equal to some training item (0.0 when there are no samples).

    Every sample counts, repeats included: a generator stuck on one training item scores 1.0.
    """
    if not samples:
        return 0.0
    seen = set(training)
    return sum(s in seen for s in samples) / len(samples)
