"""Parquet results of a study run: the tables' schemas (schema), the run directory with
its part files and consolidated tables (store), the Pareto maths (pareto), the rows of a
front table (front) and the summary printed for people (summary)."""

from raygan.names import NAME_RE
from raygan.results.front import FrontRow, FrontTable, front_rows
from raygan.results.pareto import hypervolume, objective_values, pareto_mask, validated_means
from raygan.results.schema import (
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
    "TRIAL_STATUSES",
    "VALIDATION_FILE",
    "FrontRow",
    "FrontTable",
    "RunStore",
    "StudyTables",
    "baseline_schema",
    "format_baselines",
    "format_summary",
    "front_rows",
    "gain_reference",
    "history_schema",
    "hypervolume",
    "mean_std",
    "objective_values",
    "pareto_mask",
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
