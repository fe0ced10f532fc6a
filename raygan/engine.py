"""Study spec -> Ray Tune run: OptunaSearch, resources, checkpoints, retries, resume.

The engine knows no model: it asks the registry for the study's experiment class and
drives it through ``setup`` / ``step`` / ``save`` / ``load``. What a run leaves behind:

    <storage>/<name>/
        study.toml        the study as run (profile and overrides applied)
        run.json          study name, profile, raygan version, start time
        optuna.journal    the Optuna study (optuna-dashboard opens it)
        parts/            one Parquet file per finished trial, written as it finishes
        trials.parquet    one row per trial   \
        history.parquet   one row per round    > consolidated at the end (and after --resume)
        pareto.parquet    the non-dominated    /
        tune/             Ray Tune's own state: trial checkpoints, logs, TensorBoard files
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import hashlib
import itertools
import json
import logging
import math
import os
import re
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import optuna
import ray
from ray import tune
from ray.tune.search import ConcurrencyLimiter, SearchGenerator
from ray.tune.search.optuna import OptunaSearch
from ray.util import debug as ray_debug

import raygan
from raygan.claim import RunBusy, check_not_held, claim_new, hold_lock
from raygan.experiments import experiment_path, get_experiment, register_experiment
from raygan.experiments.base import TrialDiverged
from raygan.results import (
    VALIDATION_FILE,
    RunStore,
    StudyTables,
    baseline_schema,
    format_baselines,
    format_summary,
    gain_reference,
    history_schema,
    pareto_mask,
    plural,
    replicate_schema,
    spread_names,
    trial_schema,
)
from raygan.spec import SpecError, StudySpec, dump_toml, load_spec
from raygan.trial import (
    aggregate_replicates,
    check_finite,
    kept_round,
    make_experiment,
    replaces_kept,
    replicate_seeds,
    round_score,
    set_threads,
)
from raygan.tune_output import tune_console, tune_loggers
from raygan.validation import (
    CASE,
    ValidationRecorder,
    done_runs,
    validation_cases,
    validation_tuner,
)

# Keeping one checkpoint per trial (all a resume needs) makes Tune snapshot its state after
# every round and warn about it each time; the snapshots are cheap at raygan's scale.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TUNE_DIR = "tune"
DIVERGED_MARKER = "diverged.txt"
# In a study that keeps each trial's best round: the round's score (Tune keeps the best
# round's checkpoint by it), and the flag of the report that restates the kept round.
KEPT_SCORE = "kept_score"
KEPT = "kept"
# Each replicate's own metrics of a round, in every report ({"0": metrics, "1": ...}), and
# those of the round kept so far (what a trial cut short by the time budget records).
REPLICATES = "replicates"
KEPT_REPLICATES = "kept_replicates"


class StudyError(ValueError):
    """Bad input found by the engine (run name, resources, resume): one line, exit 2."""


class StudyInterrupted(RuntimeError):
    """The study was stopped (Ctrl-C) before its budget was spent. Tune saved its state
    first: ``--resume`` continues from there. ``finished`` trials have their rows."""

    def __init__(self, *, name: str, location: str, finished: int, total: int, what="trials"):
        super().__init__(f"interrupted: {finished} of {total} {what} finished")
        self.name, self.location, self.finished, self.total = name, location, finished, total


class _DropMessage(logging.Filter):
    def __init__(self, *texts: str):
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


# One instance per logger, made once: addFilter does not add the same filter twice.
_DROPPED_MESSAGES = {
    # Tune ends an interrupted run with 'Resume experiment with: Tuner.restore(...)'; a
    # raygan user resumes with --resume, which raygan itself prints.
    "ray.tune.tune": _DropMessage("has been interrupted"),
    # Optuna's grid sampler stops the study once the grid is done, which outside
    # study.optimize raises; OptunaSearch logs that as a warning after the trial has
    # been stored as it should be. And a resumed run's trial that had finished before the
    # interruption reports again: OptunaSearch cannot tell Optuna twice (it has it already).
    "ray.tune.search.optuna.optuna_search": _DropMessage(
        "`Study.stop` is supposed to", "Cannot tell a COMPLETE trial"
    ),
}


@dataclass
class StudyOutcome:
    name: str
    location: str
    tables: StudyTables
    summary: str

    @property
    def completed(self) -> int:
        return sum(s == "completed" for s in self.tables.trials.column("status").to_pylist())


# ---- the trainable: runs on a Ray worker ----------------------------------------------
def raygan_trial(
    config: dict, *, spec: StudySpec, experiment_path: str, cpus: float, gpus: float
) -> None:
    """One configuration, trained once per replicate seed (``_seeds``), the replicates
    stepped round by round in this process: each report is one round, aggregated over the
    replicates (means, ``<metric>_std``), with each replicate's own metrics under
    REPLICATES. ``_stop_step`` (validation runs) ends training after that step."""
    # Ray's per-checkpoint INFO lines would drown the progress table.
    logging.getLogger("ray.train").setLevel(logging.WARNING)
    config = config.get(CASE, config)  # a validation run's whole config is one grid value
    index, seed = int(config["_index"]), int(config["_seed"])
    seeds = [int(s) for s in config.get("_seeds", [seed])]
    params = {k: v for k, v in config.items() if not k.startswith("_")}
    set_threads(cpus)  # Ray's OMP_NUM_THREADS is not reliable for reused workers
    device = "cpu"
    if gpus > 0 and ray.get_gpu_ids():
        import torch

        # Logical GPUs (a test cluster) or a CPU-only torch on a GPU node: stay on CPU,
        # and the row's device column says so.
        if torch.cuda.is_available():
            device = "cuda"
            # Ray only sets CUDA_VISIBLE_DEVICES for fractions: keep to our share of memory.
            torch.cuda.set_per_process_memory_fraction(min(1.0, gpus))
    node = ray.util.get_node_ip_address()
    node_id = ray.get_runtime_context().get_node_id()
    started_at = time.time()

    # A diverged trial diverges again when retried from its checkpoint: fail at once.
    marker = Path(tune.get_context().get_trial_dir()) / DIVERGED_MARKER
    if marker.exists():
        raise TrialDiverged(marker.read_text())

    register_experiment(
        spec.experiment, experiment_path
    )  # registered on the driver, maybe not here
    replicates = [make_experiment(spec, params, seed=s, device=device) for s in seeds]
    num_steps = replicates[0].num_steps
    stop_step = config.get("_stop_step")
    if stop_step is not None:  # the step scored is the last one trained, whatever the study
        spec = replace(spec, result_round="last")
        num_steps = min(num_steps, int(stop_step) + 1)
    elapsed_before, last, kept = 0.0, None, None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as path:
            for r, experiment in enumerate(replicates):
                experiment.load(_replicate_dir(path, r, len(replicates)))
            saved = json.loads((Path(path) / "raygan.json").read_text())
            elapsed_before, last, kept = saved["trial_time_s"], saved["last"], saved.get("kept")
    steps_done = replicates[0].steps_done
    if steps_done >= num_steps and last is not None:
        # Finished after Tune's last snapshot: say so again rather than train again.
        tune.report(_kept_result(last, kept))
        return
    start = time.perf_counter()
    while steps_done < num_steps:
        step = steps_done
        rounds = []
        for experiment in replicates:
            try:
                metrics = experiment.step()
                check_finite(metrics, step=step)
            except TrialDiverged as e:
                # one replicate diverging fails the configuration: its mean would be a lie
                marker.write_text(str(e))
                raise
            rounds.append(metrics)
        steps_done = step + 1
        metrics = aggregate_replicates(rounds)
        for o in spec.objectives:
            metrics[spec.objective_key(o)] = spec.objective_value(o, metrics)
        # what the trial restates if it keeps this round; replicates keyed "0", "1", ...:
        # TensorBoard then draws each replicate's own curves (a list it cannot log)
        own = {str(r): m for r, m in enumerate(rounds)}
        this_round = {**metrics, "step": step, REPLICATES: own}
        if spec.result_round == "best":
            # Tune keeps this round's checkpoint (next to the latest) while it is the best
            this_round[KEPT_SCORE] = round_score(spec, metrics)
        if replaces_kept(spec, metrics, kept):
            kept = this_round
        result = {
            **this_round,
            KEPT_REPLICATES: json.dumps(kept[REPLICATES]),  # text: TensorBoard skips it
            "steps_done": steps_done,
            "num_steps": num_steps,
            "trial_time_s": elapsed_before + time.perf_counter() - start,
            "trial_index": index,
            "seed": seed,
            "node": node,
            "node_id": node_id,
            "device": device,
            "started_at": started_at,
            "reported_at": time.time(),
            "peak_rss_mb": _peak_rss_mb(),
        }
        with tempfile.TemporaryDirectory() as path:
            for r, experiment in enumerate(replicates):
                experiment.save(_replicate_dir(path, r, len(replicates), create=True))
            state = {"trial_time_s": result["trial_time_s"], "last": result, "kept": kept}
            (Path(path) / "raygan.json").write_text(json.dumps(state))
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(path))
        last = result
    final = _kept_result(last, kept)
    if final is not last:
        tune.report(final)  # no checkpoint: the latest one already holds the whole trial


def _replicate_dir(path: str, replicate: int, replicates: int, *, create: bool = False) -> str:
    """Where one replicate's state lies in a checkpoint: the checkpoint itself when there
    is one replicate (the layout of a study without replicates), else replicate-<r>/."""
    if replicates == 1:
        return str(path)
    folder = Path(path) / f"replicate-{replicate}"
    if create:
        folder.mkdir()
    return str(folder)


def _kept_result(last: dict, kept: dict | None) -> dict:
    """The report that stands for a finished trial in Tune (progress table, searcher, the
    row): the last one, or where the study keeps another round, the last one with that
    round's own part (its metrics and step) over it, marked KEPT so history skips it."""
    if kept is None or kept["step"] == last["step"]:
        return last
    return {**last, **kept, KEPT: True}


def _checkpoint_config(spec: StudySpec) -> tune.CheckpointConfig:
    # Tune always keeps the latest checkpoint (what a resume needs); a study that keeps
    # each trial's best round also keeps that round's, so its model can be loaded.
    if spec.result_round == "best":
        return tune.CheckpointConfig(
            num_to_keep=1, checkpoint_score_attribute=KEPT_SCORE, checkpoint_score_order="max"
        )
    return tune.CheckpointConfig(num_to_keep=1)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB. A reused worker runs several
    trials: the peak is over all of them, which is what sizing a node needs."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


# ---- the driver -------------------------------------------------------------------------
# Tune pickles the Recorder and the searcher with the run, and with them the absolute
# paths of the run directory and its Optuna journal. A run that was copied or moved since
# would go on writing into the directory it came from; while a run resumes, this names
# where it lies now, and the restored objects write there.
_RESUMING: contextvars.ContextVar[tuple[RunStore, Path] | None] = contextvars.ContextVar(
    "raygan_resuming", default=None
)


class RayganSearch(OptunaSearch):
    """OptunaSearch that also hands each trial its index and seed. The Optuna trial number
    is stable across resumes, so the trial's seed is too."""

    def __init__(self, *args, study_seed: int, replicates: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.study_seed = study_seed
        self.replicates = replicates

    def restore(self, checkpoint_path: str):
        super().restore(checkpoint_path)
        where = _RESUMING.get()
        if where is not None:
            self._use_journal(where[1])

    def _use_journal(self, journal: Path) -> None:
        """Point the restored Optuna study (and the trials in flight) at ``journal``."""
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(journal)))
        study = optuna.load_study(
            study_name=self._ot_study.study_name, storage=storage, sampler=self._sampler
        )
        self._storage, self._ot_study = storage, study
        self._ot_trials = {
            tid: optuna.Trial(study, t._trial_id) for tid, t in self._ot_trials.items()
        }

    def suggest(self, trial_id: str):
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            number = self._ot_trials[trial_id].number
            # a searcher pickled by an older raygan has no replicates: one seed, as then
            seeds = replicate_seeds(self.study_seed, number, getattr(self, "replicates", 1))
            config = {**config, "_index": number, "_seed": seeds[0], "_seeds": seeds}
        return config


class RayganGenerator(SearchGenerator):
    """Tune's search generator, but a restored one makes its new trials where the run
    lies now. Tune fixes the storage of the trials it restores from a moved experiment,
    while new trials come from the generator's pickled experiment, which still names the
    directory the run was copied from (Ray 2.60)."""

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        where = _RESUMING.get()
        storage = getattr(self._experiment, "storage", None)
        if where is not None and storage is not None:
            storage.storage_fs_path = where[0].root  # the spec's "storage" is this object


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    seed = spec.seed
    if spec.sampler == "nsga2":
        # Optuna's default population (50) would leave a laptop study in its random first
        # generation; a quarter of the budget gives it a few generations to evolve.
        population = max(4, min(50, spec.num_samples // 4))
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GridSampler({p.name: p.grid_values() for p in spec.search}, seed=seed)


def _make_searcher(spec: StudySpec, *, journal: Path, study_name: str) -> RayganSearch:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    space = {}
    for p in spec.search:
        if p.type == "categorical":
            space[p.name] = optuna.distributions.CategoricalDistribution(list(p.choices))
        elif p.type == "int":
            space[p.name] = optuna.distributions.IntDistribution(
                int(p.low), int(p.high), step=p.step or 1
            )
        else:
            space[p.name] = optuna.distributions.FloatDistribution(
                float(p.low), float(p.high), log=p.type == "logfloat"
            )
    metrics = [spec.objective_key(o) for o in spec.objectives]
    modes = [o.mode for o in spec.objectives]
    single = len(metrics) == 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A run restarted before Tune's first snapshot finds its Optuna study in the journal,
    # start points already queued there; queueing them again would run them twice.
    fresh = not journal.exists() or journal.stat().st_size == 0
    return RayganSearch(
        space,
        metric=metrics[0] if single else metrics,
        mode=modes[0] if single else modes,
        sampler=make_sampler(spec),
        study_name=study_name,
        storage=JournalStorage(JournalFileBackend(str(journal))),
        points_to_evaluate=[dict(p) for p in spec.start] if fresh else None,
        study_seed=spec.seed,
        replicates=spec.replicates,
    )


class Recorder(tune.Callback):
    """Writes each trial's rows the moment Tune hears of them, on the driver, so a crash
    loses no finished trial and an errored trial (which has no row in Tune's result grid)
    still gets one. Module-level and picklable: Tune saves it with the run for resume."""

    def __init__(
        self,
        spec: StudySpec,
        store: RunStore,
        *,
        run: str,
        metric_names,
        matrix_names=(),
        cpus: float,
        gpus: float,
        echo=print,
    ):
        self.spec, self.store, self.run = spec, store, run
        self.metric_names = list(metric_names)
        self.matrix_names = list(matrix_names)
        self.cpus, self.gpus = cpus, gpus
        # Ray swaps builtins.print for its own at times, and Tune pickles this callback with
        # the run: keep no reference to print itself, look it up when writing.
        self.echo = None if echo is print else echo
        self.history: dict[str, list[dict]] = {}
        self.front_points: list[list[float]] | None = None  # read from parts when needed
        self.retried: dict[str, int] = {}  # trial id -> restarts that trained

    def __getstate__(self) -> dict:
        # Tune pickles this with its snapshots; a restored copy reads the front from the
        # rows on disk, which hold every trial finished before the interruption.
        return {**self.__dict__, "front_points": None, "history": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"retried": {}, **state})
        where = _RESUMING.get()
        if where is not None:  # write where the resumed run lies now
            self.store = where[0]

    def _trial_schema(self):
        return trial_schema(self.spec, self.metric_names, self.matrix_names)

    def _history_schema(self):
        return history_schema(self.spec, self.metric_names)

    def _base_row(self, trial_id: str, config: dict, retries: int | None) -> dict:
        return {
            "study": self.spec.name,
            "run": self.run,
            "trial_id": trial_id,
            "trial_index": int(config.get("_index", -1)),
            "seed": int(config.get("_seed", -1)),
            **{f"param_{p.name}": config.get(p.name) for p in self.spec.search},
            "cpus": self.cpus,
            "gpus": self.gpus,
            "retries": retries,
            "raygan_version": raygan.__version__,
            "finished_at": datetime.now(UTC),
        }

    def _ended_row(self, trial_id: str, config: dict, retries: int | None, last: dict) -> dict:
        """The row of a trial that ended without an error: completed if it ran every
        round, else stopped (by the time budget)."""
        row = self._base_row(trial_id, config, retries)
        done = last.get("steps_done", last.get("step", -1) + 1)  # older runs: step only
        total = last.get("num_steps", 0)
        row.update(
            status="completed" if total and done == total else "stopped",
            steps=done,
            num_steps=total,
            kept_step=last.get("step"),
            n_replicates=int(last.get("n_replicates", 1)),
            **_where_and_when(last),
            **{m: last.get(m) for m in self.metric_names + self.matrix_names},
            **{s: last.get(s) for s in spread_names(self.metric_names)},
        )
        return row

    def _replicate_rows(self, trial_id: str, config: dict, last: dict) -> list[dict]:
        """One row per replicate of an ended trial, at its kept step."""
        seeds = config.get("_seeds", [config.get("_seed", -1)])
        return [
            {
                "study": self.spec.name,
                "run": self.run,
                "trial_id": trial_id,
                "trial_index": int(config.get("_index", -1)),
                "replicate": r,
                "seed": int(seed),
                "kept_step": last.get("step"),
                **{m: own.get(m) for m in self.metric_names + self.matrix_names},
            }
            for r, seed in enumerate(seeds)
            if (own := (last.get(REPLICATES) or {}).get(str(r))) is not None
        ]

    def on_trial_recover(self, iteration, trials, trial, **info):
        # Tune restarts a diverged trial too, and the restart refuses at once
        # (DIVERGED_MARKER): that is no retry, and neither is any restart after it.
        if not _diverged(trial):
            self.retried[trial.trial_id] = self.retried.get(trial.trial_id, 0) + 1

    def _retries(self, trial) -> int:
        """How many times the trial was started again after a failure and trained (Tune's
        failure count also holds a failed trial's last failure and a diverged trial's
        refused restarts). A driver restarted since counts from its own restart on."""
        return self.retried.get(trial.trial_id, 0)

    def on_trial_start(self, iteration, trials, trial, **info):
        _skip_windowed_means(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get(KEPT):
            return  # restates a round already in the history
        schema = self._history_schema()
        rows = self.history.get(trial.trial_id)
        if rows is None:  # first result this driver sees: keep what an earlier one wrote
            rows = self.store.read_part("history", trial.trial_id, schema)
        rows = [r for r in rows if r["step"] != result["step"]]  # a retried step replaces
        rows.append(
            {
                "study": self.spec.name,
                "run": self.run,
                "trial_id": trial.trial_id,
                "trial_index": result["trial_index"],
                "step": result["step"],
                **{m: result.get(m) for m in self.metric_names},
                **{s: result.get(s) for s in spread_names(self.metric_names)},
                "time_s": result["trial_time_s"],
                "node": result["node"],
            }
        )
        self.history[trial.trial_id] = rows
        self.store.write_part("history", trial.trial_id, rows, schema)

    def on_trial_complete(self, iteration, trials, trial, **info):
        existing = self.store.read_part("trial", trial.trial_id, self._trial_schema())
        if existing and existing[0]["status"] == "completed":
            _release_finished_trial(trial)
            return  # recorded before an interruption; Tune only re-confirmed it
        last = trial.last_result or {}
        row = self._ended_row(trial.trial_id, trial.config, self._retries(trial), last)
        self._write(trial, row, self._replicate_rows(trial.trial_id, trial.config, last))

    def record_cut_short(self, results) -> int:
        """Rows for the trials the time budget stopped: Tune stops them without a
        completion event. From Tune's results (its last result of each trial); how many
        retries they took is not in there. Returns how many rows were written."""
        written = 0
        for result in results:
            last = result.metrics or {}
            trial_id = last.get("trial_id")
            if "step" not in last or self.store.read_part("trial", trial_id, self._trial_schema()):
                continue  # never reported a round, or already has its row
            if self.spec.result_round == "best":  # its best round so far, as if it had ended
                rounds = self.store.read_part("history", trial_id, self._history_schema())
                kept = kept_round(self.spec, rounds)
                if kept is not None:
                    names = self.metric_names + spread_names(self.metric_names)
                    own = {m: kept[m] for m in names}
                    replicates = json.loads(last.get(KEPT_REPLICATES) or "{}")
                    last = _kept_result(last, {**own, "step": kept["step"], REPLICATES: replicates})
            config = result.config or {}
            row = self._ended_row(trial_id, config, None, last)
            self._write(None, row, self._replicate_rows(trial_id, config, last))
            written += 1
        return written

    def on_trial_error(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        row = self._base_row(trial.trial_id, trial.config, self._retries(trial))
        row.update(
            status="failed",
            error=error_line(trial),
            steps=last.get("steps_done", 0),
            num_steps=last.get("num_steps"),
            **_where_and_when(last),
        )
        self._write(trial, row)

    def _write(self, trial, row: dict, replicates: Sequence[dict] = ()) -> None:
        self.history.pop(row["trial_id"], None)  # the trial is over: its rows are on disk
        if replicates:  # before the trial's row: a trial with a row has all its parts
            schema = replicate_schema(self.spec, self.metric_names, self.matrix_names)
            self.store.write_part("replicate", row["trial_id"], list(replicates), schema)
        self.store.write_part("trial", row["trial_id"], [row], self._trial_schema())
        if trial is not None:
            _release_finished_trial(trial)
        objectives = self.spec.objectives
        if self.front_points is None:
            done = self.store.read_parts("trial", self._trial_schema()).to_pylist()
            self.front_points = [
                [self.spec.objective_value(o, r) for o in objectives]
                for r in done
                if r["status"] == "completed" and r["trial_id"] != row["trial_id"]
            ]
        if row["status"] == "completed":
            self.front_points.append([self.spec.objective_value(o, row) for o in objectives])
        points = np.asarray(self.front_points, dtype=float).reshape(-1, len(objectives))
        front = int(pareto_mask(points, [o.mode for o in self.spec.objectives]).sum())
        if row["status"] == "failed":
            what = f"failed: {row['error']}"
        else:
            scores = ", ".join(
                f"{o.metric}={_number(row[o.metric], row.get(f'{o.metric}_std'))}"
                for o in objectives
            )
            notes = []
            if (row.get("n_replicates") or 1) > 1:
                notes.append(f"mean ± std of {row['n_replicates']} replicates")
            if row.get("kept_step") is not None and row["kept_step"] != row["steps"] - 1:
                notes.append(f"from step {row['kept_step']}, its best of {row['steps']}")
            what = f"{row['status']}: {scores}" + (f" ({'; '.join(notes)})" if notes else "")
        (self.echo or print)(
            f"[raygan] trial {row['trial_index']} {what}; Pareto front: {plural(front, 'trial')}"
        )


def _diverged(trial) -> bool:
    return TrialDiverged.__name__ in error_line(trial).partition(":")[0]


def _skip_windowed_means(trial) -> None:
    """Keep Tune from tracking the last-5 and last-10 means of every reported number.

    Tune keeps them in deques, which its JSON snapshots (written after every round)
    can only store as hex-encoded pickles, and every one it encodes leaves a key in Ray's
    process-wide log_once set: the driver grew with every round of every trial. Nothing
    raygan writes uses these means. Before the first result, so none are ever made.
    """
    metadata = getattr(trial, "run_metadata", None)
    if hasattr(metadata, "_n_steps"):
        metadata._n_steps = ()


def _release_finished_trial(trial) -> None:
    """Drop what the driver holds for a finished trial beyond its row and last result.

    Tune keeps every Trial object for the whole run, with the running statistics of
    every number it reported (max, min, mean) and their JSON cache; raygan never reads
    them, the trial's rows are already in Parquet, and its last result (which Tune's
    restore and raygan's rows need) stays. The keys Tune's snapshots left in Ray's
    log_once set are forgotten (they guard a debug message). Finally the C heap is
    trimmed: the snapshots grow with the number of trials, and glibc keeps the space they
    freed (docs/benchmarks.md). A Tune without these attributes is left alone.
    """
    metadata = getattr(trial, "run_metadata", None)
    for name in ("metric_analysis", "metric_n_steps"):
        table = getattr(metadata, name, None)
        if isinstance(table, dict):
            table.clear()
    if hasattr(metadata, "invalidate_cache"):
        metadata.invalidate_cache()
    if hasattr(trial, "invalidate_json_state"):
        trial.invalidate_json_state()
    _forget_encoded_objects()
    _trim_heap()


def _forget_encoded_objects() -> None:
    """Forget the log_once keys Tune's JSON encoder leaves, one per object it had to
    pickle (ray.tune.utils.serialization.TuneFunctionEncoder), named by the object's
    repr, which carries its address: a new key for every snapshot of every trial."""
    logged = getattr(ray_debug, "_logged", None)
    if isinstance(logged, set):
        for key in [k for k in logged if k.startswith("tune_func_encode:")]:
            ray_debug.reset_log_once(key)


def _load_libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl): nothing to trim with
        return None


_LIBC = _load_libc()


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc only; under a millisecond here)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _number(value, std=None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if std is None else f"{value:.3f}±{std:.3f}"


def _where_and_when(last: dict) -> dict:
    """Node, device and times from the trial's last report (worker clock): the trial held
    its resources from started_at to finished_at."""

    def stamp(key: str):
        return datetime.fromtimestamp(last[key], UTC) if last.get(key) is not None else None

    return {
        "wall_time_s": last.get("trial_time_s"),
        "peak_rss_mb": last.get("peak_rss_mb"),
        "node": last.get("node"),
        "node_id": last.get("node_id"),
        "device": last.get("device"),
        "started_at": stamp("started_at"),
        "finished_at": stamp("reported_at") or datetime.now(UTC),
    }


def error_line(trial) -> str:
    """The exception's own line ('TrialDiverged: step 3: non-finite ...'), not Ray's wrapper."""
    text = ""
    if trial.error_file and Path(trial.error_file).exists():
        text = Path(trial.error_file).read_text(errors="replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Diverged|Interrupt)\b.*:", line) or line.startswith(
            ("raygan.", "RuntimeError", "ValueError")
        ):
            return line.split(".")[-1] if line.startswith("raygan.") and ": " not in line else line
    return lines[-1] if lines else "unknown error"


def _cluster_limits() -> tuple[float, float, float]:
    """(total GPUs, most CPUs on one node, most GPUs on one node) of the alive nodes."""
    cpu = gpu = total_gpu = 0.0
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        cpu = max(cpu, res.get("CPU", 0.0))
        gpu = max(gpu, res.get("GPU", 0.0))
        total_gpu += res.get("GPU", 0.0)
    return total_gpu, cpu, gpu


def _resources(spec: StudySpec, *, cpus_per_trial: float | None, gpus_per_trial: float | None):
    total_gpu, node_cpu, node_gpu = _cluster_limits()
    cpus = spec.cpus if cpus_per_trial is None else cpus_per_trial
    if not (cpus > 0 and math.isfinite(cpus)):
        raise StudyError(f"--cpus-per-trial: {cpus} must be a number > 0")
    if cpus > node_cpu:
        raise StudyError(
            f"--cpus-per-trial / resources.cpus: {cpus:g} CPUs per trial, but the largest node has {node_cpu:g}"
        )
    if gpus_per_trial is not None:  # asked for explicitly: GPUs must exist
        if gpus_per_trial > node_gpu:
            raise StudyError(
                f"--gpus-per-trial: {gpus_per_trial:g} GPU per trial, but the largest node has {node_gpu:g} GPUs"
            )
        gpus = gpus_per_trial
    else:  # the study's fraction applies where the cluster has GPUs
        gpus = spec.gpus if total_gpu > 0 and spec.gpus <= node_gpu else 0.0
    return float(cpus), float(gpus)


def _terminate_as_interrupt(signum, frame) -> None:
    """SIGTERM (a job scheduler, `ray job stop`) stops a study the way Ctrl-C does: through
    whatever handles SIGINT now (Tune's graceful stop while trials run). Ray's own driver
    handler would exit at once, leaving the interrupted trials' last rounds unsaved."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def default_run_name(spec: StudySpec) -> str:
    return f"{spec.name}-{spec.profile}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_study(
    spec: StudySpec,
    *,
    storage: str = "raygan_runs",
    name: str | None = None,
    address: str | None = None,
    resume: bool = False,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    overrides: Sequence[str | tuple[str, str]] = (),
    verbose: int = 1,
    echo=print,
) -> StudyOutcome:
    """Run (or with ``resume=True`` continue) a study; returns its consolidated tables.

    Connects to Ray at ``address`` (``"auto"``, ``"ray://host:10001"``) or starts a local
    Ray if none is running. ``name``: the run directory's name under ``storage`` (default:
    study-profile-date-time, made unique). A resumed run keeps the spec it was started
    with; ``overrides`` (the ``--set`` items and the flags that stand for one, as given to
    ``load_spec``) may restate it, and one that changes a value is refused. Raises
    StudyError on bad input, before anything is written (a new run's directory is removed
    again when bad input shows up later), and when another process holds the run.
    """
    # Tune swaps builtins.print while it runs and pickles callbacks with the run: decide
    # now, before any of that, whether lines go to print (None) or to a caller's echo.
    echo = None if echo is print else echo
    if gpus_per_trial is not None and not (0 <= gpus_per_trial <= 1):
        raise StudyError(
            f"--gpus-per-trial: {gpus_per_trial} must be between 0 and 1 (a fraction of one "
            "GPU; 0 runs on CPU)"
        )
    if name is not None and not RUN_NAME.match(name):
        raise StudyError(f"--name: {name!r} must match {RUN_NAME.pattern} (letters, digits, _ . -)")
    store = _store(storage, name or default_run_name(spec))
    run_id = store.name  # the run's name, as its rows and journal say
    if resume:
        facts = _saved_facts(store)
        # a copied or moved run keeps the name it was started with, inside
        run_id = facts.get("run", run_id)
        spec = _resumed_spec(store, facts, overrides)
    check_study(spec)
    with contextlib.ExitStack() as held:
        if not resume:
            store = _claim(storage, store, by_default=name is None)
            run_id = store.name
        try:
            held.enter_context(hold_lock(store))
        except RunBusy as e:
            raise StudyError(f"--name: {e}; wait for it to end, or choose another --name") from None
        try:
            return _run_claimed(
                spec,
                store,
                name=run_id,
                address=address,
                resume=resume,
                cpus_per_trial=cpus_per_trial,
                gpus_per_trial=gpus_per_trial,
                verbose=verbose,
                echo=echo,
            )
        except (StudyError, SpecError, ValueError):
            if not resume:  # bad input found late: a new run leaves nothing behind
                store.remove()
            raise


def saved_run(storage: str, name: str) -> dict:
    """What ``run.json`` of the run ``storage``/``name`` says (study, profile, run, ...);
    StudyError when there is no run there to resume."""
    if not RUN_NAME.match(name):
        raise StudyError(f"--name: {name!r} must match {RUN_NAME.pattern} (letters, digits, _ . -)")
    return _saved_facts(_store(storage, name))


def _saved_facts(store: RunStore) -> dict:
    meta = store.read_text("run.json")
    if meta is None or not store.has("study.toml"):
        try:  # a run claimed a moment ago, still being set up
            check_not_held(store)
        except RunBusy as e:
            raise StudyError(f"--name: {e}; wait for it to end") from None
        raise StudyError(f"--resume: no run to resume at {store.location}")
    return json.loads(meta)


def _store(storage: str, name: str) -> RunStore:
    try:
        return RunStore(storage, name)
    except (OSError, ValueError) as e:  # pyarrow: unknown scheme, unreachable bucket, ...
        raise StudyError(f"--storage: {storage!r}: {e}") from None


def _claim(storage: str, store: RunStore, *, by_default: bool) -> RunStore:
    """Claim a new run's directory. A default name (one-second resolution) that another
    run took in the same second gets a suffix, -2, -3, ...; a name the user gave is
    refused."""
    base = store.name
    for attempt in range(1, 1000):
        try:
            claim_new(store)
            return store
        except RunBusy as e:
            if not by_default:
                try:  # say so when it is in use, rather than suggest --resume
                    check_not_held(store)
                except RunBusy as busy:
                    raise StudyError(f"--name: {busy}; choose another --name") from None
                raise StudyError(
                    f"--name: {e}; add --resume to continue it, or choose another --name"
                ) from None
        store = _store(storage, f"{base}-{attempt + 1}")
    raise StudyError(f"--name: runs {base} to {base}-999 all exist; give --name")


def check_study(spec: StudySpec) -> None:
    """What the experiment can check on the driver, before anything is written: its data
    settings against every corner of the search space (each searched setting at its
    lowest and highest value, each choice of a categorical one), not the defaults alone.
    Raises ValueError (DataError, SpecError) naming the setting, the value and the rule."""
    cls = get_experiment(spec.experiment)
    for params in _corners(spec):
        cls.check(spec.trial_config(params), dict(spec.data))


def _corners(spec: StudySpec, *, limit: int = 256) -> list[dict]:
    """The corners of the search space: every combination of each searched setting's
    extremes, or where there are more than ``limit``, each setting's extremes alone
    (the others at the middle of their choices)."""
    extremes = {p.name: p.extremes() for p in spec.search}
    if not extremes:
        return [{}]
    if math.prod(len(v) for v in extremes.values()) <= limit:
        names = list(extremes)
        return [
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*extremes.values())
        ]
    middle = {name: values[len(values) // 2] for name, values in extremes.items()}
    return [{**middle, name: v} for name, values in extremes.items() for v in values]


def _run_claimed(
    spec: StudySpec,
    store: RunStore,
    *,
    name: str,
    address: str | None,
    resume: bool,
    cpus_per_trial: float | None,
    gpus_per_trial: float | None,
    verbose: int,
    echo,
) -> StudyOutcome:
    """run_study, once the run directory is claimed and locked."""
    for logger_name, drop in _DROPPED_MESSAGES.items():
        logging.getLogger(logger_name).addFilter(drop)
    started_ray = False
    if not ray.is_initialized():
        try:
            # Ray's own default (address=None) attaches to any cluster it finds on this
            # machine; raygan starts a fresh local one unless told where to go.
            target = address or os.environ.get("RAY_ADDRESS") or "local"
            ray.init(address=target, logging_level=logging.WARNING, log_to_driver=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise StudyError(f"--address: cannot reach a Ray cluster at {address!r}: {e}") from None
        started_ray = True
    # after ray.init, which installs its own SIGTERM handler
    in_main = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.signal(signal.SIGTERM, _terminate_as_interrupt) if in_main else None
    try:
        cpus, gpus = _resources(spec, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial)
        cls = get_experiment(spec.experiment)
        metric_names, matrix_names = list(cls.metrics), list(cls.matrix_metrics)
        store.makedirs()
        if not resume:
            store.write_text("study.toml", dump_toml(spec.document))
            facts = {
                "study": spec.name,
                "profile": spec.profile,
                "run": name,
                "raygan_version": raygan.__version__,
                "created": datetime.now(UTC).isoformat(),
                "gain_baseline": cls.gain_baseline,  # the report reads it, not the experiment
            }
            store.write_text("run.json", json.dumps(facts, indent=2) + "\n")
        trainable = tune.with_resources(
            tune.with_parameters(
                raygan_trial,
                spec=spec,
                experiment_path=experiment_path(spec.experiment),
                cpus=cpus,
                gpus=gpus,
            ),
            {"cpu": cpus, "gpu": gpus},
        )
        # Trials show as '<study>_<id>' in Tune's table and logs, not '_train_<id>'.
        tune.register_trainable(spec.name, trainable)
        callback = Recorder(
            spec,
            store,
            run=name,
            metric_names=metric_names,
            matrix_names=matrix_names,
            cpus=cpus,
            gpus=gpus,
            echo=echo,
        )
        baselines = _baselines(cls, spec, store, run=name, cpus=cpus, echo=echo)
        tune_path = f"{store.location}/{TUNE_DIR}"  # a local path or a URI: Tune takes both
        journal = _local_journal(store)
        start = time.perf_counter()
        resuming = _RESUMING.set((store, journal))
        if resume and tune.Tuner.can_restore(tune_path):
            # The saved run config comes back with its own Recorder (pickled with the run).
            tuner = tune.Tuner.restore(
                tune_path, trainable=spec.name, resume_unfinished=True, resume_errored=False
            )
        else:
            searcher = _make_searcher(spec, journal=journal, study_name=name)
            tuner = tune.Tuner(
                spec.name,
                tune_config=tune.TuneConfig(
                    # the limiter Tune would add for max_concurrent_trials, in our generator
                    search_alg=RayganGenerator(
                        ConcurrencyLimiter(searcher, max_concurrent=spec.max_concurrent)
                    ),
                    num_samples=spec.num_samples,
                    time_budget_s=spec.time_budget_s or None,
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    name=TUNE_DIR,
                    storage_path=store.location,
                    failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                    checkpoint_config=_checkpoint_config(spec),
                    callbacks=[callback, *tune_loggers()],
                    verbose=verbose,
                ),
            )
        try:
            (echo or print)(f"[raygan] TensorBoard: tensorboard --logdir {tune_path}")
            results, saw_sigint = _fit_noting_interrupt(tuner, quiet=verbose == 0)
        finally:
            _RESUMING.reset(resuming)
        _forget_encoded_objects()  # from Tune's last snapshot, of every trial
        wall = time.perf_counter() - start
        if saw_sigint is None:  # Tune's handler was off: every trial has a row, or it stopped
            saw_sigint = not spec.time_budget_s and store.part_count("trial") < max(
                len(results), spec.num_samples
            )
        if saw_sigint:
            # Tune saved the stopped trials as unfinished (what --resume picks up): no
            # rows for them and no final tables, the study is not over.
            raise StudyInterrupted(
                name=store.name,
                location=store.location,
                finished=store.part_count("trial"),
                total=spec.num_samples,
            )
        if spec.time_budget_s:
            callback.record_cut_short(results)
        _close_orphans(journal, study_name=name)
        if store.local_path is None:  # keep the run's Optuna study with its results
            store.write_text("optuna.journal", journal.read_text(encoding="utf-8"))
        tables = store.consolidate(spec, metric_names, run=name, matrix_names=matrix_names)
        if spec.validate and tables.pareto.num_rows:
            tables = _validate_front(
                spec,
                store,
                tables,
                run=name,
                metric_names=metric_names,
                matrix_names=matrix_names,
                verbose=verbose,
                echo=echo,
            )
        validation_s = time.perf_counter() - start - wall if spec.validate else None
        gain_from = gain_reference(baselines, cls.gain_baseline)
        summary = format_summary(
            tables,
            spec,
            location=store.location,
            wall_s=wall,
            validation_s=validation_s,
            gain_from=gain_from,
        )
        if baselines is not None and baselines.num_rows:
            summary += "\n" + format_baselines(baselines, spec)
        summary += f"\nreport: {_write_report(store, journal)}"
        return StudyOutcome(
            name=store.name,
            location=store.location,
            tables=tables,
            summary=summary,
        )
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if started_ray:
            ray.shutdown()


def _validate_front(
    spec: StudySpec,
    store: RunStore,
    tables: StudyTables,
    *,
    run: str,
    metric_names: list[str],
    matrix_names: list[str],
    verbose: int,
    echo,
) -> StudyTables:
    """Re-train each front configuration with ``spec.validate`` fresh seeds (the runs
    without a row yet); returns the tables with validation.parquet and validated_front."""
    done = done_runs(store, spec, metric_names, matrix_names)
    cases = validation_cases(spec, tables, done=done)
    total = tables.pareto.num_rows * spec.validate
    if cases:
        (echo or print)(
            f"[raygan] validating the Pareto front: {plural(tables.pareto.num_rows, 'configuration')}"
            f" x {plural(spec.validate, 'fresh seed')}, at each one's kept step"
            + (f" ({len(cases)} runs left)" if done else "")
        )
        callback = ValidationRecorder(
            spec,
            store,
            run=run,
            metric_names=metric_names,
            matrix_names=matrix_names,
            echo=echo,
        )
        tuner = validation_tuner(
            spec.name,
            cases,
            spec=spec,
            store=store,
            callback=callback,
            tune_dir=TUNE_DIR,
            verbose=verbose,
        )
        _, saw_sigint = _fit_noting_interrupt(tuner, quiet=verbose == 0)
        _forget_encoded_objects()
        finished = len(done_runs(store, spec, metric_names, matrix_names))
        if saw_sigint or finished < total:
            raise StudyInterrupted(
                name=store.name,
                location=store.location,
                finished=finished,
                total=total,
                what="validation runs",
            )
    return store.consolidate_validation(
        spec, tables, metric_names, run=run, matrix_names=matrix_names
    )


def _second_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # what a second Ctrl-C does once Tune has let go


def _fit_noting_interrupt(tuner, *, quiet: bool):
    """tuner.fit(), and whether a SIGINT (Ctrl-C) stopped it: None where that cannot be told.
    ``quiet``: Tune prints nothing of its own (``tune_console``).

    Tune returns normally after a Ctrl-C, marking the trials it stopped as terminated in
    memory. But for the run it installs its own SIGINT handler, which on firing puts back
    the handler it found: if ours is back afterwards, Tune's fired. Either way the
    handler from before the run is restored.
    """
    in_main = threading.current_thread() is threading.main_thread()
    with tune_console(quiet=quiet):
        if not in_main or os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0") != "0":
            return tuner.fit(), None
        before = signal.signal(signal.SIGINT, _second_interrupt)
        try:
            results = tuner.fit()
            return results, signal.getsignal(signal.SIGINT) is _second_interrupt
        finally:
            signal.signal(signal.SIGINT, before)


def _close_orphans(journal: Path, *, study_name: str) -> None:
    """Mark FAIL any Optuna trial still RUNNING once Tune is done: a driver killed between
    Optuna's ask and Tune's next snapshot leaves one that no process will ever finish."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name=study_name, storage=storage)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def _baselines(cls, spec: StudySpec, store: RunStore, *, run: str, cpus: float, echo):
    """The experiment's generator-free reference scores, once per study (kept on resume)."""
    schema = baseline_schema(list(cls.metrics), list(cls.matrix_metrics))
    saved = store.read_table("baselines.parquet", schema)
    if saved is not None:
        return saved
    set_threads(cpus)
    start = time.perf_counter()
    rows = cls.baselines(spec.trial_config({}), dict(spec.data), seed=spec.seed)
    if not rows:
        return None
    rows = [{"study": spec.name, "run": run, **row} for row in rows]
    store.write_table("baselines.parquet", rows, schema)
    (echo or print)(
        f"[raygan] baselines ({', '.join(r['baseline'] for r in rows)}) in {time.perf_counter() - start:.0f} s"
    )
    return store.read_table("baselines.parquet", schema)


def _write_report(store: RunStore, journal: Path) -> Path:
    """report.html beside the results; for a URI run, in the driver's local cache."""
    from raygan.report import write_report

    if store.local_path is not None:
        return write_report(store.local_path)
    local = journal.with_suffix("")  # the run's cache directory on this machine
    names = ("trials.parquet", "history.parquet", "replicates.parquet", "baselines.parquet")
    for name in (*names, VALIDATION_FILE, "study.toml", "run.json"):
        if not store.has(name):
            continue
        with store.fs.open_input_stream(f"{store.root}/{name}") as src:
            (local / name).parent.mkdir(parents=True, exist_ok=True)
            (local / name).write_bytes(src.read())
    return write_report(local)


def _local_journal(store: RunStore) -> Path:
    """Where the Optuna journal is written while the study runs.

    Optuna's journal needs a local file (it locks it). A local run keeps it in the run
    directory; a run on a URI keeps it in a cache on the driver's machine (a --resume from
    elsewhere starts from the copy uploaded at the end of the last run).
    """
    if store.local_path is not None:
        return store.local_path / "optuna.journal"
    digest = hashlib.sha1(store.location.encode()).hexdigest()[:12]
    path = Path.home() / ".cache" / "raygan" / "journals" / f"{digest}.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() and (saved := store.read_text("optuna.journal")) is not None:
        path.write_text(saved, encoding="utf-8")
    return path


def resumed_spec(storage: str, name: str, overrides: Sequence[str | tuple[str, str]]) -> StudySpec:
    """The spec the run ``storage``/``name`` resumes with: its own study.toml; an override
    that changes any value is refused (StudyError naming the flag and the value kept)."""
    store = _store(storage, name)
    return _resumed_spec(store, saved_run(storage, name), overrides)


def _resumed_spec(
    store: RunStore, meta: dict, overrides: Sequence[str | tuple[str, str]]
) -> StudySpec:
    """The spec a run was started with. An override that would change it is refused,
    naming the flag and the value the run keeps; one that restates it is harmless.
    Resources too: Tune restores each trial with the resources it was made with."""
    saved = _saved_spec(store, meta)
    if not overrides:
        return saved
    before = _flat(saved.document)
    try:
        asked = _saved_spec(store, meta, overrides)
    except SpecError:  # a value the run could never take; name what it keeps instead
        key = _override_key(overrides[-1])
        raise _kept(overrides, key, before) from None
    after = _flat(asked.document)
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            raise _kept(overrides, key, before)
    return saved


def _override_key(item: str | tuple[str, str]) -> str:
    return (item if isinstance(item, str) else item[0]).partition("=")[0].strip()


def _kept(overrides, key: str, before: dict) -> StudyError:
    kept = f"= {json.dumps(before[key])}" if key in before else "unset (its default)"
    return StudyError(
        f"{_label(overrides, key)}: a resumed run keeps {key} {kept}; resume changes "
        "nothing of a run; start a new run (another --name) to change it"
    )


def _flat(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _label(overrides: Sequence[str | tuple[str, str]], key: str) -> str:
    """How the user wrote the override that set ``key``: '--num-samples 4', '--set x=1'."""
    for item in reversed(overrides):  # the last one given wins, as in load_spec
        text, label = (item, f"--set {item}") if isinstance(item, str) else item
        target = text.partition("=")[0].strip()
        if key == target or key.startswith(target + "."):
            return label
    return key


def _saved_spec(
    store: RunStore, meta: dict, overrides: Sequence[str | tuple[str, str]] = ()
) -> StudySpec:
    """The spec a run was started with, from its own study.toml (profile already applied)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.toml"
        path.write_text(store.read_text("study.toml"), encoding="utf-8")
        try:
            spec = load_spec(path, overrides=overrides)
        except SpecError as e:  # name the run's study.toml, not the temporary copy
            raise SpecError(str(e).replace(str(path), f"{store.location}/study.toml")) from None
    return replace(
        spec, name=meta["study"], profile=meta["profile"], path=store.location + "/study.toml"
    )
