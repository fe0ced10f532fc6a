"""The study's sample and sweep tables, consolidated from the parts the workers wrote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from raygan.results.pareto import objective_values, pareto_mask
from raygan.results.schema import SAMPLES_FILE, SWEEP_FILE, sample_schema, sweep_schema
from raygan.results.store import RunStore

if TYPE_CHECKING:
    from raygan.spec import StudySpec


def consolidate_samples(store: RunStore, *, run: str, trial_ids: Sequence[str]) -> pa.Table | None:
    """Sample parts of run ``run`` -> samples.parquet, for the trials ``trial_ids``
    (those with a row: a failed attempt's samples are left out) and their validation
    runs. Written and returned; None when the experiment stores no samples."""
    samples = store.read_parts("samples", sample_schema())
    if not samples.num_rows:
        return None
    ids = pa.array(list(trial_ids), type=pa.string())
    samples = samples.filter(
        pc.and_(pc.equal(samples["run"], run), pc.is_in(samples["trial_id"], ids))
    )
    samples = samples.sort_by(
        [
            ("trial_index", "ascending"),
            ("trial_id", "ascending"),
            ("validation_run", "ascending"),
            ("replicate", "ascending"),
            ("sample_index", "ascending"),
        ]
    )
    store.write_result(SAMPLES_FILE, samples)
    return samples


def consolidate_sweep(
    store: RunStore,
    spec: StudySpec,
    metric_names: Sequence[str],
    *,
    run: str,
    trial_ids: Sequence[str],
) -> pa.Table | None:
    """Sweep parts of run ``run`` -> sweep.parquet, for the trials ``trial_ids``, with
    ``pareto`` over every (trial, sweep point) pair. Written and returned; None for a
    study without [sweep]."""
    if not spec.sweep:
        return None
    sweep = store.read_parts("sweep", sweep_schema(spec, metric_names))
    ids = pa.array(list(trial_ids), type=pa.string())
    sweep = sweep.filter(pc.and_(pc.equal(sweep["run"], run), pc.is_in(sweep["trial_id"], ids)))
    sweep = sweep.sort_by([("trial_index", "ascending"), ("point", "ascending")])
    front = pareto_mask(objective_values(spec, sweep), [o.mode for o in spec.objectives])
    index = sweep.schema.get_field_index("pareto")
    sweep = sweep.set_column(index, "pareto", pa.array(front, type=pa.bool_()))
    store.write_result(SWEEP_FILE, sweep)
    return sweep
