"""Validated fronts: after the search, each Pareto-front configuration is trained again
with fresh seeds, none of them used during the search, and scored at the step that stood
for it in the search (its kept step).

A search front is the best of many noisy draws: the configurations on it are there partly
because their seeds were lucky. Re-training them with seeds the search never saw measures
what each configuration gives, without that selection (``[result] validate = K``,
``--validate-front K``). Each (configuration, seed) is one Tune trial of the study's
trainable, so the runs spread over a cluster like the search's trials; their rows go to
``parts/validation-*.parquet`` as each finishes and to ``validation.parquet`` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ray import tune

import raygan
from raygan.engine.console import error_line
from raygan.engine.runs import TUNE_DIR, checkpoint_config
from raygan.engine.tune_output import tune_loggers
from raygan.results import RunStore, StudyTables, param_value, validation_schema
from raygan.spec import StudySpec
from raygan.trial import validation_seeds

CASE = "_case"  # the param_space key that holds one validation run's whole config
TUNE_PREFIX = "validation"  # Tune experiment folders: tune/validation-<attempt>


def search_seeds(tables: StudyTables) -> set[int]:
    """Every seed the search trained with: each trial's, and each replicate's."""
    seeds = {s for s in tables.trials["seed"].to_pylist() if s is not None}
    return seeds | {s for s in tables.replicates["seed"].to_pylist() if s is not None}


def validation_cases(spec: StudySpec, tables: StudyTables, *, done: set[tuple[str, int]]):
    """The validation runs still to do: ``spec.validate`` per front configuration, each a
    full trial config (params, ``_seeds`` of one fresh seed, ``_stop_step`` = kept step),
    minus the (trial_id, run) pairs in ``done``."""
    used = search_seeds(tables)
    cases = []
    for row in tables.pareto.to_pylist():
        seeds = validation_seeds(spec.seed, row["trial_index"], spec.validate, exclude=used)
        for run, seed in enumerate(seeds):
            if (row["trial_id"], run) in done:
                continue
            params = {p.name: param_value(p, row[f"param_{p.name}"]) for p in spec.search}
            cases.append(
                {
                    **params,
                    "_index": row["trial_index"],
                    "_seed": seed,
                    "_seeds": [seed],
                    "_stop_step": row["kept_step"],
                    "_validates": row["trial_id"],
                    "_validation_run": run,
                }
            )
    return cases


class ValidationRecorder(tune.Callback):
    """Writes one row per validation run as it ends (completed or failed)."""

    def __init__(
        self,
        spec: StudySpec,
        store: RunStore,
        *,
        run: str,
        metric_names: Sequence[str],
        matrix_names: Sequence[str] = (),
        echo: Callable[[str], None] | None = None,
    ):
        self.spec, self.store, self.run = spec, store, run
        self.metric_names, self.matrix_names = list(metric_names), list(matrix_names)
        self.echo = echo  # None: print, looked up when used (Ray swaps builtins.print)

    def _row(self, config: dict, **values) -> dict:
        case = config.get(CASE, config)
        return {
            "study": self.spec.name,
            "run": self.run,
            "trial_id": case["_validates"],
            "trial_index": int(case["_index"]),
            "validation_run": int(case["_validation_run"]),
            "seed": int(case["_seed"]),
            "kept_step": case["_stop_step"],
            **{f"param_{p.name}": case.get(p.name) for p in self.spec.search},
            "raygan_version": raygan.__version__,
            "finished_at": datetime.now(UTC),
            **values,
        }

    def _write(self, row: dict) -> None:
        schema = validation_schema(self.spec, self.metric_names, self.matrix_names)
        key = f"{row['trial_id']}_v{row['validation_run']}"
        self.store.write_part("validation", row["trial_id"], [row], schema, key=key)
        if row["status"] == "failed":
            what = f"failed: {row['error']}"
        else:
            what = ", ".join(f"{o.metric}={row[o.metric]:.3f}" for o in self.spec.objectives)
        (self.echo or print)(
            f"[raygan] validation of trial {row['trial_index']}, run "
            f"{row['validation_run'] + 1} of {self.spec.validate} (seed {row['seed']}): {what}"
        )

    def on_trial_complete(self, iteration, trials, trial, **info):
        """A validation run that ended: its row, scored at its last (the kept) step."""
        last = trial.last_result or {}
        self._write(
            self._row(
                trial.config,
                status="completed",
                wall_time_s=last.get("trial_time_s"),
                node=last.get("node"),
                **{m: last.get(m) for m in self.metric_names + self.matrix_names},
            )
        )

    def on_trial_error(self, iteration, trials, trial, **info):
        """A validation run that failed (after its retries): a failed row with the error."""
        self._write(self._row(trial.config, status="failed", error=error_line(trial)))


def done_runs(store: RunStore, spec: StudySpec, metric_names, matrix_names) -> set:
    """(trial_id, validation run) of every validation run that already has its row."""
    table = store.read_parts("validation", validation_schema(spec, metric_names, matrix_names))
    return set(zip(table["trial_id"].to_pylist(), table["validation_run"].to_pylist(), strict=True))


def validation_tuner(
    trainable: str,
    cases: list[dict],
    *,
    spec: StudySpec,
    store: RunStore,
    callback: ValidationRecorder,
    verbose: int,
) -> tune.Tuner:
    """A Tune run of every validation case, ``spec.max_concurrent`` at a time. Each run is
    a fresh Tune experiment (tune/validation-<attempt>): a resumed study re-runs only the
    cases without a row. They lie in the search's Tune folder, so TensorBoard pointed at
    it shows them too."""
    attempt = sum(1 for _ in _attempts(store))
    storage_path, storage_fs = store.tune_storage()  # see orchestrate._make_tuner
    return tune.Tuner(
        trainable,
        param_space={CASE: tune.grid_search(cases)},
        tune_config=tune.TuneConfig(
            num_samples=1, max_concurrent_trials=spec.max_concurrent, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            name=f"{TUNE_PREFIX}-{attempt}",
            storage_path=f"{storage_path}/{TUNE_DIR}",
            storage_filesystem=storage_fs,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=checkpoint_config(),
            callbacks=[callback, *tune_loggers()],
            verbose=verbose,
        ),
    )


def _attempts(store: RunStore):
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(f"{store.root}/{TUNE_DIR}", allow_not_found=True)
    for info in store.fs.get_file_info(selector):
        if info.type == pafs.FileType.Directory and info.base_name.startswith(TUNE_PREFIX):
            yield info.base_name
