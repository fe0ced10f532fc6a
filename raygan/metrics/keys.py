"""Names of the metrics the metric modules compute, for code that must name them without
computing them: a family's declaration lists its metrics when a study is read, which
must not import the metric modules' dependencies (rapidfuzz, scikit-learn). No imports.
"""

# what raygan.metrics.emoticon.emoticon_metrics returns, in its order
EMOTICON_METRIC_KEYS = (
    "validity",
    "memorization",
    "novel_valid_distinct",
    "exact_copy",
    "near_copy",
    "novel_validity",
    "uniqueness",
    "distinct_2",
    "top_share",
    "heldout_hits",
    "dcr_synthetic",
    "dcr_holdout",
    "dcr_ratio",
)
