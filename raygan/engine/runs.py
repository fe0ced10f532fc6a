"""Run directories: naming and claiming a new run, and what a resumed run keeps.

A run lies in ``<storage>/<name>/``: study.toml (the study as run), run.json (study,
profile, run name, raygan version, start time), optuna.journal, the Parquet tables and
tune/ (Tune's own state). A resumed run keeps the spec it was started with.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow.fs as pafs
from ray import tune

from raygan.claim import RunBusy, check_not_held, claim_new
from raygan.engine.errors import StudyError
from raygan.names import NAME_RE
from raygan.results import RunStore
from raygan.spec import SpecError, StudySpec, load_spec

# Tune's own state inside a run directory (trial checkpoints, logs, TensorBoard files);
# the search is one Tune experiment there, each validation attempt another
TUNE_DIR = "tune"
# Checkpoints Tune keeps per trial (each holds the kept round too, so the latest suffices).
# Two, not one: with num_to_keep=1 Tune snapshots the whole experiment (every trial) after
# each trial checkpoint, so that its snapshot never names a deleted checkpoint; with two it
# does so only after a trial's second checkpoint since the last snapshot.
CHECKPOINTS_KEPT = 2


def checkpoint_config() -> tune.CheckpointConfig:
    """Tune's checkpoint settings for search and validation trials: the latest
    CHECKPOINTS_KEPT checkpoints of each trial (raygan.engine.trainable decides which rounds
    make one; the latest holds the kept round too)."""
    return tune.CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT)


# Tune pickles the Recorder and the searcher with the run, and with them the absolute
# paths of the run directory and its Optuna journal. A run that was copied or moved since
# would go on writing into the directory it came from; while a run resumes, this names
# where it lies now, and the restored objects write there: (the run's RunStore, the
# OptunaStorage its Optuna study is in).
RESUMING: contextvars.ContextVar[tuple[RunStore, Any] | None] = contextvars.ContextVar(
    "raygan_resuming", default=None
)

Overrides = Sequence[str | tuple[str, str]]


def check_run_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise StudyError(f"--name: {name!r} must match {NAME_RE.pattern} (letters, digits, _ . -)")


def default_run_name(spec: StudySpec) -> str:
    return f"{spec.name}-{spec.profile}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# How long a Google Cloud Storage URI may take to answer before the study starts: Arrow's
# own retries go on for 15 minutes, silently, where there are no credentials.
GCS_CHECK_S = 10


# What names a secret anywhere after a URI's path (its ?query, ;params or #fragment), in
# any spelling or encoding: pyarrow's own options (secret_key, session_token) and those it
# refuses with the whole URI in its message (AWS_SECRET_..., access_token). No pyarrow
# option without a secret holds these words but GCS's credential_token_expiration.
SECRET_WORDS = re.compile(r"key|secret|token|password|credential", re.IGNORECASE)


def check_no_credentials(storage: str) -> None:
    """Raises StudyError, repeating nothing of the URI, for a storage URI that carries
    credentials: a run records its URI, and prints it."""
    if "://" not in storage:
        return
    rest = storage.split("://", 1)[1]
    netloc = rest.split("/", 1)[0]
    tail = re.split(r"[?;#]", rest, maxsplit=1)[1:]
    found = []
    if "@" in netloc:
        found.append("a user name or password before the host")
    if tail and SECRET_WORDS.search(unquote(tail[0])):
        found.append("a query option named like a key, secret, token, password or credential")
    if found:
        raise StudyError(
            f"--storage: the URI carries credentials ({'; '.join(found)}), which the run "
            "would record and print; give them in the environment (for S3: "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or a role instead"
        )


def open_store(storage: str, name: str) -> RunStore:
    if not storage.strip():  # an unset variable in a script: not the current directory
        raise StudyError(f"--storage: {storage!r} is empty; give a directory or a URI")
    check_no_credentials(storage)
    try:
        store = RunStore(storage, name)
        if isinstance(store.fs, pafs.GcsFileSystem) and "retry_limit_seconds" not in storage:
            limit = f"retry_limit_seconds={GCS_CHECK_S}"
            uri = f"{storage}&{limit}" if "?" in storage else f"{storage}?{limit}"
            probe, path = pafs.FileSystem.from_uri(uri)
            probe.get_file_info(path)
    except (OSError, ValueError) as e:  # pyarrow: unknown scheme, unreachable bucket, ...
        # the first line: pyarrow follows some (HDFS without a JVM) with every path it tried
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StudyError(f"--storage: {storage!r}: {first}") from None
    if type(store.fs).__name__ == "_MockFileSystem":  # pyarrow's mock:// test filesystem
        raise StudyError(
            f"--storage: {storage!r}: pyarrow's in-memory filesystem is this process's "
            "alone, and Ray's workers write the run too; give a directory or an s3://, "
            "gs:// or hdfs:// URI"
        )
    return store


def tensorboard_command(store: RunStore) -> str:
    """The command that shows the run's Tune logs; its path quoted (one with spaces pastes
    whole)."""
    return f"tensorboard --logdir {shlex.quote(store.uri(TUNE_DIR))}"


def claim(storage: str, store: RunStore, *, by_default: bool) -> RunStore:
    """Claim a new run's directory. A default name (one-second resolution) that another
    run took in the same second gets a suffix, -2, -3, ...; a name the user gave is
    refused."""
    base = store.name
    for attempt in range(1, 1000):
        try:
            claim_new(store)
            _forget_cached_journal(store)
            return store
        except OSError as e:  # a local directory that cannot be made: a file in the path, ...
            raise StudyError(
                f"--storage: {storage!r}: cannot create {store.location} ({e.strerror or e})"
            ) from None
        except RunBusy as e:
            if not by_default:
                try:  # say so when it is in use, rather than suggest --resume
                    check_not_held(store)
                except RunBusy as busy:
                    raise StudyError(f"--name: {busy}; choose another --name") from None
                raise StudyError(
                    f"--name: {e}; add --resume to continue it, or choose another --name"
                ) from None
        store = open_store(storage, f"{base}-{attempt + 1}")
    raise StudyError(f"--name: runs {base} to {base}-999 all exist; give --name")


# run.json's key for when the study ended: its final tables, summary and report written
FINISHED = "finished"


def write_run_facts(store: RunStore, facts: dict) -> None:
    """Write the run's run.json: ``facts``, as a person reads them."""
    store.write_text("run.json", json.dumps(facts, indent=2) + "\n")


def mark_finished(store: RunStore) -> None:
    """Note in the run's run.json when the study ended, so that a ``--resume`` of it says
    there is nothing left to run instead of starting Ray to find that out."""
    facts = json.loads(store.read_text("run.json") or "{}")
    facts[FINISHED] = datetime.now(UTC).isoformat(timespec="seconds")
    write_run_facts(store, facts)


def newest_unfinished_run(storage: str, study: str) -> str | None:
    """The name of the newest run of ``study`` under ``storage`` (a directory or a URI; by
    run.json's start time) that has not finished; None if there is none. Raises
    StudyError for a storage that cannot hold runs, as ``open_store`` does."""
    store = open_store(storage, "any")  # its parent is the storage directory
    fs, base = store.fs, store.root.rpartition("/")[0]
    try:
        folders = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    except OSError:  # a file where the storage directory should be
        return None
    started: list[tuple[str, str]] = []
    for folder in folders:
        if folder.type != pafs.FileType.Directory:
            continue
        try:
            with fs.open_input_stream(f"{folder.path}/run.json") as meta:
                facts = json.loads(meta.read().decode("utf-8"))
        except (OSError, ValueError):
            continue  # not a run, or one still being written
        if isinstance(facts, dict) and facts.get("study") == study and FINISHED not in facts:
            started.append((str(facts.get("created", "")), folder.base_name))
    return max(started)[1] if started else None


def saved_run(storage: str, name: str) -> dict:
    """What ``run.json`` of the run ``storage``/``name`` says (study, profile, run, ...);
    StudyError when there is no run there to resume."""
    check_run_name(name)
    return saved_facts(open_store(storage, name))


def saved_facts(store: RunStore) -> dict:
    meta = store.read_text("run.json")
    if meta is None or not store.has("study.toml"):
        try:  # a run claimed a moment ago, still being set up
            check_not_held(store)
        except RunBusy as e:
            raise StudyError(f"--name: {e}; wait for it to end") from None
        raise StudyError(f"--resume: no run to resume at {store.location}")
    facts = json.loads(meta)
    if facts.get("optuna_storage") is None:  # else the study is where --optuna-storage says
        check_journal_reachable(store)
    return facts


def check_journal_reachable(store: RunStore) -> None:
    """StudyError when a run on a URI, its Optuna study in its own journal, has trials but
    the journal is neither in the run directory nor in this machine's cache: it is
    uploaded when the search ends, so a search stopped before that resumes only where its
    driver ran. Without it, Tune's restored searcher would wait forever for its study."""
    if store.local_path is not None or _cached_journal(store).exists():
        return
    if store.has("optuna.journal"):
        return
    if store.has(f"{TUNE_DIR}/tuner.pkl") or store.part_count("trial"):
        raise StudyError(
            f"--resume: run {store.location} has no optuna.journal yet (it is uploaded when "
            "the search ends) and this machine has no copy: resume it on the machine whose "
            "driver started it (a run started with --optuna-storage resumes anywhere)"
        )


def local_journal(store: RunStore) -> Path:
    """Where the Optuna journal is written while the study runs.

    Optuna's journal needs a local file (it locks it). A local run keeps it in the run
    directory; a run on a URI keeps it in a cache on the driver's machine (a --resume from
    elsewhere starts from the copy uploaded at the end of the last run).
    """
    if store.local_path is not None:
        return store.local_path / "optuna.journal"
    path = _cached_journal(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() and (saved := store.read_text("optuna.journal")) is not None:
        path.write_text(saved, encoding="utf-8")
    return path


def _cached_journal(store: RunStore) -> Path:
    """Where this machine keeps the Optuna journal of the run on a URI at ``store``."""
    digest = hashlib.sha1(store.location.encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "raygan" / "journals" / f"{digest}.journal"


def _forget_cached_journal(store: RunStore) -> None:
    """A new run on a URI starts without a journal (and report cache) on this machine: an
    earlier run at the same location, whose directory was deleted since, would otherwise
    hand its Optuna trials on to the new run."""
    if store.local_path is None:
        path = _cached_journal(store)
        path.unlink(missing_ok=True)
        shutil.rmtree(path.with_suffix(""), ignore_errors=True)


def resumed_spec(storage: str, name: str, overrides: Overrides) -> StudySpec:
    """The spec the run ``storage``/``name`` resumes with: its own study.toml; an override
    that changes any value is refused (StudyError naming the flag and the value kept)."""
    store = open_store(storage, name)
    return spec_of_run(store, saved_run(storage, name), overrides)


def spec_of_run(store: RunStore, meta: dict, overrides: Overrides) -> StudySpec:
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
        raise _kept(overrides, _override_key(overrides[-1]), before) from None
    after = _flat(asked.document)
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            raise _kept(overrides, key, before)
    return saved


def _override_key(item: str | tuple[str, str]) -> str:
    return (item if isinstance(item, str) else item[0]).partition("=")[0].strip()


def _kept(overrides: Overrides, key: str, before: dict) -> StudyError:
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


def _label(overrides: Overrides, key: str) -> str:
    """How the user wrote the override that set ``key``: '--num-samples 4', '--set x=1'."""
    for item in reversed(overrides):  # the last one given wins, as in load_spec
        text, label = (item, f"--set {item}") if isinstance(item, str) else item
        target = text.partition("=")[0].strip()
        if key == target or key.startswith(target + "."):
            return label
    return key


def _saved_spec(store: RunStore, meta: dict, overrides: Overrides = ()) -> StudySpec:
    """The spec a run was started with, from its own study.toml (profile already applied)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.toml"
        path.write_text(store.read_text("study.toml") or "", encoding="utf-8")
        try:
            spec = load_spec(path, overrides=overrides)
        except SpecError as e:  # name the run's study.toml, not the temporary copy
            raise SpecError(str(e).replace(str(path), store.uri("study.toml"))) from None
    return replace(spec, name=meta["study"], profile=meta["profile"], path=store.uri("study.toml"))
