"""One process per run directory: a new run claims its directory atomically, and every
process that writes into a run (a start or a resume) holds the run's lock while it does.

Without this, two commands given the same ``--name`` a second apart both wrote into one
directory: two Tune experiment states, one Optuna journal with both studies' trials, rows
with the wrong trial indices. Here a new run's directory is made with an exclusive create
(``mkdir`` fails when it exists), and the lock is an advisory ``flock`` on ``.lock`` in the
run directory, which the kernel drops when the process dies, so a killed run leaves no
stale lock behind. A run on a URI (S3, GCS) is locked in a file on the driver's machine:
two drivers on different machines are not kept apart there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from raygan.results import RunStore

LOCK_FILE = ".lock"

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are claimed but not locked
    fcntl = None  # type: ignore[assignment]


class RunBusy(RuntimeError):
    """The run directory exists already, or another process holds its lock."""


def claim_new(store: RunStore) -> None:
    """Create the run directory of a new run; RunBusy if it exists (even half-made)."""
    if store.local_path is not None:
        store.local_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            store.local_path.mkdir()  # atomic: of two processes, one makes it
        except FileExistsError:
            raise RunBusy(f"run {store.location} already exists") from None
        return
    # object stores have no atomic create through pyarrow: a check, then the lock below
    if store.exists():
        raise RunBusy(f"run {store.location} already exists")
    store.makedirs()


def _lock_path(store: RunStore) -> Path:
    if store.local_path is not None:
        return store.local_path / LOCK_FILE
    digest = hashlib.sha1(store.location.encode()).hexdigest()[:12]
    path = Path.home() / ".cache" / "raygan" / "locks" / f"{digest}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def check_not_held(store: RunStore) -> None:
    """RunBusy (naming the holder's pid) if a process holds the run's lock. Writes
    nothing: a run without a lock file was never held by this version of raygan."""
    if _lock_path(store).exists():
        with hold_lock(store):
            pass


@contextlib.contextmanager
def hold_lock(store: RunStore) -> Iterator[None]:
    """Hold the run's lock for the duration; RunBusy (naming the holder's pid) if another
    process holds it."""
    path = _lock_path(store)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise RunBusy(
                    f"run {store.location} is in use by another raygan process (pid {holder})"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock
