"""run_study: a study spec becomes a Ray Tune run, its tables, its summary and its report."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import ray
from ray import tune
from ray.tune.search import ConcurrencyLimiter

import raygan
from raygan.claim import RunBusy, hold_lock
from raygan.engine import compat
from raygan.engine.checks import check_study
from raygan.engine.errors import StudyError, StudyInterrupted
from raygan.engine.finish import Columns, StudyOutcome, finish, run_baselines
from raygan.engine.optuna_storage import (
    OptunaStorage,
    check_resumed_storage,
    parse_optuna_storage,
)
from raygan.engine.recorder import Recorder
from raygan.engine.resources import fit_noting_interrupt, resources, terminate_as_interrupt
from raygan.engine.runs import (
    RESUMING,
    TUNE_DIR,
    check_run_name,
    checkpoint_config,
    claim,
    default_run_name,
    local_journal,
    open_store,
    saved_facts,
    spec_of_run,
    tensorboard_command,
    write_run_facts,
)
from raygan.engine.scheduler import MultiObjectiveASHA, ReleasingFIFOScheduler
from raygan.engine.search import RayganGenerator, make_searcher
from raygan.engine.trainable import raygan_trial
from raygan.engine.tune_output import (
    drop_tune_messages,
    import_tensorboardx_lean,
    tune_loggers,
    wait_for_ended_trial_logs,
)
from raygan.experiments import experiment_path, get_declaration
from raygan.results import RunStore
from raygan.spec import SpecError, StudySpec, dump_toml


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
    optuna_storage: str | None = None,
    verbose: int = 1,
    echo=print,
) -> StudyOutcome:
    """Run (or with ``resume=True`` continue) a study; returns its consolidated tables.

    Connects to Ray at ``address`` (``"auto"``, ``"ray://host:10001"``) or starts a local
    Ray if none is running. ``name``: the run directory's name under ``storage`` (default:
    study-profile-date-time, made unique). A resumed run keeps the spec it was started
    with; ``overrides`` (the ``--set`` items and the flags that stand for one, as given to
    ``load_spec``) may restate it, and one that changes a value is refused.
    ``optuna_storage``: a database URL or a journal file path where the Optuna study is
    kept instead of the run's own journal (raygan.engine.optuna_storage); a resumed run is
    given it again. Raises
    StudyError on bad input, before anything is written (a new run's directory is removed
    again when bad input shows up later), and when another process holds the run.
    """
    # Tune swaps builtins.print while it runs and pickles callbacks with the run: decide
    # now, before any of that, whether lines go to print (None) or to a caller's echo.
    echo = None if echo is print else echo
    _check_flags(name=name, gpus_per_trial=gpus_per_trial)
    shared = parse_optuna_storage(optuna_storage) if optuna_storage is not None else None
    store = open_store(storage, name or default_run_name(spec))
    run_id = store.name  # the run's name, as its rows and journal say
    if resume:
        facts = saved_facts(store)
        run_id = facts.get("run", run_id)  # a copied or moved run keeps its first name
        spec = spec_of_run(store, facts, overrides)
        check_resumed_storage(facts.get("optuna_storage"), shared)
    check_study(spec)
    if shared is not None:  # reachable, and (for a new run) no study of that name in it
        shared.open()
        if not resume and shared.has_study(run_id):
            raise StudyError(
                f"--optuna-storage: {shared.shown} already holds an Optuna study named "
                f"{run_id!r}; choose another --name"
            )
    with contextlib.ExitStack() as held:
        if not resume:
            store = claim(storage, store, by_default=name is None)
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
                shared=shared,
                verbose=verbose,
                echo=echo,
            )
        except (StudyError, SpecError, ValueError):
            if not resume:  # bad input found late: a new run leaves nothing behind
                store.remove()
            raise


def _check_flags(*, name: str | None, gpus_per_trial: float | None) -> None:
    if gpus_per_trial is not None and not (0 <= gpus_per_trial <= 1):
        raise StudyError(
            f"--gpus-per-trial: {gpus_per_trial} must be between 0 and 1 (a fraction of one "
            "GPU; 0 runs on CPU)"
        )
    if name is not None:
        check_run_name(name)


def _run_claimed(
    spec: StudySpec,
    store: RunStore,
    *,
    name: str,
    address: str | None,
    resume: bool,
    cpus_per_trial: float | None,
    gpus_per_trial: float | None,
    shared: OptunaStorage | None,
    verbose: int,
    echo,
) -> StudyOutcome:
    """run_study, once the run directory is claimed and locked."""
    drop_tune_messages()
    with _ray_session(address, echo=echo), _sigterm_as_interrupt():
        compat.check_versions(echo)
        cpus, gpus = resources(spec, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial)
        cls = get_declaration(spec.experiment)  # the driver imports no torch
        columns = Columns(list(cls.metrics), list(cls.matrix_metrics))
        store.makedirs()
        if not resume:
            _write_run_facts(
                spec, store, run=name, gain_baseline=cls.gain_baseline, optuna_storage=shared
            )
        recorder = Recorder(
            spec,
            store,
            run=name,
            metric_names=columns.metrics,
            matrix_names=columns.matrices,
            cpus=cpus,
            gpus=gpus,
            echo=echo,
        )
        baselines = run_baselines(cls, spec, store, run=name, cpus=cpus, echo=echo)
        journal = local_journal(store)
        start = time.perf_counter()
        _search(
            spec,
            store,
            recorder,
            optuna_store=shared or OptunaStorage(journal=journal),
            run=name,
            resume=resume,
            cpus=cpus,
            gpus=gpus,
            verbose=verbose,
            echo=echo,
        )
        return finish(
            spec,
            store,
            run=name,
            cls=cls,
            columns=columns,
            baselines=baselines,
            journal=journal,
            wall_s=time.perf_counter() - start,
            resumed=resume,
            verbose=verbose,
            echo=echo,
        )


@contextlib.contextmanager
def _ray_session(address: str | None, *, echo) -> Iterator[None]:
    """Ray at ``address``, or a fresh local Ray, shut down again if started here."""
    if ray.is_initialized():
        yield
        return
    try:
        # Ray's own default (address=None) attaches to any cluster it finds on this
        # machine; raygan starts a fresh local one unless told where to go.
        target = address or os.environ.get("RAY_ADDRESS") or "local"
        context = ray.init(address=target, logging_level=logging.WARNING, log_to_driver=True)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise StudyError(f"--address: cannot reach a Ray cluster at {address!r}: {e}") from None
    if getattr(context, "dashboard_url", None):
        (echo or print)(f"[raygan] Ray dashboard: http://{context.dashboard_url}")
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the study as Ctrl-C does; installed after ray.init, which installs its
    own SIGTERM handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate_as_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_run_facts(
    spec: StudySpec,
    store: RunStore,
    *,
    run: str,
    gain_baseline,
    optuna_storage: OptunaStorage | None,
) -> None:
    choice = spec.sampler_choice()
    store.write_text("study.toml", dump_toml(spec.document))
    facts = {
        "study": spec.name,
        "profile": spec.profile,
        "run": run,
        "raygan_version": raygan.__version__,
        "created": datetime.now(UTC).isoformat(),
        "sampler": choice.name,  # what sampler = "auto" became, and why
        "sampler_reason": choice.reason,
        "scheduler": spec.scheduler,
        # where the Optuna study is kept, password masked; null: the run's optuna.journal
        "optuna_storage": optuna_storage.shown if optuna_storage is not None else None,
        "gain_baseline": gain_baseline,  # the report reads it, not the experiment
    }
    write_run_facts(store, facts)


def _make_tuner(
    spec: StudySpec,
    store: RunStore,
    recorder: Recorder,
    *,
    optuna_store: OptunaStorage,
    run: str,
    resume: bool,
    verbose: int,
    metric_names: list[str],
    echo,
) -> tune.Tuner:
    """A new Tune run, or the interrupted one restored (with its own pickled Recorder)."""
    # on S3, the store's own filesystem: Tune's, opened from the URI, pickles the endpoint
    storage_path, storage_fs = store.tune_storage()
    tune_path = f"{storage_path}/{TUNE_DIR}"
    if resume and tune.Tuner.can_restore(tune_path, storage_filesystem=storage_fs):
        import_tensorboardx_lean()  # the pickled loggers would import it with torch, boto3
        return tune.Tuner.restore(
            tune_path,
            trainable=spec.name,
            resume_unfinished=True,
            resume_errored=False,
            storage_filesystem=storage_fs,
        )
    searcher = make_searcher(spec, storage=optuna_store, study_name=run, echo=echo)
    scheduler = ReleasingFIFOScheduler()
    if spec.scheduler == "mo-asha":
        scheduler = MultiObjectiveASHA(spec, store, metric_names=metric_names, echo=echo)
    return tune.Tuner(
        spec.name,
        tune_config=tune.TuneConfig(
            # the limiter Tune would add for max_concurrent_trials, in our generator
            search_alg=RayganGenerator(
                ConcurrencyLimiter(searcher, max_concurrent=spec.max_concurrent)
            ),
            num_samples=spec.num_samples,
            scheduler=scheduler,
            time_budget_s=spec.time_budget_s or None,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=TUNE_DIR,
            storage_path=storage_path,
            storage_filesystem=storage_fs,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=checkpoint_config(),
            callbacks=[recorder, *tune_loggers()],
            verbose=verbose,
        ),
    )


def _search(
    spec: StudySpec,
    store: RunStore,
    recorder: Recorder,
    *,
    optuna_store: OptunaStorage,
    run: str,
    resume: bool,
    cpus: float,
    gpus: float,
    verbose: int,
    echo,
) -> None:
    """The Tune run of the search, to its end; StudyInterrupted if it was stopped first.
    Every trial has its row afterwards and the Optuna study lies in the run."""
    trainable = tune.with_resources(
        tune.with_parameters(
            raygan_trial,
            spec=spec,
            experiment_path=experiment_path(spec.experiment),
            cpus=cpus,
            gpus=gpus,
            run=run,
            location=store.location,
        ),
        {"cpu": cpus, "gpu": gpus},
    )
    # Trials show as '<study>_<id>' in Tune's table and logs, not '_train_<id>'.
    tune.register_trainable(spec.name, trainable)
    resuming = RESUMING.set((store, optuna_store))
    try:
        tuner = _make_tuner(
            spec,
            store,
            recorder,
            optuna_store=optuna_store,
            run=run,
            resume=resume,
            verbose=verbose,
            metric_names=recorder.metric_names,
            echo=echo,
        )
        say = echo or print
        choice = spec.sampler_choice()
        say(f"[raygan] sampler: {choice.name} ({choice.reason})")
        if (rungs := spec.rungs) is not None:
            say(
                f"[raygan] scheduler: mo-asha, rungs after {rungs.min_rounds}, "
                f"{rungs.min_rounds * rungs.reduction_factor}, ... rounds; the best "
                f"1/{rungs.reduction_factor} of the trials at a rung go on"
            )
        say(f"[raygan] TensorBoard: {tensorboard_command(store)}")
        results, saw_sigint = fit_noting_interrupt(tuner, quiet=verbose == 0)
    finally:
        RESUMING.reset(resuming)
        wait_for_ended_trial_logs()
    recorder.live.close()  # a resumed run's Tune held a restored copy: this one drew too
    compat.forget_encoded_objects()  # from Tune's last snapshot, of every trial
    if saw_sigint is None:  # Tune's handler was off: every trial has a row, or it stopped
        saw_sigint = not spec.time_budget_s and store.part_count("trial") < max(
            len(results), spec.num_samples
        )
    if saw_sigint:
        # Tune saved the stopped trials as unfinished (what --resume picks up): no rows
        # for them and no final tables, the study is not over.
        raise StudyInterrupted(
            name=store.name,
            parts=store.uri("parts"),
            finished=store.part_count("trial"),
            total=spec.num_samples,
        )
    if spec.time_budget_s:
        recorder.record_cut_short(results)
    # a killed driver's orphans
    compat.fail_running_trials(optuna_store.open(), study_name=run)
    journal = optuna_store.journal
    if journal is not None and (store.local_path is None or optuna_store.shared):
        # keep the run's Optuna study with its results (a database keeps its own)
        store.write_text("optuna.journal", journal.read_text(encoding="utf-8"))
