"""Parquet results of a study run: the tables' schemas (schema), the run directory with
its part files (store) and its final tables made from them (consolidate), the Pareto
maths (pareto), the rows of a
front table (front) and the summary printed for people (summary)."""

from raygan.names import NAME_RE
from raygan.results.consolidate import consolidate, consolidate_validation
from raygan.results.front import FrontRow, FrontTable, front_rows
from raygan.results.pareto import (
    hypervolume,
    objective_values,
    pareto_mask,
    promotion_order,
    validated_means,
)
from raygan.results.schema import (
    FRONT_STATUSES,
    IDENTITY,
    MATRIX,
    REQUIRED,
    SAMPLE_CAP,
    SAMPLE_COLUMNS,
    SAMPLES_FILE,
    SWEEP_FILE,
    TRIAL_STATUSES,
    baseline_schema,
    history_schema,
    param_type,
    param_value,
    replicate_schema,
    sample_schema,
    spread_names,
    sweep_schema,
    trial_schema,
    validation_schema,
)
from raygan.results.store import (
    BASELINES_FILE,
    PART_KINDS,
    RESULT_FILES,
    VALIDATION_FILE,
    RunStore,
    StudyTables,
)
from raygan.results.summary import (
    format_baselines,
    format_summary,
    gain_reference,
    mean_std,
    plural,
    signed,
)

__all__ = [
    "BASELINES_FILE",
    "IDENTITY",
    "MATRIX",
    "NAME_RE",
    "PART_KINDS",
    "REQUIRED",
    "RESULT_FILES",
    "SAMPLES_FILE",
    "SAMPLE_CAP",
    "SAMPLE_COLUMNS",
    "FRONT_STATUSES",
    "TRIAL_STATUSES",
    "VALIDATION_FILE",
    "FrontRow",
    "FrontTable",
    "RunStore",
    "StudyTables",
    "baseline_schema",
    "consolidate",
    "consolidate_validation",
    "format_baselines",
    "format_summary",
    "front_rows",
    "gain_reference",
    "history_schema",
    "hypervolume",
    "mean_std",
    "objective_values",
    "pareto_mask",
    "promotion_order",
    "param_type",
    "param_value",
    "plural",
    "replicate_schema",
    "sample_schema",
    "SWEEP_FILE",
    "sweep_schema",
    "signed",
    "spread_names",
    "trial_schema",
    "validated_means",
    "validation_schema",
]
