"""What Tune writes beside the trials (CSV, JSON, TensorBoard) and prints while it runs.

Tune adds its loggers itself and, when one of them is its TensorBoard logger, prints a
``tensorboard --logdir`` hint at the driver's staging folder inside Ray's session
directory, not at the run directory where the event files end up (Ray 2.60). And its
configuration box prints at every verbosity, ``verbose=0`` included. So raygan passes
the loggers itself, TensorBoard through a wrapper Tune does not recognise (no hint), says
where the event files are in its own line, and turns Tune's console output off for
``--quiet``. Messages meant for Tune's own users (its ``Tuner.restore`` hint, ...) are
filtered out of its loggers.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.fs as pafs
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, LoggerCallback
from ray.tune.logger.tensorboardx import TBXLoggerCallback

from raygan.engine import compat


# ---- messages meant for Tune's own users ---------------------------------------------
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
    # raygan user resumes with --resume, which raygan itself prints. And its 'Stop signal
    # received (e.g. via SIGINT/Ctrl+C)' names Ctrl-C on a SIGTERM too, and tells a job
    # scheduler's user to send SIGKILL; raygan says that it was interrupted itself.
    "ray.tune.tune": _DropMessage("has been interrupted", "Stop signal received"),
    # fit()'s result grid reads each trial's result.json or progress.csv; a resumed run's
    # trial that ended before the interruption, or never reported, has none in the
    # restored directory. raygan reads its rows from its own tables, not from these.
    "ray.tune.analysis.experiment_analysis": _DropMessage("Failed to fetch metrics"),
    # Optuna's grid sampler stops the study once the grid is done, which outside
    # study.optimize raises; OptunaSearch logs that as a warning after the trial has been
    # stored as it should be. And a resumed run's trial that had finished before the
    # interruption reports again: OptunaSearch cannot tell Optuna twice (it has it already).
    "ray.tune.search.optuna.optuna_search": _DropMessage(
        "`Study.stop` is supposed to", "Cannot tell a COMPLETE trial"
    ),
    # Ray's notice, as it starts a local cluster, that token authentication is on (its
    # default) asks nothing of the user; its warning that it is off still prints.
    "ray._private.authentication.authentication_token_setup": _DropMessage(
        "Token authentication is enabled for this Ray cluster"
    ),
}


def drop_tune_messages() -> None:
    """Filter the log lines above out of Tune's loggers (matched by their text)."""
    for logger_name, drop in _DROPPED_MESSAGES.items():
        logging.getLogger(logger_name).addFilter(drop)


class TensorBoardLogger(LoggerCallback):
    """Tune's TensorBoard logger, by composition: the same event files per trial."""

    def __init__(self) -> None:
        import_tensorboardx_lean()
        self._tbx = TBXLoggerCallback()

    def log_trial_start(self, trial) -> None:
        self._tbx.log_trial_start(trial)

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        self._tbx.log_trial_result(iteration, trial, result)

    def log_trial_end(self, trial, failed: bool = False) -> None:
        file_writers = compat.event_file_writers(self._tbx, trial)  # closing forgets them
        self._tbx.log_trial_end(trial, failed)
        compat.release_closed_file_writers(file_writers)


# What tensorboardX imports where installed, for what Tune never asks of it: torch, to
# take torch tensors (Tune's logger gives it floats); boto3 and Google Cloud Storage, to
# write to s3:// and gs:// (Tune gives it a folder on the driver).
NOT_FOR_TUNE = ("torch", "boto3", "google.cloud")
# held while import_tensorboardx_lean puts its finder in and takes it out: two calls at
# once must not each write back a list read before the other's change
_META_PATH_LOCK = threading.RLock()


def import_tensorboardx_lean() -> None:
    """Imports tensorboardX without what is in ``NOT_FOR_TUNE`` (those not imported
    already); called before Tune makes its loggers, or unpickles a resumed run's. With
    them, the driver would hold some 170 MiB more (torch) and tens of thousands more
    interned strings for the whole study (torch; boto3 and botocore some 6,400), whose
    table doubles in size once they pass a third of it. tensorboardX decides once, on
    import, what it can do: in this process it then takes no torch tensors and writes
    to no s3:// or gs:// logdir, even after the caller imports torch or boto3."""
    with _META_PATH_LOCK:
        if "tensorboardX" in sys.modules:
            return
        refusal = _RefusedToThisThread([n for n in NOT_FOR_TUNE if n not in sys.modules])
        # a new list, not the old one changed: another thread's import may be looping
        # over it, and would skip a finder
        sys.meta_path = [refusal, *sys.meta_path]
        try:
            import tensorboardX  # noqa: F401
        finally:
            sys.meta_path = [f for f in sys.meta_path if f is not refusal]


class _RefusedToThisThread(importlib.abc.MetaPathFinder):
    """Makes importing ``names`` (and their submodules) fail in the thread that made it,
    and only there: None in sys.modules would fail it in every thread of the process for
    that moment (a notebook's own thread importing torch beside the driver's)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path=None, target=None) -> None:
        if threading.get_ident() == self.thread and any(
            fullname == name or fullname.startswith(name + ".") for name in self.names
        ):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def tune_loggers() -> list[LoggerCallback]:
    """The loggers Tune would add itself: progress.csv, result.json, TensorBoard events."""
    return [CSVLoggerCallback(), JsonLoggerCallback(), TensorBoardLogger()]


_log = logging.getLogger(__name__)

# The thread that copies ended trials' files, one per driver process (a scheduler that
# Tune pickles cannot hold it); wait_for_ended_trial_logs ends it.
_copier: ThreadPoolExecutor | None = None


class EndedTrialLogs:
    """Takes the logger files of trials that ended (progress.csv, result.json, params,
    TensorBoard events, error.txt) out of Tune's staging folder on the driver and copies
    them to each trial's folder in the run's storage, once.

    Tune's loggers write every trial's files into that folder, and Tune uploads the whole
    folder at each snapshot (every 10 s or more): each upload copied every file of every
    trial so far, which at 1000 trials took more of the driver's CPU than anything else
    that grew with the trials run (docs/benchmarks.md). A trial that ended writes no more.
    Its folder is renamed out of the staging folder, which is instant but is done only
    while no upload runs (an upload lists the folder, then copies each file: a file gone
    in between fails it), and copied by a thread of its own, so that a round trip to S3
    per file does not hold up Tune's loop. A folder whose copy fails goes back into the
    staging folder, and Tune's next upload copies it as it did before.
    """

    def __init__(self) -> None:
        self.waiting: list[tuple[str, pafs.FileSystem, str]] = []  # staging, storage fs, path

    def add(self, trials: Iterable) -> None:
        """Trials that ended: Tune's loggers have closed their files."""
        for trial in trials:
            self.waiting.append((trial.local_path, trial.storage.storage_filesystem, trial.path))

    def move(self) -> None:
        """Start moving the waiting trials' files; call only while no upload of the
        staging folder runs (``compat.staging_upload_idle``)."""
        global _copier
        if _copier is None:
            _copier = ThreadPoolExecutor(1, thread_name_prefix="raygan-logs")
        for staging, fs, path in self.waiting:
            # beside the staging folder, not in it: Tune uploads only the staging folder
            aside = Path(staging).parent.parent / "ended_trial_logs" / Path(staging).name
            try:
                aside.parent.mkdir(exist_ok=True)
                os.rename(staging, aside)
            except OSError:
                continue  # none written, or not movable: Tune's upload copies what there is
            _copier.submit(_copy_back_or_out, str(aside), fs, path, staging)
        self.waiting.clear()


def _copy_back_or_out(aside: str, fs: pafs.FileSystem, path: str, staging: str) -> None:
    try:
        fs.create_dir(path, recursive=True)
        pafs.copy_files(aside, path, destination_filesystem=fs, use_threads=False)
    except Exception as error:  # a thread's error is seen by no one unless said here
        try:
            os.rename(aside, staging)  # adding files under an upload fails nothing
            left = f"{staging}, for Tune's next upload of its staging folder"
        except OSError:
            left = aside
        _log.warning(
            f"[raygan] a trial's logger files were not copied to {path} ({error}); left in {left}"
        )
        return
    shutil.rmtree(aside, ignore_errors=True)


def wait_for_ended_trial_logs() -> None:
    """Wait until the ended trials' files handed to ``EndedTrialLogs`` are copied; called
    when Tune's run is over. (A copy that failed this late put its folder back in the
    staging folder after Tune's last upload: those files stay in Ray's session folder.)"""
    global _copier
    copier, _copier = _copier, None
    if copier is not None:
        copier.shutdown(wait=True)


@contextlib.contextmanager
def tune_console(*, quiet: bool) -> Iterator[None]:
    """While Tune runs: none of its own loggers (``tune_loggers`` are passed instead), and
    with ``quiet`` its older console flow, which prints nothing at verbosity 0."""
    wanted = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    if quiet:
        wanted["RAY_AIR_NEW_OUTPUT"] = "0"
    before = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    # quiet: Tune's own log lines too (a failed trial's traceback); raygan's line stays
    tune_log = logging.getLogger("ray.tune")
    level = tune_log.level
    if quiet:
        tune_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        tune_log.setLevel(level)
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
