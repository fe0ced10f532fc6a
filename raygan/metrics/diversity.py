"""Diversity of generated text: does a generator say many things, or one thing many times?

Validity and memorization say nothing about this: 1000 copies of one new valid face are all
valid and none is a copy. These metrics count repeats instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence


def distinct_n(samples: Sequence[str], *, n: int = 2) -> float:
    """distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
    Conversation Models", NAACL): the number of distinct character n-grams over the total
    number of character n-grams in ``samples``, in [0, 1].

    N-grams are taken inside each sample (none spans two samples) on the characters as
    generated; a sample shorter than ``n`` has none. Repeats count in the total, so one
    string repeated scores its own ratio divided by the number of repeats. 0.0 when there
    are no n-grams. Raises ValueError unless ``n`` is an integer >= 1.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: {n!r} must be an integer >= 1")
    counts = Counter(samples)  # each distinct sample's n-grams are listed once
    total = sum(max(0, len(s) - n + 1) * c for s, c in counts.items())
    if total == 0:
        return 0.0
    grams = {s[i : i + n] for s in counts for i in range(len(s) - n + 1)}
    return len(grams) / total


def top_share(samples: Sequence[Hashable]) -> float:
    """Share of ``samples`` equal to the most frequent one, in [0, 1]: a mode-collapse
    indicator (1.0: one string only). 0.0 when there are no samples."""
    if not samples:
        return 0.0
    return Counter(samples).most_common(1)[0][1] / len(samples)
