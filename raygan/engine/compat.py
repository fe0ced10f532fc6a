"""Every use of a private attribute of Ray Tune, Ray or Optuna, in one place, and a list
of the other behaviours of these versions that raygan relies on.

raygan reaches into these libraries where their public API has no way to do what a study
needs: keep the driver's memory flat over thousands of trials, point a resumed run's
searcher at the directory the run lies in now, finish the Optuna trials a killed driver
left running, and keep messages meant for Tune's own users off raygan's console.

Guarded uses switch themselves off where the attribute is gone (the study still runs,
maybe with a growing driver, chattier, or with a moved run's new trials written where it
lay before): ``skip_windowed_means`` and ``release_finished_trial`` (a Trial's
``run_metadata._n_steps``, ``metric_analysis``, ``metric_n_steps``, ``invalidate_cache``,
``invalidate_json_state``, its checkpoint manager's ``_checkpoint_results`` and
``_latest_checkpoint_result``), ``drop_finished_trials`` (the TuneController's trial
lists and snapshot JSON), ``event_file_writers`` and ``release_closed_file_writers``
(a TBXLoggerCallback's ``_trial_writer``, tensorboardX's ``all_writers``,
``event_writer`` and ``_closed``), ``forget_encoded_objects`` (``ray.util.debug._logged``),
``trim_heap`` (glibc's ``malloc_trim``), ``repoint_generator`` (a SearchGenerator's
``_experiment.storage.storage_fs_path``), ``trial_storage`` (ray.train's DeveloperAPI
``get_storage``: a trial that ended after Tune's last snapshot trains again on resume),
``searched_trial_ids`` and ``count_trials_made`` (OptunaSearch's ``_ot_trials`` and
``_completed_trials``, a SearchGenerator's ``_counter``: a resumed study may make more
than num_samples trials), ``staging_upload_idle`` (the TuneController's ``_storage``, its
syncer's ``_sync_process``: ended trials' logger files stay in Tune's staging folder).

Required uses have no fallback and raise ``IncompatibleVersion`` where the attribute is
gone: ``optuna_trial_number`` (OptunaSearch's ``_ot_trials``: every trial's seed comes
from it; ``optuna_trial``, ``optuna_study`` and ``forget_optuna_trial`` too: a proposal
that repeats a configuration is told and asked again, and a finished trial's Optuna Trial
is let go), ``repoint_optuna_search`` (``_ot_study``, ``_sampler``, ``_storage``,
``_ot_trials`` and an Optuna Trial's ``_trial_id``: resuming a run),
``fail_unknown_running_trials`` (``_ot_trials``, a Study's ``_storage``, ``_trial_id``:
resuming a run) and ``fail_running_trials`` (``_trial_id``: the end of every search). That is why
pyproject.toml caps ray and optuna at the versions in ``TESTED``; ``check_versions``
says once per process when the installed ones differ.

Behaviours of these versions that raygan relies on elsewhere, without private names:

- ``TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S`` (set below);
- ``raygan.engine.tune_output.drop_tune_messages``: Tune's and OptunaSearch's messages
  meant for Tune's own users, matched by their text (a reworded one just shows again);
- ``raygan.engine.tune_output``: ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` keeps Tune
  from adding its own loggers, ``RAY_AIR_NEW_OUTPUT=0`` selects the console flow that
  prints nothing at verbosity 0, and ``TensorBoardLogger`` wraps Tune's TBX logger so
  that Tune, not recognising it, prints no misleading ``tensorboard --logdir`` hint;
- ``raygan.engine.resources.fit_noting_interrupt``: Tune installs its own SIGINT handler
  for ``fit()`` (unless ``TUNE_DISABLE_SIGINT_HANDLER``) and puts back the one it found
  when it fires, which is how a Ctrl-C is told from a finished run, since ``fit()``
  returns normally either way;
- ``quiet_worker_sigterm``: a Ray worker's SIGTERM handler raises SystemExit in its main
  thread, which Python reports through ``sys.unraisablehook`` when it lands in a callback.
"""

from __future__ import annotations

import ctypes
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import optuna
import pyarrow.fs as pafs
from ray._private import worker as _ray_worker
from ray.util import debug as ray_debug

# The versions the workarounds below were written against and tested with: major.minor.
TESTED = {"ray": "2.60", "optuna": "5.0"}
_checked: list[str] = []

# Tune reads these when a run starts: set on import, before any run; a user's value stands.
# A trial's second checkpoint since Tune's last snapshot forces a snapshot (num_to_keep=2),
# which Tune warns about when it happens often (budget.checkpoint_every_s = 0 does it).
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


class IncompatibleVersion(RuntimeError):
    """An attribute a required use needs is gone: the installed Ray or Optuna is not one
    raygan works with."""


def _required(obj: Any, name: str) -> Any:
    """``obj.<name>``, or IncompatibleVersion, one line naming the attribute and the
    versions raygan was tested with."""
    try:
        return getattr(obj, name)
    except AttributeError:
        tested = ", ".join(f"{p} {v}.x" for p, v in TESTED.items())
        raise IncompatibleVersion(
            f"{type(obj).__name__} has no {name}: raygan needs it and was tested with "
            f"{tested} (the caps in pyproject.toml)"
        ) from None


def check_versions(echo=None) -> list[str]:
    """Say once per process which installed libraries differ from TESTED; returns those
    lines (empty when all match)."""
    if _checked:
        return []
    lines = []
    for package, tested in TESTED.items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            continue
        if ".".join(installed.split(".")[:2]) != tested:
            lines.append(
                f"[raygan] {package} {installed} is installed; raygan's uses of {package} "
                f"internals were tested with {tested}.x: the optional ones switch themselves "
                "off where an attribute is gone, the required ones stop the study "
                "(raygan.engine.compat)"
            )
    _checked.append("done")
    for line in lines:
        (echo or print)(line)
    return lines


# ---- Tune's trial bookkeeping: keep the driver flat over thousands of trials ----------
def skip_windowed_means(trial) -> None:
    """Keep Tune from tracking the last-5 and last-10 means of every reported number.

    Tune keeps them in deques, which its JSON snapshots can only store as hex-encoded
    pickles, and every one it encodes leaves a key in Ray's
    process-wide log_once set: the driver grew with every round of every trial. Nothing
    raygan writes uses these means. Called before the first result, so none are made.
    """
    metadata: Any = getattr(trial, "run_metadata", None)
    if hasattr(metadata, "_n_steps"):
        metadata._n_steps = ()


def release_finished_trial(trial) -> None:
    """Drop what the driver holds for a finished trial beyond its row and last result.

    Tune keeps every Trial object for the whole run, with the running statistics of every
    number it reported (max, min, mean) and their JSON cache; raygan never reads them, the
    trial's rows are already in Parquet, and its last result (which Tune's restore and
    raygan's rows need) stays. Then the log_once keys Tune's snapshots left are forgotten
    and the C heap is trimmed: the snapshots grow with the number of trials, and glibc
    keeps the space they freed (docs/benchmarks.md).
    """
    metadata: Any = getattr(trial, "run_metadata", None)
    for name in ("metric_analysis", "metric_n_steps"):
        table = getattr(metadata, name, None)
        if isinstance(table, dict):
            table.clear()
    # the whole report Tune keeps beside each kept checkpoint, for a best-checkpoint lookup
    # raygan never makes (a checkpoint_score_attribute); the checkpoints themselves stay
    manager = getattr(metadata, "checkpoint_manager", None)
    kept = [*getattr(manager, "_checkpoint_results", ())]
    kept.append(getattr(manager, "_latest_checkpoint_result", None))
    for result in kept:
        if isinstance(getattr(result, "metrics", None), dict):
            result.metrics = {}
    # the JSON Tune's next snapshot stores for the trial (its controller keeps one per
    # trial for the whole run) is then made from what is left
    if hasattr(metadata, "invalidate_cache"):
        metadata.invalidate_cache()
    if hasattr(trial, "invalidate_json_state"):
        trial.invalidate_json_state()
    forget_encoded_objects()
    trim_heap()


_SINCE_SYNC = "_trial_num_checkpoints_since_last_sync"


def drop_finished_trials(tune_controller, trial_ids: set[str]) -> set:
    """Take the trials named in ``trial_ids`` out of Tune's controller once they have
    stopped (TERMINATED or ERROR, no actor, no save or decision pending); returns the
    Trials taken out. ``tune_controller``: what Tune hands a scheduler (its TrialRunnerWrapper).

    Tune keeps every Trial object for the whole run, and the JSON of each for its
    snapshots, so the driver grows with every trial. raygan needs neither once a trial's
    row is written: a resumed run counts trials with rows that Tune's snapshot lacks
    (``searched_trial_ids``). What it costs: Tune's table, its snapshot and fit()'s
    results hold only the trials not taken out. The controller's private ``_trials``,
    ``_stopped_trials``, ``_failed_trials``, ``_trial_to_actor``, ``_trials_to_cache``,
    ``_trial_metadata``, ``_cached_trial_decisions``, its checkpoint manager's count of
    checkpoints since the last upload and its callbacks' tables keyed by Trial
    (``_callbacks._callbacks``; Ray 2.60); nothing is taken out where one is gone.
    """
    controller = getattr(tune_controller, "_tune_controller", tune_controller)
    names = (
        "_trials",
        "_stopped_trials",
        "_failed_trials",
        "_trial_to_actor",
        "_trials_to_cache",
        "_trial_metadata",
        "_cached_trial_decisions",
    )
    if not trial_ids or not all(hasattr(controller, name) for name in names):
        return set()
    ended = (*controller._stopped_trials, *controller._failed_trials)
    gone = {
        trial
        for trial in ended
        if trial.trial_id in trial_ids
        and trial not in controller._trial_to_actor
        and not getattr(trial, "is_saving", False)
        and trial.trial_id not in controller._cached_trial_decisions
    }
    if not gone:
        return set()
    controller._trials[:] = [t for t in controller._trials if t not in gone]
    for trial in gone:
        controller._stopped_trials.discard(trial)
        controller._failed_trials.discard(trial)
        controller._trials_to_cache.discard(trial)
        controller._trial_metadata.pop(trial.trial_id, None)
    # Tune counts each trial's checkpoints since its last upload of the snapshot, and
    # empties the count only after an upload: with a local run directory, never
    counts = getattr(getattr(controller, "_checkpoint_manager", None), _SINCE_SYNC, None)
    if isinstance(counts, dict):
        for trial in gone:
            counts.pop(trial, None)
    # Tune's callbacks keep tables keyed by Trial that they never empty: its console
    # progress (last result, print times, the set of completed trials), and its JSON and
    # CSV loggers (each trial's config, whether its CSV file continues)
    for callback in getattr(getattr(controller, "_callbacks", None), "_callbacks", ()):
        for table in getattr(callback, "__dict__", {}).values():
            if isinstance(table, dict):
                for trial in gone:
                    table.pop(trial, None)
            elif isinstance(table, set):
                table.difference_update(gone)
    trim_heap()
    return gone


def staging_upload_idle(tune_controller) -> bool | None:
    """Whether Tune is not uploading its staging folder on the driver now (its upload
    lists the folder, then copies each file: a file moved away in between fails it);
    None where that cannot be seen (the controller's ``_storage`` or its syncer's
    ``_sync_process`` gone)."""
    controller = getattr(tune_controller, "_tune_controller", tune_controller)
    syncer = getattr(getattr(controller, "_storage", None), "syncer", None)
    upload: Any = getattr(syncer, "_sync_process", False)
    if upload is None:
        return True
    if upload is False or not hasattr(upload, "is_running"):
        return None
    return not upload.is_running  # Ray's is None, not False, for a process never started


def event_file_writers(callback, trial) -> list:
    """The tensorboardX FileWriters of the SummaryWriter a TBXLoggerCallback keeps for
    ``trial`` (its private ``_trial_writer``, Ray 2.60; the writer's ``all_writers``,
    tensorboardX 2.6), taken before the writer is closed, which forgets them; [] where
    there are none."""
    writer = getattr(callback, "_trial_writer", {}).get(trial)
    return list((getattr(writer, "all_writers", None) or {}).values())


class _ClosedEventWriter:
    def flush(self) -> None: ...

    def close(self) -> None: ...


_CLOSED_EVENT_WRITER = _ClosedEventWriter()


def release_closed_file_writers(file_writers: list) -> None:
    """Let closed tensorboardX FileWriters' contents go.

    tensorboardX (2.6) registers an ``atexit`` hook for every FileWriter it opens, which
    closes it again at exit and is never unregistered: every trial's writer, with its
    buffers, stays alive until the driver exits. A closed one (its ``event_writer``'s
    ``_closed`` set) keeps only a shared event writer whose close does nothing, so the
    hook still has something to close; the rest of its attributes go.
    """
    for file_writer in file_writers:
        if getattr(getattr(file_writer, "event_writer", None), "_closed", False):
            vars(file_writer).clear()
            file_writer.event_writer = _CLOSED_EVENT_WRITER


def forget_encoded_objects() -> None:
    """Forget the log_once keys Tune's JSON encoder leaves, one per object it had to
    pickle (ray.tune.utils.serialization.TuneFunctionEncoder), named by the object's repr,
    which carries its address: a new key for every snapshot of every trial."""
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


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc only; under a millisecond)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _drop_sigterm_exit(unraisable) -> None:
    if not issubclass(unraisable.exc_type, SystemExit):
        sys.__unraisablehook__(unraisable)


def quiet_worker_sigterm() -> None:
    """On a Ray worker process, and nowhere else: say nothing when Ray's SIGTERM handler
    fires inside a callback.

    Ray's worker turns SIGTERM (its trial stopped, the study interrupted or over, or an
    actor Tune started and then dropped unused) into a SystemExit raised wherever its main
    thread is; raised inside a weakref or finalizer callback, Python prints it as an
    "Exception ignored" traceback, which the driver forwards to the user's console. Any
    other exception there still prints. A driver's hook is left as it is."""
    if _ray_worker.global_worker.mode == _ray_worker.WORKER_MODE:
        sys.unraisablehook = _drop_sigterm_exit


# ---- OptunaSearch and Tune's search generator: a resumed run that was moved ----------
def optuna_trial_number(search, trial_id: str) -> int:
    """The Optuna trial number OptunaSearch gave Tune's trial ``trial_id``."""
    return _required(search, "_ot_trials")[trial_id].number


def optuna_trial(search, trial_id: str) -> optuna.Trial:
    """The Optuna trial OptunaSearch asked for Tune's trial ``trial_id``."""
    return _required(search, "_ot_trials")[trial_id]


def optuna_study(search) -> optuna.Study:
    """The Optuna study an OptunaSearch asks and tells."""
    return _required(search, "_ot_study")


def forget_optuna_trial(search, trial_id: str) -> None:
    """Make OptunaSearch ask Optuna anew for Tune's trial ``trial_id`` (it asks only for a
    trial id it holds no Optuna trial for)."""
    _required(search, "_ot_trials").pop(trial_id, None)


def repoint_optuna_search(search, storage) -> None:
    """Point a restored OptunaSearch (its study and the trials in flight) at ``storage``.
    OptunaSearch pickles its storage, which names the journal where the run lay before."""
    old_study, sampler = _required(search, "_ot_study"), _required(search, "_sampler")
    trials = _required(search, "_ot_trials")
    _required(search, "_storage")  # replaced below: refuse a search that no longer has one
    study = optuna.load_study(study_name=old_study.study_name, storage=storage, sampler=sampler)
    search._storage, search._ot_study = storage, study
    search._ot_trials = {
        tid: optuna.Trial(study, _required(t, "_trial_id")) for tid, t in trials.items()
    }


def repoint_generator(generator, root: str) -> None:
    """Make a restored SearchGenerator create its new trials under ``root``. Tune fixes
    the storage of the trials it restores from a moved experiment, while new trials come
    from the generator's pickled experiment, which still names the old directory (Ray 2.60)."""
    storage = getattr(getattr(generator, "_experiment", None), "storage", None)
    if storage is not None:
        storage.storage_fs_path = root


def trial_storage() -> tuple[pafs.FileSystem, str] | None:
    """(filesystem, path) of the running trial's directory in the run's storage, where
    Tune persists its checkpoints; inside a trainable only. ray.train's get_storage is a
    DeveloperAPI (Ray 2.60); None where it is gone."""
    try:
        from ray.train._internal.session import get_storage

        storage = get_storage()
        return storage.storage_filesystem, storage.trial_fs_path
    except (ImportError, AttributeError):
        return None


def searched_trial_ids(search) -> set[str]:
    """The Tune trial ids an OptunaSearch handed out (restored with it from Tune's
    snapshot): those of its private ``_ot_trials`` map and its ``_completed_trials`` set
    (Ray 2.60); a finished trial may have left the map (``forget_optuna_trial``)."""
    return set(getattr(search, "_ot_trials", {})) | set(getattr(search, "_completed_trials", ()))


def count_trials_made(generator, n: int) -> None:
    """Count ``n`` more trials as made by a SearchGenerator (its private ``_counter``,
    Ray 2.60), so that it makes ``n`` fewer before reaching num_samples."""
    if hasattr(generator, "_counter"):
        generator._counter += n


def fail_unknown_running_trials(search) -> int:
    """Mark FAIL the RUNNING Optuna trials of an OptunaSearch's study that the search
    handed to no Tune trial it knows (``_ot_trials``, restored from Tune's snapshot): a
    killed driver's trials started after that snapshot. Returns how many."""
    study = optuna_study(search)
    known = {trial.number for trial in _required(search, "_ot_trials").values()}
    return _fail_running(study, storage=study._storage, keep=known)


def fail_running_trials(storage, *, study_name: str) -> int:
    """Mark FAIL every Optuna trial of the study in ``storage`` still RUNNING; returns how
    many. Optuna's public API finishes a trial only through the Trial object that asked for
    it, which a driver killed between ask and tell no longer has."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    return _fail_running(study, storage=storage, keep=set())


def _fail_running(study: optuna.Study, *, storage, keep: set[int]) -> int:
    """Mark FAIL the study's RUNNING trials whose number is not in ``keep``; how many."""
    running: Any = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    failed = [trial for trial in running if trial.number not in keep]
    for trial in failed:
        storage.set_trial_state_values(_required(trial, "_trial_id"), optuna.trial.TrialState.FAIL)
    return len(failed)
