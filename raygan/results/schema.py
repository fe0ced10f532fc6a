"""Arrow schemas of a run's tables: trials, history, replicates, validation, baselines.

The schema is fixed by the spec (metrics always float64, every column nullable) so that
parts written at different times read back as one table. Plain Parquet types only (no
extension types): pandas, pyarrow and DuckDB all read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    from raygan.spec import Param, StudySpec

# completed: every round run; pruned: stopped at a rung by the scheduler (mo-asha), its kept
# round a real point of the model trained so far, so it may stand on the front; stopped:
# cut by the time budget, never on the front; failed: raised.
TRIAL_STATUSES = ("completed", "pruned", "stopped", "failed")
FRONT_STATUSES = ("completed", "pruned")
# Every part row must say which trial it belongs to; everything else may be unknown (a trial
# that errors before it starts still gets a row, recorded from the engine's callback).
IDENTITY = [
    ("study", pa.string()),
    ("run", pa.string()),
    ("trial_id", pa.string()),
    ("trial_index", pa.int64()),
]
REQUIRED = tuple(name for name, _ in IDENTITY)
# A matrix metric (a confusion matrix, say) is a list of rows of numbers.
MATRIX = pa.list_(pa.list_(pa.float64()))


def param_type(p: Param) -> pa.DataType:
    """The column type of a searched setting; a categorical one of mixed types is text
    (``str(value)``)."""
    if p.type == "int":
        return pa.int64()
    if p.type in ("float", "logfloat"):
        return pa.float64()
    choices = p.choices
    if all(isinstance(c, bool) for c in choices):
        return pa.bool_()
    if all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        return pa.int64()
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices):
        return pa.float64()
    return pa.string()


def param_value(param: Param, value):
    """A searched value as the trial had it, from its row: a categorical whose choices mix
    types is stored as text (``param_type``), so map the text back to the choice."""
    if value is None or param.type != "categorical" or any(c == value for c in param.choices):
        return value
    for choice in param.choices:
        if str(choice) == value:
            return choice
    return value


def _schema(head: list, metric_names: Sequence[str], tail: list) -> pa.Schema:
    fields = head + [(m, pa.float64()) for m in metric_names] + tail
    names = [name for name, _ in fields]
    # pa.schema accepts duplicate names, and then nothing can select the column
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"result columns {clashes} appear twice (a metric named like a column?)")
    return pa.schema(fields)


def spread_names(metric_names: Sequence[str]) -> list[str]:
    """The ``<metric>_std`` column of each metric: its standard deviation over replicates."""
    return [f"{m}_std" for m in metric_names]


def trial_schema(
    spec: StudySpec, metric_names: Sequence[str], matrix_names: Sequence[str] = ()
) -> pa.Schema:
    """One row per trial (a configuration): identity, params, metrics (each the mean over
    the trial's replicates; null when failed), their standard deviations, run facts,
    pareto, and validated_front: true for a front configuration whose validated means
    stay on the front (false for every other row, and for every row of a study that
    validated nothing). Raises ValueError when a metric is named like another column."""
    head = [*IDENTITY, ("status", pa.string()), ("error", pa.string()), ("seed", pa.int64())]
    head += [(f"param_{p.name}", param_type(p)) for p in spec.search]
    tail = [
        *((name, pa.float64()) for name in spread_names(metric_names)),
        ("n_replicates", pa.int64()),
        ("steps", pa.int64()),
        ("num_steps", pa.int64()),
        ("kept_step", pa.int64()),  # the step whose metrics the row holds ([result] round)
        ("wall_time_s", pa.float64()),
        ("cpu_time_s", pa.float64()),  # CPU-seconds of the trial's process (all its threads)
        ("peak_rss_mb", pa.float64()),  # of the worker process, over every trial it ran
        ("cpus", pa.float64()),
        ("gpus", pa.float64()),
        ("node", pa.string()),
        ("node_id", pa.string()),  # node IPs repeat when several Ray nodes share a machine
        ("device", pa.string()),  # cpu or cuda: what the trial actually ran on
        ("retries", pa.int64()),
        ("raygan_version", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),  # of the attempt that finished it
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("pareto", pa.bool_()),
        ("validated_front", pa.bool_()),
    ]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names] + tail)


def replicate_schema(
    spec: StudySpec, metric_names: Sequence[str], matrix_names: Sequence[str] = ()
) -> pa.Schema:
    """One row per replicate of a trial: its seed and its own metrics at the trial's kept
    step (the trial's row holds their mean)."""
    head = [*IDENTITY, ("replicate", pa.int64()), ("seed", pa.int64()), ("kept_step", pa.int64())]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names])


def validation_schema(
    spec: StudySpec, metric_names: Sequence[str], matrix_names: Sequence[str] = ()
) -> pa.Schema:
    """One row per validation run: a front configuration (the search trial's identity and
    params) re-trained after the search with a fresh seed, scored at its kept step."""
    head = [
        *IDENTITY,
        ("validation_run", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("seed", pa.int64()),
        ("kept_step", pa.int64()),
    ]
    head += [(f"param_{p.name}", param_type(p)) for p in spec.search]
    tail = [
        ("wall_time_s", pa.float64()),
        ("node", pa.string()),
        ("raygan_version", pa.string()),
        ("finished_at", pa.timestamp("us", tz="UTC")),
    ]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names] + tail)


def baseline_schema(metric_names: Sequence[str], matrix_names: Sequence[str] = ()) -> pa.Schema:
    """One row per baseline an experiment computes once per study (no generator involved)."""
    head = [("study", pa.string()), ("run", pa.string()), ("baseline", pa.string())]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names])


def history_schema(spec: StudySpec, metric_names: Sequence[str]) -> pa.Schema:
    """One row per step of a trial; time_s is seconds since the trial started."""
    tail = [*((n, pa.float64()) for n in spread_names(metric_names))]
    tail += [("time_s", pa.float64()), ("node", pa.string())]
    return _schema([*IDENTITY, ("step", pa.int64())], metric_names, tail)


# The most samples stored per trial replicate (and validation run) and round: a 1000-trial
# study of text stays near 1000 x 1000 short strings; images are PNG bytes of a few hundred.
SAMPLE_CAP = {"text": 1000, "image": 64}
SAMPLES_FILE = "samples.parquet"
# What an experiment's ``samples()`` / ``generate()`` return for each sample (docs/results.md
# "samples.parquet" says what each column means).
SAMPLE_COLUMNS = [
    ("kind", pa.string()),  # "text" | "image"
    ("text", pa.string()),
    ("image", pa.binary()),  # PNG, 8-bit greyscale
    ("label", pa.int64()),  # an image's class
    ("valid", pa.bool_()),
    ("novel_valid", pa.bool_()),
    ("exact_copy", pa.bool_()),
    ("near_copy", pa.bool_()),
    ("heldout_hit", pa.bool_()),
    ("nearest", pa.string()),  # text: the nearest training face
    ("nearest_image", pa.binary()),  # images: the nearest training image, PNG
    ("nearest_index", pa.int64()),  # in the family's training set
    ("distance", pa.float64()),  # text: normalized Levenshtein; images: Euclidean, pixels in [0, 1]
]


def sample_schema() -> pa.Schema:
    """One row per stored sample of a trial replicate (or validation run) at its kept step,
    with the experiment's judgement of it; see SAMPLE_COLUMNS."""
    head = [
        *IDENTITY,
        ("replicate", pa.int64()),
        ("validation_run", pa.int64()),  # null for a search trial
        ("step", pa.int64()),
        ("sample_index", pa.int64()),
    ]
    return _schema(head, [], SAMPLE_COLUMNS)


SWEEP_FILE = "sweep.parquet"


def sweep_schema(spec: StudySpec, metric_names: Sequence[str]) -> pa.Schema:
    """One row per (trial, sweep point): the trial's kept model evaluated with those
    sampling-time settings (``sweep_<name>`` columns), metrics averaged over replicates;
    ``pareto``: on the front over every (trial, sweep point) pair."""
    head = [*IDENTITY, ("step", pa.int64()), ("point", pa.int64())]
    for name, values in spec.sweep.items():
        head.append((f"sweep_{name}", _value_type(values)))
    tail = [
        *((n, pa.float64()) for n in spread_names(metric_names)),
        ("n_replicates", pa.int64()),
        ("pareto", pa.bool_()),
    ]
    return _schema(head, metric_names, tail)


def _value_type(values) -> pa.DataType:
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()
