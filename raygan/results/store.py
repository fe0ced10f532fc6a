"""A run directory on any pyarrow filesystem (a local path, file:///x, s3://bucket/prefix):
part files (``PART_KINDS``) while the study runs, consolidated tables at the end. In
<storage>/<name>/ (schemas: raygan.results.schema)::

    parts/trial-<trial_id>.parquet       one row: the trial as it ended
    parts/history-<trial_id>.parquet     one row per step, rewritten each round
    parts/replicate-<trial_id>.parquet   one row per replicate at the trial's kept step
    parts/validation-<trial_id>_v<n>.parquet
                                         one validation run of a front configuration
    parts/samples-<key>.parquet          a trial's (or validation run's) judged samples
    parts/sweep-<key>.parquet            a trial's kept model at each [sweep] point
                                         (<key>: the trial id, or <trial_id>-v<n>)
    parts/<kind>.parquet                 packed: every part of the kind, once the study
                                         has finished (a part_key column: each row's <key>)
    trials.parquet                       consolidated: one row per trial
    history.parquet                      every step of every trial
    pareto.parquet                       the completed trials on the Pareto front
    replicates.parquet                   every replicate of every trial
    validation.parquet                   the validation runs, once the front is validated
    baselines.parquet                    the experiment's generator-free scores, if any
    samples.parquet                      the stored samples, where the experiment makes any
    sweep.parquet                        one row per (trial, sweep point), with [sweep]

Parquet traps this module is built around: a file is unreadable until its writer closes it,
so every file is written under a temporary name and moved into place; and parts whose schemas
differ cannot be read as one data set, so each part is read on its own and conformed to the
spec's schema (raygan.results.schema).

Packing: a study of 1000 trials writes thousands of part files of a few rows each. Once its
consolidated tables are written, ``RunStore.pack_parts`` puts each kind's parts into one
``parts/<kind>.parquet`` and deletes them, so a finished run holds at most one part file per
kind. Readers see the same rows either way: a per-key file wins over the packed rows of its
key (one written after packing, as a resumed run's trial does, or one left by a process
killed between writing the packed file and deleting the per-key files).
"""

from __future__ import annotations

import contextlib
import numbers
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from raygan.names import NAME_RE
from raygan.results.location import join_location, split_location
from raygan.results.s3 import pickled_as_uri
from raygan.results.schema import (
    REQUIRED,
    TRIAL_STATUSES,
)

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    pass

PART_KINDS = ("trial", "history", "replicate", "validation", "samples", "sweep")
PART_KEY = "part_key"  # the packed file's column: the <key> of the part file each row came from
RESULT_FILES = ("trials.parquet", "history.parquet", "pareto.parquet", "replicates.parquet")
VALIDATION_FILE = "validation.parquet"
BASELINES_FILE = "baselines.parquet"


@dataclass
class StudyTables:
    """A run's consolidated tables, as written to its directory (schemas: results.schema)."""

    trials: pa.Table
    history: pa.Table
    pareto: pa.Table
    replicates: pa.Table
    validation: pa.Table | None = None  # validation.parquet, once the front is validated
    samples: pa.Table | None = None  # samples.parquet, where the experiment makes samples
    sweep: pa.Table | None = None  # sweep.parquet, where the study has a [sweep]


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns of `schema` in its order, by name: missing ones null, extra ones dropped.

    By name rather than table.cast(schema), which needs identical names in identical order:
    a part written before a metric was added must still be readable.
    """
    if table.schema.equals(schema):  # the usual case, and 10x cheaper than rebuilding
        return table
    present = set(table.column_names)
    columns = [
        table[f.name].cast(f.type) if f.name in present else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _keyed(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the packed file's ``part_key`` column last. Raises ValueError when
    ``schema`` has a column of that name already."""
    if PART_KEY in schema.names:
        raise ValueError(f"column {PART_KEY!r} is the packed part file's own")
    return schema.append(pa.field(PART_KEY, pa.string()))


def _with_key(table: pa.Table, key: str, keyed: pa.Schema) -> pa.Table:
    """A part's rows (conformed to the schema ``keyed`` extends) with ``key`` as part_key."""
    keys = pa.array([key] * len(table), type=pa.string())
    return pa.Table.from_arrays([*table.columns, keys], schema=keyed)


def _by_name(table: pa.Table) -> pa.Table:
    """Rows in the order their per-key files' names sort (as ``_part_paths`` lists them),
    a key's rows in their own order: the order of a run that never packed. By the file name
    ``<key>.parquet``, not the key: "t0-copy.parquet" sorts before "t0.parquet"."""
    names = [f"{key}.parquet" for key in table[PART_KEY].to_pylist()]
    order = sorted(range(len(names)), key=names.__getitem__)  # stable: a key keeps its order
    return table.take(pa.array(order, type=pa.int64()))


def _prepare_rows(rows: list[dict], schema: pa.Schema, trial_id: str) -> list[dict]:
    """Check rows against the schema and coerce what pyarrow would refuse or drop silently."""
    names = set(schema.names)
    floats = {f.name for f in schema if f.type == pa.float64()}
    strings = {f.name for f in schema if f.type == pa.string()}
    out = []
    for i, row in enumerate(rows):
        # from_pylist ignores unknown keys: a typo would lose a value without a word
        unknown = sorted(set(row) - names)
        if unknown:
            raise ValueError(f"row {i} of trial {trial_id}: unknown columns {unknown}")
        missing = [k for k in REQUIRED if k in names and row.get(k) is None]
        if missing:
            raise ValueError(f"row {i} of trial {trial_id}: no value for {missing}")
        if row.get("trial_id") != trial_id:
            raise ValueError(f"row {i} has trial_id {row.get('trial_id')!r}, part is {trial_id!r}")
        if "status" in names and row.get("status") not in TRIAL_STATUSES:
            raise ValueError(f"row {i}: status {row.get('status')!r} not in {TRIAL_STATUSES}")
        row = dict(row)
        for key, value in row.items():
            if value is None:
                continue
            if key in floats and isinstance(value, numbers.Real) and not isinstance(value, float):
                row[key] = float(value)  # 1 from a step() or a numpy int
            elif key in strings and not isinstance(value, str):
                row[key] = str(value)  # a categorical param whose choices mix types
        out.append(row)
    return out


class RunStore:
    """A run directory <storage>/<name>/ on any pyarrow filesystem (local path or URI).

    Raises ValueError for a run name, part kind, part key or relative path that could
    leave the run directory or is not a plain file name.
    """

    def __init__(self, storage: str, name: str):
        if not NAME_RE.match(name):
            raise ValueError(f"run name {name!r} must match {NAME_RE.pattern}")
        storage = str(storage)
        self.name = name  # the run directory's own name
        if "://" in storage:
            self.fs, base = pafs.FileSystem.from_uri(storage)
            if not base.strip("/"):
                raise ValueError("no bucket or directory after the scheme (e.g. s3://bucket/runs)")
            if isinstance(self.fs, pafs.S3FileSystem):  # pickled without endpoint or keys
                self.fs = pickled_as_uri(self.fs, storage)
            self.location = join_location(storage, name)
        else:
            self.fs = pafs.LocalFileSystem()
            base = str(Path(storage).expanduser().absolute())
            self.location = f"{base.rstrip('/')}/{name}"
        self.root = f"{base.rstrip('/')}/{name}"
        local = isinstance(self.fs, pafs.LocalFileSystem)
        self.local_path: Path | None = Path(self.root) if local else None

    def uri(self, relpath: str) -> str:
        """Where ``relpath`` inside the run directory is, as a user would open it: a local
        path (a ``file://`` run's too: TensorBoard and a shell take paths), or a URI with
        the storage URI's query kept last."""
        if self.local_path is not None:
            return join_location(str(self.local_path), relpath)
        return join_location(self.location, relpath)

    def tune_storage(self) -> tuple[str, pafs.FileSystem | None]:
        """The run directory as Tune's ``storage_path`` and ``storage_filesystem``. For a
        URI, this store's filesystem and its path: Tune's own, opened from the URI, would
        pickle an S3 endpoint into every snapshot it writes into the run directory, and
        Tune appends its folders to a URI after any ``?query``."""
        if "://" in self.location:
            return self.root, self.fs
        return self.location, None

    @classmethod
    def at(cls, location: str) -> RunStore:
        """The store of the run directory at ``location`` (a RunStore's ``location``)."""
        return cls(*split_location(location))

    def __repr__(self) -> str:
        return f"RunStore({self.location!r})"

    def _path(self, relpath: str) -> str:
        parts = relpath.split("/")
        if not relpath or relpath.startswith("/") or ".." in parts or "" in parts:
            raise ValueError(f"{relpath!r} must be a relative path inside the run directory")
        return f"{self.root}/{relpath}"

    def _atomic(self, path: str, write: Callable[[str], None]) -> None:
        """write(tmp) then move tmp onto path: readers see the old file or the new, whole.

        A local move is a rename (atomic); on object stores a move is copy + delete, but an
        object appears only once fully uploaded, so readers still never see half a file.
        """
        parent, _, base = path.rpartition("/")
        self.fs.create_dir(parent, recursive=True)
        tmp = f"{parent}/.{base}.{uuid.uuid4().hex}.tmp"  # leading dot: never a part name
        try:
            write(tmp)
            self.fs.move(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):  # the original error matters, not this one
                self.fs.delete_file(tmp)
            raise

    def _is_file(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.File

    def exists(self) -> bool:
        selector = pafs.FileSelector(self.root, allow_not_found=True)
        try:
            return len(self.fs.get_file_info(selector)) > 0
        except NotADirectoryError:  # a file where the run directory should be
            return True

    def remove(self) -> None:
        """Delete the run directory and everything in it (nothing if it is absent)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.root)

    def makedirs(self) -> None:
        self.fs.create_dir(f"{self.root}/parts", recursive=True)

    def write_text(self, relpath: str, text: str) -> None:
        self.write_bytes(relpath, text.encode("utf-8"))

    def write_bytes(self, relpath: str, data: bytes) -> None:
        def write(tmp: str) -> None:
            with self.fs.open_output_stream(tmp) as f:
                f.write(data)

        self._atomic(self._path(relpath), write)

    def has(self, relpath: str) -> bool:
        """Whether the run directory holds the file ``relpath``."""
        return self._is_file(self._path(relpath))

    def read_text(self, relpath: str) -> str | None:
        path = self._path(relpath)
        if not self._is_file(path):
            return None
        with self.fs.open_input_stream(path) as f:
            return f.read().decode("utf-8")

    def _part_path(self, kind: str, key: str) -> str:
        if kind not in PART_KINDS:
            raise ValueError(f"part kind {kind!r} must be one of {PART_KINDS}")
        if not NAME_RE.match(str(key)):
            raise ValueError(f"part key {key!r} must match {NAME_RE.pattern}")
        return f"{self.root}/parts/{kind}-{key}.parquet"

    def _packed_path(self, kind: str) -> str:
        if kind not in PART_KINDS:
            raise ValueError(f"part kind {kind!r} must be one of {PART_KINDS}")
        # "<kind>.parquet" never starts with "<kind>-": _part_paths does not list it
        return f"{self.root}/parts/{kind}.parquet"

    def _write_table(self, path: str, table: pa.Table) -> None:
        self._atomic(path, lambda tmp: pq.write_table(table, tmp, filesystem=self.fs))

    def _read_table(
        self, path: str, schema: pa.Schema, *, columns: list[str] | None = None
    ) -> pa.Table:
        # ParquetFile on one open file, not pq.read_table(path): no data set discovery; and
        # no pre-buffering or threads, which only cost time on files of a few rows
        with self.fs.open_input_file(path) as f:
            table = pq.ParquetFile(f, pre_buffer=False).read(columns=columns, use_threads=False)
        return _conform(table, schema)

    def write_part(
        self, kind: str, trial_id: str, rows: list[dict], schema: pa.Schema, *, key: str = ""
    ) -> None:
        """Rows of one trial as one part file, named by ``key`` (default: the trial id)."""
        path = self._part_path(kind, key or trial_id)
        table = pa.Table.from_pylist(_prepare_rows(rows, schema, trial_id), schema=schema)
        self._write_table(path, table)

    def read_part(self, kind: str, trial_id: str, schema: pa.Schema) -> list[dict]:
        """The rows of the part ``trial_id`` (a part key), conformed to ``schema``: its own
        file where there is one, else its rows in the packed file; [] when neither."""
        path = self._part_path(kind, trial_id)
        if self._is_file(path):
            return self._read_table(path, schema).to_pylist()
        packed = self._read_packed(kind, _keyed(schema))
        packed = packed.filter(pc.equal(packed[PART_KEY], trial_id))
        return _conform(packed, schema).to_pylist()

    def _part_paths(self, kind: str) -> list[str]:
        if kind not in PART_KINDS:
            raise ValueError(f"part kind {kind!r} must be one of {PART_KINDS}")
        selector = pafs.FileSelector(f"{self.root}/parts", allow_not_found=True)
        return sorted(
            info.path
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.startswith(f"{kind}-")
            and info.base_name.endswith(".parquet")
        )

    def _part_files(self, kind: str) -> dict[str, str]:
        """{key: path} of the kind's per-key part files, in the order of their names."""
        prefix, suffix = f"{kind}-", ".parquet"
        return {
            path.rpartition("/")[2][len(prefix) : -len(suffix)]: path
            for path in self._part_paths(kind)
        }

    def _read_packed(self, kind: str, keyed: pa.Schema) -> pa.Table:
        """The packed file's rows conformed to ``keyed`` (part_key last); empty when the
        kind has not been packed."""
        path = self._packed_path(kind)
        if not self._is_file(path):
            return keyed.empty_table()
        return self._read_table(path, keyed)

    def part_keys(self, kind: str) -> set[str]:
        """The keys (trial ids, for trial parts) this kind has parts of, per-key files and
        packed together; of the packed file only its part_key column is read."""
        keys = set(self._part_files(kind))
        path = self._packed_path(kind)
        if self._is_file(path):
            only = pa.schema([pa.field(PART_KEY, pa.string())])
            keys.update(self._read_table(path, only, columns=[PART_KEY])[PART_KEY].to_pylist())
        return keys

    def part_count(self, kind: str) -> int:
        """How many parts (distinct keys: trials, for trial parts) this kind has."""
        return len(self.part_keys(kind))

    def _read_keyed(self, kind: str, schema: pa.Schema, files: dict[str, str]) -> pa.Table:
        """The rows of the per-key part files ``files`` ({key: path}) and the packed rows of
        every other key, conformed to ``schema`` with part_key last, in the order of the
        per-key files' names (``_by_name``)."""
        keyed = _keyed(schema)
        tables: list[pa.Table] = []
        read: set[str] = set()
        for key, path in files.items():
            try:
                table = self._read_table(path, schema)
            except FileNotFoundError:  # packed since it was listed: pack_parts writes the
                continue  # packed file first, so its rows are in the packed file read below
            tables.append(_with_key(table, key, keyed))
            read.add(key)
        packed = self._read_packed(kind, keyed)
        if read and packed.num_rows:  # a per-key file wins over the packed rows of its key
            written = pa.array(sorted(read), type=pa.string())
            packed = packed.filter(pc.invert(pc.is_in(packed[PART_KEY], value_set=written)))
        if not tables:
            return packed  # a finished run: written in this order by pack_parts
        table = pa.concat_tables(tables)
        return _by_name(pa.concat_tables([table, packed])) if packed.num_rows else table

    def read_parts(self, kind: str, schema: pa.Schema) -> pa.Table:
        """Every row of every part of this kind, per-key files and packed rows together
        (one of each key: a per-key file wins over the packed rows of its key), conformed to
        ``schema``, in the order of the per-key files' names; empty when there is none."""
        return _conform(self._read_keyed(kind, schema, self._part_files(kind)), schema)

    def pack_parts(self, kind: str, schema: pa.Schema) -> int:
        """Every part of this kind into one file, ``parts/<kind>.parquet``, with a
        ``part_key`` column (the <key> of each row's part file); then the per-key files
        that went into it are deleted. Returns how many were packed: 0 when there is none
        (a kind without parts, or packed already: the packed file is left as it is).

        Rows are conformed to ``schema``: columns it lacks are dropped, as every reader
        drops them; pass the schema the consolidated table was made with. For a run no
        process writes parts of this kind into any more: a per-key file rewritten between
        reading and deleting would be lost. Raises ValueError for a schema with a
        ``part_key`` column.
        """
        files = self._part_files(kind)
        if not files:
            return 0
        self._write_table(self._packed_path(kind), self._read_keyed(kind, schema, files))
        # only now: killed before the deletions, the per-key files win over their packed
        # rows on reading (no row twice), and the next pack_parts packs them again
        for path in files.values():
            with contextlib.suppress(FileNotFoundError):  # gone already: nothing is lost
                self.fs.delete_file(path)
        return len(files)

    def write_table(self, relpath: str, rows: list[dict], schema: pa.Schema) -> None:
        """A small whole table (baselines.parquet), written atomically."""
        self._write_table(self._path(relpath), pa.Table.from_pylist(rows, schema=schema))

    def read_table(self, relpath: str, schema: pa.Schema) -> pa.Table | None:
        path = self._path(relpath)
        return self._read_table(path, schema) if self._is_file(path) else None

    def write_result(self, name: str, table: pa.Table) -> None:
        """A consolidated table (``name``: its file name in the run directory), atomically."""
        self._write_table(self._path(name), table)
