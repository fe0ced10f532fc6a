"""The sweep on the worker: a trial's kept model evaluated at every sweep point.

Evaluated when the kept round changes and the trial is at its last step, or at every
new best round where the study keeps each trial's best, so the rows always describe the
model the trial's row stands for; each point costs one evaluation, no training.
"""

from __future__ import annotations

from raygan.experiments.base import Experiment
from raygan.results import RunStore, sweep_schema
from raygan.spec import StudySpec
from raygan.spec.sweep import sweep_points
from raygan.trial import aggregate_replicates, check_finite


def write_sweep(
    store: RunStore,
    spec: StudySpec,
    replicates: list[Experiment],
    *,
    metric_names: list[str],
    identity: dict,
    key: str,
    step: int,
) -> None:
    """One part file: a row per sweep point (nothing when the study has no [sweep])."""
    if not spec.sweep:
        return
    rows = []
    for i, point in enumerate(sweep_points(spec.sweep)):
        own = [experiment.evaluate_with(**point) for experiment in replicates]
        for metrics in own:
            check_finite(metrics, step=step)
        row = {**identity, "step": step, "point": i}
        row.update({f"sweep_{name}": value for name, value in point.items()})
        row.update(aggregate_replicates(own))
        row["n_replicates"] = len(own)
        rows.append(row)
    schema = sweep_schema(spec, metric_names)
    names = set(schema.names)
    rows = [{k: v for k, v in row.items() if k in names} for row in rows]
    store.write_part("sweep", identity["trial_id"], rows, schema, key=key)
