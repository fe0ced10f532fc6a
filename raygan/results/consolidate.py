"""A run's part files (raygan.results.store) -> its final tables: the trials, history,
pareto and replicates tables once the search ends, and validation.parquet with each
front configuration's ``validated_front`` once the front is validated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygan.results.pareto import objective_values, pareto_mask, validated_means
from raygan.results.schema import (
    FRONT_STATUSES,
    history_schema,
    replicate_schema,
    trial_schema,
    validation_schema,
)
from raygan.results.store import RESULT_FILES, VALIDATION_FILE, RunStore, StudyTables

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    from raygan.spec import StudySpec


def consolidate(
    store: RunStore,
    spec: StudySpec,
    metric_names: Sequence[str],
    *,
    run: str,
    matrix_names: Sequence[str] = (),
) -> StudyTables:
    """Parts of run `run` -> trials, history and pareto tables, written and returned.

    Rows of another run that wrote into this directory stay in parts/ but are left out.
    Raises ValueError when an objective is not among ``metric_names``.
    """
    missing = [o.metric for o in spec.objectives if o.metric not in metric_names]
    if missing:
        raise ValueError(f"objectives {missing} are not among the metrics {list(metric_names)}")
    trials = store.read_parts("trial", trial_schema(spec, metric_names, matrix_names))
    trials = trials.filter(pc.equal(trials["run"], run))
    # The same trial twice (a part copied in, a retry under a new file): keep the last one
    # to finish; a row without finished_at counts as the oldest, the later file wins a tie.
    latest: dict[str, tuple] = {}
    for i, (tid, at) in enumerate(
        zip(trials["trial_id"].to_pylist(), trials["finished_at"].to_pylist(), strict=True)
    ):
        key = (at is not None, at, i)
        if tid not in latest or key[:2] >= latest[tid][:2]:
            latest[tid] = key
    keep = sorted(key[2] for key in latest.values())
    trials = trials.take(pa.array(keep, type=pa.int64()))  # typed: [] alone is null-typed
    trials = trials.sort_by([("trial_index", "ascending"), ("trial_id", "ascending")])

    completed = pc.is_in(trials["status"], pa.array(FRONT_STATUSES)).to_numpy(zero_copy_only=False)
    front = np.zeros(len(trials), dtype=bool)
    front[completed] = pareto_mask(
        objective_values(spec, trials.filter(pa.array(completed))),
        [o.mode for o in spec.objectives],
    )
    index = trials.schema.get_field_index("pareto")
    trials = trials.set_column(index, "pareto", pa.array(front, type=pa.bool_()))
    # False until a validation keeps a configuration on the front: never null, so that
    # pandas reads a bool column that works as a mask, as pareto does
    index = trials.schema.get_field_index("validated_front")
    unvalidated = pa.array(np.zeros(len(trials), dtype=bool), type=pa.bool_())
    trials = trials.set_column(index, "validated_front", unvalidated)

    # only the rounds and replicates of the trial rows kept above: a retried trial's
    # last attempt, and no trial that a killed driver left without a row (one that
    # started after Tune's last snapshot is not resumed: it ran in vain)
    ids = pa.array(trials["trial_id"].to_pylist(), type=pa.string())
    history = store.read_parts("history", history_schema(spec, metric_names))
    history = history.filter(
        pc.and_(pc.equal(history["run"], run), pc.is_in(history["trial_id"], ids))
    )
    history = history.sort_by([("trial_index", "ascending"), ("step", "ascending")])
    schema = replicate_schema(spec, metric_names, matrix_names)
    replicates = store.read_parts("replicate", schema)
    replicates = replicates.filter(
        pc.and_(pc.equal(replicates["run"], run), pc.is_in(replicates["trial_id"], ids))
    )
    replicates = replicates.sort_by([("trial_index", "ascending"), ("replicate", "ascending")])
    tables = StudyTables(
        trials=trials,
        history=history,
        pareto=trials.filter(pa.array(front)),
        replicates=replicates,
    )
    for name, table in zip(RESULT_FILES, (trials, history, tables.pareto, replicates), strict=True):
        store.write_result(name, table)
    return tables


def consolidate_validation(
    store: RunStore,
    spec: StudySpec,
    tables: StudyTables,
    metric_names: Sequence[str],
    *,
    run: str,
    matrix_names: Sequence[str] = (),
) -> StudyTables:
    """Validation parts -> validation.parquet, and each front configuration's
    ``validated_front`` in the trials and pareto tables: whether its validated means
    stay non-dominated among the validated front configurations. Written and returned."""
    validation = store.read_parts("validation", validation_schema(spec, metric_names, matrix_names))
    validation = validation.filter(pc.equal(validation["run"], run))
    validation = validation.sort_by([("trial_index", "ascending"), ("validation_run", "ascending")])
    means = validated_means(spec, validation)
    kept = {tid: on for tid, on in zip(means["trial_id"], means["validated_front"], strict=True)}
    trials = tables.trials
    flags = pa.array([kept.get(t, False) for t in trials["trial_id"].to_pylist()], type=pa.bool_())
    trials = trials.set_column(
        trials.schema.get_field_index("validated_front"), "validated_front", flags
    )
    pareto = trials.filter(trials["pareto"])
    store.write_result(VALIDATION_FILE, validation)
    store.write_result("trials.parquet", trials)
    store.write_result("pareto.parquet", pareto)
    return StudyTables(
        trials=trials,
        history=tables.history,
        pareto=pareto,
        replicates=tables.replicates,
        validation=validation,
    )
