"""A run directory whose tables are not consolidated yet (the study is still running, or
stopped before its end): each table read from the part files the engine writes as trials
finish (``parts/<kind>-<key>.parquet``, and ``parts/<kind>.parquet`` once a finished run's
parts are packed: raygan.results.store reads both), as the consolidated table would hold
it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from raygan.results import (
    FRONT_STATUSES,
    RunStore,
    history_schema,
    objective_values,
    pareto_mask,
    trial_schema,
    validation_schema,
)
from raygan.spec import StudySpec


class PartsError(Exception):
    """The part files cannot be read (one line)."""


def has_parts(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a parts/ directory (made when the study starts)."""
    return (run_dir / "parts").is_dir()


def _metrics(spec: StudySpec) -> list[str]:
    # The report draws the objectives only; reading just those columns needs no experiment
    # declaration (other metric columns of the parts are dropped on reading).
    return list(dict.fromkeys(o.metric for o in spec.objectives))


def read_parts(run_dir: Path, kind: str, schema: pa.Schema, *, run: str | None) -> pa.Table:
    """The rows of every ``kind`` part of ``run_dir`` (of run ``run`` where given),
    conformed to ``schema``; empty when there is no part. Raises PartsError."""
    if not has_parts(run_dir):
        return schema.empty_table()
    try:
        store = RunStore(str(run_dir.parent), run_dir.name)
        table = store.read_parts(kind, schema)
    except (OSError, ValueError) as e:  # ValueError: a directory name no run could have
        raise PartsError(f"{run_dir}: parts: {e}") from None
    if run is not None:
        table = table.filter(pc.equal(table["run"], run))
    return table


def _last_attempts(trials: pa.Table) -> pa.Table:
    """One row per trial_id: the attempt that finished last (the later file on a tie), as
    RunStore.consolidate keeps it."""
    latest: dict[str, tuple] = {}
    ids, ends = trials["trial_id"].to_pylist(), trials["finished_at"].to_pylist()
    for i, (tid, at) in enumerate(zip(ids, ends, strict=True)):
        key = (at is not None, at, i)
        if tid not in latest or key[:2] >= latest[tid][:2]:
            latest[tid] = key
    keep = sorted(key[2] for key in latest.values())
    return trials.take(pa.array(keep, type=pa.int64()))


def trials_from_parts(run_dir: Path, spec: StudySpec, *, run: str | None) -> pd.DataFrame:
    """trials.parquet as it would be now: one row per finished trial, ``pareto`` over the
    completed ones, ``validated_front`` false. Raises PartsError."""
    trials = read_parts(run_dir, "trial", trial_schema(spec, _metrics(spec)), run=run)
    trials = _last_attempts(trials)
    completed = pc.is_in(trials["status"], pa.array(FRONT_STATUSES)).to_numpy(zero_copy_only=False)
    front = np.zeros(len(trials), dtype=bool)
    front[completed] = pareto_mask(
        objective_values(spec, trials.filter(pa.array(completed))),
        [o.mode for o in spec.objectives],
    )
    for name, flags in (("pareto", front), ("validated_front", np.zeros_like(front))):
        index = trials.schema.get_field_index(name)
        trials = trials.set_column(index, name, pa.array(flags, type=pa.bool_()))
    return trials.to_pandas()


def history_from_parts(run_dir: Path, spec: StudySpec, *, run: str | None) -> pd.DataFrame:
    """history.parquet as it would be now. Raises PartsError."""
    schema = history_schema(spec, _metrics(spec))
    return read_parts(run_dir, "history", schema, run=run).to_pandas()


def validation_from_parts(run_dir: Path, spec: StudySpec, *, run: str | None) -> pd.DataFrame:
    """validation.parquet as it would be now (the validation runs finished so far); empty
    when none. Raises PartsError."""
    schema = validation_schema(spec, _metrics(spec))
    return read_parts(run_dir, "validation", schema, run=run).to_pandas()
