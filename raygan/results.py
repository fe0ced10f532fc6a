"""Parquet results of a study run: one part file per trial while it runs, three tables at the end.

A run directory, on any pyarrow filesystem (a local path, file:///x, s3://bucket/prefix)::

    <storage>/<name>/parts/trial-<trial_id>.parquet     one row: the trial as it ended
    <storage>/<name>/parts/history-<trial_id>.parquet   one row per step, rewritten each round
    <storage>/<name>/trials.parquet                     consolidated: one row per trial
    <storage>/<name>/history.parquet                    every step of every trial
    <storage>/<name>/pareto.parquet                     the completed trials on the Pareto front

Parquet traps this module is built around: a file is unreadable until its writer closes it,
so every file is written under a temporary name and moved into place; and parts whose schemas
differ cannot be read as one data set, so the schema is fixed by the spec (metrics always
float64, every column nullable) and each part is read on its own and conformed to it.
Plain Parquet only (no extension types): pandas, pyarrow and DuckDB all read it.
"""

from __future__ import annotations

import contextlib
import numbers
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    from raygan.spec import Param, StudySpec

TRIAL_STATUSES = ("completed", "stopped", "failed")  # stopped: ended early, never on the front
PART_KINDS = ("trial", "history", "replicate", "validation")
RESULT_FILES = ("trials.parquet", "history.parquet", "pareto.parquet", "replicates.parquet")
VALIDATION_FILE = "validation.parquet"
# Every part row must say which trial it belongs to; everything else may be unknown (a trial
# that errors before it starts still gets a row, recorded from the engine's callback).
IDENTITY = [
    ("study", pa.string()),
    ("run", pa.string()),
    ("trial_id", pa.string()),
    ("trial_index", pa.int64()),
]
REQUIRED = tuple(name for name, _ in IDENTITY)
# trial ids and run names become file and directory names
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
PARETO_CHUNK = 2**22  # cells of each comparison matrix in pareto_mask: bounds its memory

# -----------------------------------------------------------------------------
# schemas


def _param_type(p: Param) -> pa.DataType:
    if p.type == "int":
        return pa.int64()
    if p.type in ("float", "logfloat"):
        return pa.float64()
    choices = p.choices
    if all(isinstance(c, bool) for c in choices):
        return pa.bool_()
    if all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        return pa.int64()
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices):
        return pa.float64()
    return pa.string()  # mixed choices: stored as str(value)


def _schema(head: list, metric_names: Sequence[str], tail: list) -> pa.Schema:
    fields = head + [(m, pa.float64()) for m in metric_names] + tail
    names = [name for name, _ in fields]
    # pa.schema accepts duplicate names, and then nothing can select the column
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"result columns {clashes} appear twice (a metric named like a column?)")
    return pa.schema(fields)


# A matrix metric (a confusion matrix, say) is a list of rows of numbers.
MATRIX = pa.list_(pa.list_(pa.float64()))


def spread_names(metric_names: Sequence[str]) -> list[str]:
    """The ``<metric>_std`` column of each metric: its standard deviation over replicates."""
    return [f"{m}_std" for m in metric_names]


def trial_schema(
    spec: StudySpec, metric_names: Sequence[str], matrix_names: Sequence[str] = ()
) -> pa.Schema:
    """One row per trial (a configuration): identity, params, metrics (each the mean over
    the trial's replicates; null when failed), their standard deviations, run facts,
    pareto, and validated_front: true for a front configuration whose validated means
    stay on the front (false for every other row, and for every row of a study that
    validated nothing)."""
    head = [*IDENTITY, ("status", pa.string()), ("error", pa.string()), ("seed", pa.int64())]
    head += [(f"param_{p.name}", _param_type(p)) for p in spec.search]
    tail = [
        *((name, pa.float64()) for name in spread_names(metric_names)),
        ("n_replicates", pa.int64()),
        ("steps", pa.int64()),
        ("num_steps", pa.int64()),
        ("kept_step", pa.int64()),  # the step whose metrics the row holds ([result] round)
        ("wall_time_s", pa.float64()),
        ("peak_rss_mb", pa.float64()),  # of the worker process, over every trial it ran
        ("cpus", pa.float64()),
        ("gpus", pa.float64()),
        ("node", pa.string()),
        ("node_id", pa.string()),  # node IPs repeat when several Ray nodes share a machine
        ("device", pa.string()),  # cpu or cuda: what the trial actually ran on
        ("retries", pa.int64()),
        ("raygan_version", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),  # of the attempt that finished it
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("pareto", pa.bool_()),
        ("validated_front", pa.bool_()),
    ]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names] + tail)


def replicate_schema(
    spec: StudySpec, metric_names: Sequence[str], matrix_names: Sequence[str] = ()
) -> pa.Schema:
    """One row per replicate of a trial: its seed and its own metrics at the trial's kept
    step (the trial's row holds their mean)."""
    head = [*IDENTITY, ("replicate", pa.int64()), ("seed", pa.int64()), ("kept_step", pa.int64())]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names])


def validation_schema(
    spec: StudySpec, metric_names: Sequence[str], matrix_names: Sequence[str] = ()
) -> pa.Schema:
    """One row per validation run: a front configuration (the search trial's identity and
    params) re-trained after the search with a fresh seed, scored at its kept step."""
    head = [
        *IDENTITY,
        ("validation_run", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("seed", pa.int64()),
        ("kept_step", pa.int64()),
    ]
    head += [(f"param_{p.name}", _param_type(p)) for p in spec.search]
    tail = [
        ("wall_time_s", pa.float64()),
        ("node", pa.string()),
        ("raygan_version", pa.string()),
        ("finished_at", pa.timestamp("us", tz="UTC")),
    ]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names] + tail)


def baseline_schema(metric_names: Sequence[str], matrix_names: Sequence[str] = ()) -> pa.Schema:
    """One row per baseline an experiment computes once per study (no generator involved)."""
    head = [("study", pa.string()), ("run", pa.string()), ("baseline", pa.string())]
    return _schema(head, metric_names, [(m, MATRIX) for m in matrix_names])


def history_schema(spec: StudySpec, metric_names: Sequence[str]) -> pa.Schema:
    """One row per step of a trial; time_s is seconds since the trial started."""
    tail = [*((n, pa.float64()) for n in spread_names(metric_names))]
    tail += [("time_s", pa.float64()), ("node", pa.string())]
    return _schema([*IDENTITY, ("step", pa.int64())], metric_names, tail)


# -----------------------------------------------------------------------------
# Pareto front


def pareto_mask(values: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """True for rows no other row dominates (at least as good everywhere, better somewhere).

    A row with a NaN is never on the front and dominates nothing; exact ties both stay.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(modes):
        raise ValueError(f"values of shape {values.shape} need 2 dims and {len(modes)} columns")
    bad = [m for m in modes if m not in ("max", "min")]
    if bad:
        raise ValueError(f"modes {bad} must be 'max' or 'min'")
    # orient every objective so that larger is better
    signs = np.array([1.0 if m == "max" else -1.0 for m in modes])
    valid = ~np.isnan(values).any(axis=1)
    v = values[valid] * signs
    n, k = v.shape
    dominated = np.zeros(n, dtype=bool)
    # Block of rows against every row, one objective at a time: two (chunk, n) boolean
    # matrices instead of a (chunk, n, k) one, and over 10x faster at n = 10k.
    chunk = max(1, PARETO_CHUNK // max(1, n))
    for start in range(0, n, chunk):
        rows = v[start : start + chunk]
        ge = np.ones((len(rows), n), dtype=bool)  # other row >= this one in every objective
        gt = np.zeros((len(rows), n), dtype=bool)  # other row > this one in some objective
        for j in range(k):
            other, this = v[None, :, j], rows[:, j, None]
            ge &= other >= this
            gt |= other > this
        dominated[start : start + chunk] = (ge & gt).any(axis=1)
    mask = np.zeros(len(values), dtype=bool)
    mask[valid] = ~dominated
    return mask


def objective_values(spec: StudySpec, table: pa.Table) -> np.ndarray:
    """(rows, objectives) float64: what the Pareto front sees of each row (its
    ``spec.objective_value``, the aggregate over replicates); nulls become NaN."""
    columns = []
    for o in spec.objectives:
        value = table[o.metric].to_numpy(zero_copy_only=False).astype(np.float64)
        if spec.aggregate == "pessimistic":
            std = table[f"{o.metric}_std"].to_numpy(zero_copy_only=False).astype(np.float64)
            std = np.nan_to_num(std)  # one replicate: no spread known
            value = value - std if o.mode == "max" else value + std
        columns.append(value)
    return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))


def validated_means(spec: StudySpec, validation: pa.Table) -> dict[str, list]:
    """Per validated configuration (completed validation runs only): ``trial_id``,
    ``trial_index``, ``runs``, ``<objective>`` means and ``<objective>_std`` (sample std,
    ddof 1; NaN with one run), and ``validated_front``: not dominated by another validated
    configuration's means (the aggregate the study uses, as in the search)."""
    rows = [r for r in validation.to_pylist() if r["status"] == "completed"]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["trial_id"], []).append(r)
    out: dict[str, list] = {"trial_id": [], "trial_index": [], "runs": [], "validated_front": []}
    for o in spec.objectives:
        out[o.metric], out[f"{o.metric}_std"] = [], []
    points = []
    for tid, runs in groups.items():
        out["trial_id"].append(tid)
        out["trial_index"].append(runs[0]["trial_index"])
        out["runs"].append(len(runs))
        point = []
        for o in spec.objectives:
            values = np.array([r[o.metric] for r in runs], dtype=np.float64)
            mean = float(values.mean())
            std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            out[o.metric].append(mean)
            out[f"{o.metric}_std"].append(std)
            point.append(
                spec.objective_value(
                    o, {o.metric: mean, f"{o.metric}_std": std if len(values) > 1 else None}
                )
            )
        points.append(point)
    mask = pareto_mask(
        np.asarray(points, dtype=np.float64).reshape(-1, len(spec.objectives)),
        [o.mode for o in spec.objectives],
    )
    out["validated_front"] = [bool(m) for m in mask]
    return out


def hypervolume(values: np.ndarray, modes: Sequence[str], reference: Sequence[float]) -> float:
    """Area of objective space the points dominate, bounded by ``reference`` (2 objectives).

    For validity "max" and memorization "min" with reference (0, 1): the area of the union of
    the boxes [0, validity] x [memorization, 1]. Larger is better; a search that finds a
    point better in both objectives always gains. Rows with a NaN, and points no better than
    the reference in both objectives, add nothing.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(modes))
    if len(modes) != 2 or len(reference) != 2:
        raise ValueError(f"hypervolume takes 2 objectives, not {len(modes)}")
    # orient both objectives to minimization: a max objective's values and reference negate
    signs = np.array([-1.0 if m == "max" else 1.0 for m in modes])
    v = values[~np.isnan(values).any(axis=1)] * signs
    ref = np.asarray(reference, dtype=np.float64) * signs
    v = v[(v < ref).all(axis=1)]
    area, best_y = 0.0, ref[1]
    for x, y in v[np.lexsort((v[:, 1], v[:, 0]))]:  # by x, then y: a sweep over the front
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(area)


# -----------------------------------------------------------------------------
# the run directory


@dataclass
class StudyTables:
    trials: pa.Table
    history: pa.Table
    pareto: pa.Table
    replicates: pa.Table
    validation: pa.Table | None = None  # validation.parquet, once the front is validated


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
    """A run directory <storage>/<name>/ on any pyarrow filesystem (local path or URI)."""

    def __init__(self, storage: str, name: str):
        if not NAME_RE.match(name):
            raise ValueError(f"run name {name!r} must match {NAME_RE.pattern}")
        storage = str(storage)
        self.name = name  # the run directory's own name
        if "://" in storage:
            self.fs, base = pafs.FileSystem.from_uri(storage)
            self.location = f"{storage.rstrip('/')}/{name}"
        else:
            self.fs = pafs.LocalFileSystem()
            base = str(Path(storage).expanduser().absolute())
            self.location = f"{base.rstrip('/')}/{name}"
        self.root = f"{base.rstrip('/')}/{name}"
        local = isinstance(self.fs, pafs.LocalFileSystem)
        self.local_path: Path | None = Path(self.root) if local else None

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
        def write(tmp: str) -> None:
            with self.fs.open_output_stream(tmp) as f:
                f.write(text.encode("utf-8"))

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

    def _write_table(self, path: str, table: pa.Table) -> None:
        self._atomic(path, lambda tmp: pq.write_table(table, tmp, filesystem=self.fs))

    def _read_table(self, path: str, schema: pa.Schema) -> pa.Table:
        # ParquetFile on one open file, not pq.read_table(path): no data set discovery; and
        # no pre-buffering or threads, which only cost time on files of a few rows
        with self.fs.open_input_file(path) as f:
            return _conform(pq.ParquetFile(f, pre_buffer=False).read(use_threads=False), schema)

    def write_part(
        self, kind: str, trial_id: str, rows: list[dict], schema: pa.Schema, *, key: str = ""
    ) -> None:
        """Rows of one trial as one part file, named by ``key`` (default: the trial id)."""
        path = self._part_path(kind, key or trial_id)
        table = pa.Table.from_pylist(_prepare_rows(rows, schema, trial_id), schema=schema)
        self._write_table(path, table)

    def read_part(self, kind: str, trial_id: str, schema: pa.Schema) -> list[dict]:
        path = self._part_path(kind, trial_id)
        if not self._is_file(path):
            return []
        return self._read_table(path, schema).to_pylist()

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

    def part_count(self, kind: str) -> int:
        """How many trials have a part of this kind (no file is read)."""
        return len(self._part_paths(kind))

    def read_parts(self, kind: str, schema: pa.Schema) -> pa.Table:
        tables = [self._read_table(p, schema) for p in self._part_paths(kind)]
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def write_table(self, relpath: str, rows: list[dict], schema: pa.Schema) -> None:
        """A small whole table (baselines.parquet), written atomically."""
        self._write_table(self._path(relpath), pa.Table.from_pylist(rows, schema=schema))

    def read_table(self, relpath: str, schema: pa.Schema) -> pa.Table | None:
        path = self._path(relpath)
        return self._read_table(path, schema) if self._is_file(path) else None

    def consolidate(
        self,
        spec: StudySpec,
        metric_names: Sequence[str],
        *,
        run: str,
        matrix_names: Sequence[str] = (),
    ) -> StudyTables:
        """Parts of run `run` -> trials, history and pareto tables, written and returned.

        Rows of another run that wrote into this directory stay in parts/ but are left out.
        """
        missing = [o.metric for o in spec.objectives if o.metric not in metric_names]
        if missing:
            raise ValueError(f"objectives {missing} are not among the metrics {list(metric_names)}")
        trials = self.read_parts("trial", trial_schema(spec, metric_names, matrix_names))
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

        completed = pc.equal(trials["status"], "completed").to_numpy(zero_copy_only=False)
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

        history = self.read_parts("history", history_schema(spec, metric_names))
        history = history.filter(pc.equal(history["run"], run))
        history = history.sort_by([("trial_index", "ascending"), ("step", "ascending")])
        schema = replicate_schema(spec, metric_names, matrix_names)
        replicates = self.read_parts("replicate", schema)
        # only the replicates of the trial rows kept above (a retried trial's last attempt)
        ids = pa.array(trials["trial_id"].to_pylist(), type=pa.string())
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
        for name, table in zip(
            RESULT_FILES, (trials, history, tables.pareto, replicates), strict=True
        ):
            self._write_table(self._path(name), table)
        return tables

    def consolidate_validation(
        self,
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
        validation = self.read_parts(
            "validation", validation_schema(spec, metric_names, matrix_names)
        )
        validation = validation.filter(pc.equal(validation["run"], run))
        validation = validation.sort_by(
            [("trial_index", "ascending"), ("validation_run", "ascending")]
        )
        means = validated_means(spec, validation)
        kept = {
            tid: on for tid, on in zip(means["trial_id"], means["validated_front"], strict=True)
        }
        trials = tables.trials
        flags = pa.array(
            [kept.get(t, False) for t in trials["trial_id"].to_pylist()], type=pa.bool_()
        )
        trials = trials.set_column(
            trials.schema.get_field_index("validated_front"), "validated_front", flags
        )
        pareto = trials.filter(trials["pareto"])
        self._write_table(self._path(VALIDATION_FILE), validation)
        self._write_table(self._path("trials.parquet"), trials)
        self._write_table(self._path("pareto.parquet"), pareto)
        return StudyTables(
            trials=trials,
            history=tables.history,
            pareto=pareto,
            replicates=tables.replicates,
            validation=validation,
        )


# -----------------------------------------------------------------------------
# summary for people


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def plural(n: int, word: str) -> str:
    """'1 trial', '2 trials': ``n`` and ``word``, with an s unless ``n`` is 1."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _aligned(table: list[list[str]]) -> list[str]:
    """Rows of cells as lines, each column right-aligned to its widest cell."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]


def _mean_std(mean, std) -> str:
    if mean is None:
        return "-"
    if std is None or std != std:  # no spread known (one replicate or run)
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def gain_reference(baselines: pa.Table | None, name: str | None) -> dict | None:
    """The baseline row named ``name`` (the experiment's ``gain_baseline``), or None."""
    if baselines is None or name is None:
        return None
    return next((r for r in baselines.to_pylist() if r["baseline"] == name), None)


def signed(value, std=None) -> str:
    """A difference with its sign, three decimals, ``± std`` where a spread is known."""
    text = _mean_std(value, std)
    return text if text.startswith("-") else "+" + text


def format_summary(
    tables: StudyTables,
    spec: StudySpec,
    *,
    location: str,
    wall_s: float | None = None,
    validation_s: float | None = None,
    gain_from: dict | None = None,
) -> str:
    """A few lines a person reads at the end of a study: counts, the front (means and
    spreads over replicates, and with ``gain_from``, a baseline row, each objective's gain
    over that baseline), the validated front, failures, files. ``wall_s``: the search's
    wall time in seconds; ``validation_s``: the front validation's, after it."""
    rows = tables.trials.to_pylist()
    counts = {s: sum(r["status"] == s for r in rows) for s in TRIAL_STATUSES}
    head = f"{spec.name} (profile {spec.profile}): {plural(len(rows), 'trial')}: "
    head += ", ".join(f"{counts[s]} {s}" for s in ("completed", "failed", "stopped"))
    if wall_s is not None:
        head += f" in {_duration(wall_s)}"
    if validation_s is not None:
        head += f", then {_duration(validation_s)} of validation"
    lines = [head]

    objectives = ", ".join(f"{o.metric} {o.mode}" for o in spec.objectives)
    front = tables.pareto.to_pylist()
    best = spec.result_round == "best"
    notes = ["each trial at its best step"] * best
    if spec.replicates > 1:
        notes.append(f"mean ± std over {spec.replicates} replicates")
    if spec.aggregate == "pessimistic":
        notes.append("the front ranked by mean - std (max) and mean + std (min)")
    each = "".join(f", {n}" for n in notes)
    lines.append(f"Pareto front ({plural(len(front), 'trial')}{each}): {objectives}")
    if front:
        first = spec.objectives[0]
        sign = -1.0 if first.mode == "max" else 1.0
        front.sort(key=lambda r: (sign * r[first.metric], r["trial_index"]))
        reference = gain_from or {}
        gained = [o for o in spec.objectives if reference.get(o.metric) is not None]
        header = ["trial"] + [o.metric for o in spec.objectives]
        header += [f"gain over {reference['baseline']}" for _ in gained]
        header += ["step"] * best + [p.name for p in spec.search]
        table = [header]
        for r in front:
            cells = [str(r["trial_index"])]
            cells += [_mean_std(r[o.metric], r.get(f"{o.metric}_std")) for o in spec.objectives]
            cells += [
                signed(r[o.metric] - reference[o.metric], r.get(f"{o.metric}_std")) for o in gained
            ]
            cells += [_cell(r["kept_step"])] * best
            cells += [_cell(r[f"param_{p.name}"]) for p in spec.search]
            table.append(cells)
        lines += _aligned(table)
    if tables.validation is not None:
        lines += _validated_lines(tables, spec, gain_from)

    failed = sorted((r for r in rows if r["status"] == "failed"), key=lambda r: r["trial_index"])
    for r in failed[:5]:
        error = (r["error"] or "").strip().splitlines()
        reason = error[0] if error else "(no error message)"
        if len(reason) > 100:
            reason = reason[:97] + "..."
        lines.append(f"failed: trial {r['trial_index']}: {reason}")
    if len(failed) > 5:
        lines.append(f"... {len(failed) - 5} more")

    files = list(RESULT_FILES) + [VALIDATION_FILE] * (tables.validation is not None)
    lines += [f"results: {location.rstrip('/')}/", f"  {', '.join(files)}"]
    return "\n".join(lines)


def _validated_lines(tables: StudyTables, spec: StudySpec, gain_from: dict | None) -> list[str]:
    """The front configurations' search scores beside their validated means and spreads
    (and the validated gain over ``gain_from``, a baseline row, where it has the metric)."""
    means = validated_means(spec, tables.validation)
    at = {tid: i for i, tid in enumerate(means["trial_id"])}
    failed = sum(s == "failed" for s in tables.validation["status"].to_pylist())
    head = (
        f"Validated front ({plural(spec.validate, 'fresh seed')} per configuration, "
        "none used in the search, each scored at its kept step"
    )
    head += f"; {plural(failed, 'run')} failed):" if failed else "):"
    reference = gain_from or {}
    gained = [o for o in spec.objectives if reference.get(o.metric) is not None]
    table = [["trial"]]
    for o in spec.objectives:
        table[0] += [f"{o.metric} search", "validated"]
    table[0] += [f"validated gain over {reference['baseline']}" for _ in gained] + ["front"]
    first = spec.objectives[0]
    sign = -1.0 if first.mode == "max" else 1.0
    front = sorted(
        tables.pareto.to_pylist(), key=lambda r: (sign * r[first.metric], r["trial_index"])
    )
    for r in front:  # in the front table's order
        i = at.get(r["trial_id"])
        cells = [str(r["trial_index"])]
        for o in spec.objectives:
            cells.append(_mean_std(r[o.metric], r.get(f"{o.metric}_std")))
            cells.append(
                "-" if i is None else _mean_std(means[o.metric][i], means[f"{o.metric}_std"][i])
            )
        for o in gained:
            std = means[f"{o.metric}_std"][i] if i is not None else None
            cells.append(
                "-" if i is None else signed(means[o.metric][i] - reference[o.metric], std)
            )
        if i is None:
            cells.append("not validated")
        else:
            cells.append("stays" if means["validated_front"][i] else "falls off")
        table.append(cells)
    return [head, *_aligned(table)]


def format_baselines(table: pa.Table, spec: StudySpec, *, max_columns: int = 6) -> str:
    """The baselines as a small aligned table: objectives first, then other scalar metrics
    any baseline has, at most `max_columns` of them."""
    rows = table.to_pylist()
    objectives = [o.metric for o in spec.objectives]
    skip = {"study", "run", "baseline"}
    scalars = [
        f.name
        for f in table.schema
        if f.name not in skip
        and f.type == pa.float64()
        and any(r[f.name] is not None for r in rows)
    ]
    columns = (
        [m for m in objectives if m in scalars] + [m for m in scalars if m not in objectives]
    )[:max_columns]
    width = max(len("baseline"), *(len(r["baseline"]) for r in rows))
    lines = [
        "baselines (no generator):",
        "  " + "baseline".ljust(width) + "".join(f"  {c:>16}" for c in columns),
    ]
    for r in rows:
        cells = "".join(f"  {'-' if r[c] is None else f'{r[c]:.3f}':>16}" for c in columns)
        lines.append("  " + r["baseline"].ljust(width) + cells)
    return "\n".join(lines)
