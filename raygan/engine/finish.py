"""After the search: baselines, the validated front, the summary and the report."""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import ray

from raygan.engine import compat
from raygan.engine.errors import StudyInterrupted
from raygan.engine.resources import fit_noting_interrupt
from raygan.engine.runs import mark_finished
from raygan.engine.validation import (
    ValidationRecorder,
    done_runs,
    validation_cases,
    validation_tuner,
)
from raygan.experiments import experiment_path, get_experiment, register_experiment
from raygan.results import (
    BASELINES_FILE,
    FRONT_STATUSES,
    SAMPLES_FILE,
    SWEEP_FILE,
    VALIDATION_FILE,
    RunStore,
    StudyTables,
    baseline_schema,
    consolidate,
    consolidate_validation,
    format_baselines,
    format_summary,
    gain_reference,
    history_schema,
    plural,
    replicate_schema,
    sample_schema,
    sweep_schema,
    trial_schema,
    validation_schema,
)
from raygan.results.outputs import consolidate_samples, consolidate_sweep
from raygan.spec import StudySpec
from raygan.trial import set_threads


@dataclass
class StudyOutcome:
    name: str
    location: str
    tables: StudyTables
    summary: str

    @property
    def completed(self) -> int:
        return sum(s == "completed" for s in self.tables.trials.column("status").to_pylist())


@dataclass(frozen=True)
class Columns:
    """The names of an experiment's scalar metrics and of its matrix metrics."""

    metrics: list[str]
    matrices: list[str]


def _baselines(spec: StudySpec, target: str, cpus: float) -> list[dict]:
    """The rows of ``baselines`` of the Experiment at ``target``, on a Ray worker."""
    register_experiment(spec.experiment, target)  # on the driver, maybe not here
    set_threads(cpus)
    return get_experiment(spec.experiment).baselines(
        spec.trial_config({}), dict(spec.data), seed=spec.seed
    )


def run_baselines(
    declaration, spec: StudySpec, store: RunStore, *, run: str, cpus: float, echo
) -> pa.Table | None:
    """The experiment's generator-free reference scores, once per study (kept on resume).

    They are computed in a Ray task of ``cpus`` CPUs, as a trial would be: the driver
    imports no torch (some 170 MiB and tens of thousands of Python objects it would hold
    for the whole study), and a cluster's head node trains nothing."""
    if not declaration.has_baselines:  # not a worker started for nothing
        return None
    schema = baseline_schema(list(declaration.metrics), list(declaration.matrix_metrics))
    saved = store.read_table(BASELINES_FILE, schema)
    if saved is not None:
        return saved
    start = time.perf_counter()
    # max_calls=1: the worker (torch, the data) exits, rather than idle for the whole study
    task = ray.remote(max_calls=1)(_baselines).options(num_cpus=cpus, num_gpus=0, max_retries=0)
    try:
        rows = ray.get(task.remote(spec, experiment_path(spec.experiment), cpus))
    except ray.exceptions.RayTaskError as e:  # the experiment's own error, as if run here
        raise e.cause from e
    if not rows:
        return None
    rows = [{"study": spec.name, "run": run, **row} for row in rows]
    store.write_table(BASELINES_FILE, rows, schema)
    names = ", ".join(r["baseline"] for r in rows)
    (echo or print)(f"[raygan] baselines ({names}) in {time.perf_counter() - start:.0f} s")
    return store.read_table(BASELINES_FILE, schema)


def validate_front(
    spec: StudySpec,
    store: RunStore,
    tables: StudyTables,
    *,
    run: str,
    columns: Columns,
    verbose: int,
    echo,
) -> StudyTables:
    """Re-train each front configuration with ``spec.validate`` fresh seeds (the runs
    without a row yet); returns the tables with validation.parquet and validated_front."""
    done = done_runs(store, spec, columns.metrics, columns.matrices)
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
            metric_names=columns.metrics,
            matrix_names=columns.matrices,
            echo=echo,
        )
        tuner = validation_tuner(
            spec.name,
            cases,
            spec=spec,
            store=store,
            callback=callback,
            verbose=verbose,
        )
        _, saw_sigint = fit_noting_interrupt(tuner, quiet=verbose == 0)
        compat.forget_encoded_objects()
        finished = len(done_runs(store, spec, columns.metrics, columns.matrices))
        if saw_sigint or finished < total:
            raise StudyInterrupted(
                name=store.name,
                parts=store.uri("parts"),
                finished=finished,
                total=total,
                what="validation runs",
            )
    return consolidate_validation(
        store, spec, tables, columns.metrics, run=run, matrix_names=columns.matrices
    )


def pack_parts(spec: StudySpec, store: RunStore, *, columns: Columns) -> None:
    """Each kind's part files into one, parts/<kind>.parquet (RunStore.pack_parts): a run
    of 1000 trials would otherwise keep thousands of files of a few rows. Only once every
    table made from them is written, and with the schemas they were made with, so that no
    column of theirs is dropped; a resumed run reads the packed rows as it read the parts."""
    metrics, matrices = columns.metrics, columns.matrices
    schemas = {
        "trial": trial_schema(spec, metrics, matrices),
        "history": history_schema(spec, metrics),
        "replicate": replicate_schema(spec, metrics, matrices),
        "validation": validation_schema(spec, metrics, matrices),
        "samples": sample_schema(),
        "sweep": sweep_schema(spec, metrics),
    }
    for kind, schema in schemas.items():
        store.pack_parts(kind, schema)


def write_report(store: RunStore, journal: Path) -> str:
    """report.html and its figures beside the results; returns where report.html lies.
    A URI run's report is made from a copy of its tables in the driver's local cache,
    then uploaded into the run directory."""
    from raygan.report import write_report as write  # matplotlib: only when reporting

    if store.local_path is not None:
        return str(write(store.local_path))
    cache = journal.with_suffix("")  # the run's cache directory on this machine
    shutil.rmtree(cache, ignore_errors=True)  # an earlier report's files are not uploaded
    local, out = cache / "run", cache / "report"
    local.mkdir(parents=True)
    names = ("trials.parquet", "history.parquet", "replicates.parquet", BASELINES_FILE)
    for name in (*names, VALIDATION_FILE, SAMPLES_FILE, SWEEP_FILE, "study.toml", "run.json"):
        if not store.has(name):
            continue
        with store.fs.open_input_stream(f"{store.root}/{name}") as src:
            (local / name).write_bytes(src.read())
    page = write(local, out)
    for path in sorted(out.rglob("*")):  # report.html last: the figures are there first
        if path.is_file() and path != page and not path.name.startswith("."):
            store.write_bytes(path.relative_to(out).as_posix(), path.read_bytes())
    store.write_bytes(page.name, page.read_bytes())
    return store.uri(page.name)


def finish(
    spec: StudySpec,
    store: RunStore,
    *,
    run: str,
    cls,
    columns: Columns,
    baselines: pa.Table | None,
    journal: Path,
    wall_s: float,
    resumed: bool,
    verbose: int,
    echo,
) -> StudyOutcome:
    """The consolidated tables, the validated front (if asked), the summary, the report.
    ``wall_s``: the search's seconds in this process (since the resume, when ``resumed``)."""
    start = time.perf_counter()
    tables = consolidate(store, spec, columns.metrics, run=run, matrix_names=columns.matrices)
    if spec.validate and tables.pareto.num_rows:
        tables = validate_front(
            spec, store, tables, run=run, columns=columns, verbose=verbose, echo=echo
        )
    validation_s = time.perf_counter() - start if spec.validate else None
    rows = tables.trials.select(["trial_id", "status"]).to_pylist()
    # a failed trial's samples describe no model its row stands for; the sweep's front,
    # like the study's, is over completed (and pruned) trials only
    ended = [r["trial_id"] for r in rows if r["status"] != "failed"]
    completed = [r["trial_id"] for r in rows if r["status"] in FRONT_STATUSES]
    samples = consolidate_samples(store, run=run, trial_ids=ended)
    sweep = consolidate_sweep(store, spec, columns.metrics, run=run, trial_ids=completed)
    tables = dataclasses.replace(tables, samples=samples, sweep=sweep)
    pack_parts(spec, store, columns=columns)  # every table made from the parts is written
    summary = format_summary(
        tables,
        spec,
        location=store.uri(""),
        wall_s=wall_s,
        resumed=resumed,
        validation_s=validation_s,
        gain_from=gain_reference(baselines, cls.gain_baseline),
    )
    if baselines is not None and baselines.num_rows:
        summary += "\n" + format_baselines(baselines, spec)
    summary += f"\nreport: {write_report(store, journal)}"
    mark_finished(store)  # last: a run interrupted before this resumes
    return StudyOutcome(name=store.name, location=store.location, tables=tables, summary=summary)
