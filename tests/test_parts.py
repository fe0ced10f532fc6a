"""Packed part files (RunStore.pack_parts): a finished run's parts of each kind in one
file, read as the per-key files were. Real Parquet files in a temporary run directory."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from raygan import load_spec
from raygan.experiments.seqgan import SeqGANExperiment
from raygan.results import (
    PART_KINDS,
    RunStore,
    consolidate,
    history_schema,
    replicate_schema,
    sample_schema,
    sweep_schema,
    trial_schema,
    validation_schema,
)

METRICS = list(SeqGANExperiment.metrics)
MATRICES = ["confusion"]  # a matrix column: the list-of-lists type survives packing too
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
# "t001-copy" sorts before "t001" by file name ("-" < "."), after it by key: the order of
# the rows read must be that of the per-key files' names, as before packing
KEYS = ["t000", "t001", "t001-copy", "t002", "t010"]


@pytest.fixture(scope="module")
def spec():
    return load_spec("seqgan_tradeoff", profile="smoke")  # has a [sweep]


def schemas(spec) -> dict[str, pa.Schema]:
    return {
        "trial": trial_schema(spec, METRICS, MATRICES),
        "history": history_schema(spec, METRICS),
        "replicate": replicate_schema(spec, METRICS, MATRICES),
        "validation": validation_schema(spec, METRICS, MATRICES),
        "samples": sample_schema(),
        "sweep": sweep_schema(spec, METRICS),
    }


@pytest.fixture
def store(tmp_path):
    store = RunStore(str(tmp_path), "run1")
    store.makedirs()
    return store


def _value(field: pa.Field, key: str, j: int, tag: str):
    i = int(key[1:4])
    t = field.type
    if field.name == "status":
        return "completed"
    if field.name == "error":
        return None  # a null survives packing
    if pa.types.is_string(t):
        return f"{field.name}-{key}-{tag}-{j}"
    if pa.types.is_integer(t):
        return i * 10 + j
    if pa.types.is_floating(t):
        return i + j / 10
    if pa.types.is_boolean(t):
        return (i + j) % 2 == 0
    if pa.types.is_timestamp(t):
        return T0 + dt.timedelta(seconds=i, milliseconds=j)
    if pa.types.is_binary(t):
        return tag.encode() + bytes([i, j])
    if pa.types.is_list(t):
        return [[float(i), float(j)], [float(j)]]
    raise AssertionError(f"no value for {field}")


def rows(schema: pa.Schema, key: str, n: int, *, tag: str = "a") -> list[dict]:
    """``n`` rows of the part ``key`` (of trial t<i>, the key's first 4 characters), every
    column set; the string columns name the key and ``tag``."""
    i = int(key[1:4])
    out = []
    for j in range(n):
        row = {f.name: _value(f, key, j, tag) for f in schema}
        out.append({**row, "study": "s", "run": "run1", "trial_id": key[:4], "trial_index": i})
    return out


def write(store: RunStore, kind: str, schema: pa.Schema, key: str, n: int, *, tag="a") -> None:
    store.write_part(kind, key[:4], rows(schema, key, n, tag=tag), schema, key=key)


def write_all(store: RunStore, spec) -> dict[str, pa.Table]:
    """A part of every kind for each of KEYS (1 to 3 rows; a trial part, one); returns
    read_parts of each."""
    for kind, schema in schemas(spec).items():
        for n, key in enumerate(KEYS):
            write(store, kind, schema, key, 1 if kind == "trial" else 1 + n % 3)
    return {kind: store.read_parts(kind, schema) for kind, schema in schemas(spec).items()}


def part_files(store: RunStore) -> list[str]:
    return sorted(p.name for p in (store.local_path / "parts").iterdir())


def test_packing_keeps_every_row_of_every_kind(spec, store):
    before = write_all(store, spec)
    one_by_one = {
        kind: {key: store.read_part(kind, key, schema) for key in KEYS}
        for kind, schema in schemas(spec).items()
    }
    for kind, schema in schemas(spec).items():
        assert store.pack_parts(kind, schema) == len(KEYS)
    assert part_files(store) == sorted(f"{kind}.parquet" for kind in PART_KINDS)
    for kind, schema in schemas(spec).items():
        after = store.read_parts(kind, schema)
        assert after.schema == schema and "part_key" not in after.column_names
        assert after.equals(before[kind]), kind  # the same rows, in the same order
        assert store.part_count(kind) == len(KEYS)
        for key in KEYS:
            assert store.read_part(kind, key, schema) == one_by_one[kind][key], (kind, key)
        assert store.read_part(kind, "t999", schema) == []


def test_a_reader_with_fewer_columns_reads_the_packed_rows_as_it_read_the_parts(spec, store):
    """The report reads the objectives only; a column the schema lacks reads as nulls."""
    write_all(store, spec)
    full = schemas(spec)["trial"]
    narrow = pa.schema([full.field(n) for n in ("run", "trial_id", "validity")])
    wider = narrow.append(pa.field("added_later", pa.float64()))
    before = store.read_parts("trial", narrow), store.read_parts("trial", wider)
    store.pack_parts("trial", full)
    assert store.read_parts("trial", narrow).equals(before[0])
    assert store.read_parts("trial", wider).equals(before[1])
    assert store.read_part("trial", "t002", wider) == [
        {"run": "run1", "trial_id": "t002", "validity": 2.0, "added_later": None}
    ]


def test_a_part_written_after_packing_wins_over_its_packed_rows(spec, tmp_path):
    """A resumed run writes per-key files beside the packed one: they read as if the
    study had never packed (the new rows of a key replace the packed ones, not add)."""
    schema = schemas(spec)["history"]
    packed, plain = RunStore(str(tmp_path), "packed"), RunStore(str(tmp_path), "plain")
    for store in (packed, plain):
        store.makedirs()
        for key in KEYS:
            write(store, "history", schema, key, 2)
    packed.pack_parts("history", schema)
    for store in (packed, plain):
        write(store, "history", schema, "t001", 4, tag="new")  # a round more, rewritten
        write(store, "history", schema, "t005", 1, tag="new")  # a trial not packed
    assert part_files(packed) == [
        "history-t001.parquet",
        "history-t005.parquet",
        "history.parquet",
    ]
    table = packed.read_parts("history", schema)
    assert table.equals(plain.read_parts("history", schema))
    assert table["trial_id"].to_pylist().count("t001") == 4 + 2  # its own 4, t001-copy's 2
    assert packed.read_part("history", "t001", schema) == rows(schema, "t001", 4, tag="new")
    assert packed.part_count("history") == len(KEYS) + 1
    # packing again takes the new files in, and reads the same
    assert packed.pack_parts("history", schema) == 2
    assert part_files(packed) == ["history.parquet"]
    assert packed.read_parts("history", schema).equals(table)


def test_killed_between_writing_the_packed_file_and_deleting_the_parts(spec, store):
    """Both the packed file and the per-key files: every row once, and the next packing
    finishes the job."""
    before = write_all(store, spec)
    parts = store.local_path / "parts"
    saved = {p.name: p.read_bytes() for p in parts.iterdir() if p.name.startswith("trial-")}
    store.pack_parts("trial", schemas(spec)["trial"])
    for name, data in saved.items():  # as a process killed before its deletions leaves them
        (parts / name).write_bytes(data)
    schema = schemas(spec)["trial"]
    assert len([p for p in parts.iterdir() if p.name.startswith("trial")]) == len(KEYS) + 1
    assert store.read_parts("trial", schema).equals(before["trial"])  # no row twice
    assert store.part_count("trial") == len(KEYS)
    assert store.read_part("trial", "t002", schema) == before["trial"].to_pylist()[3:4]
    assert store.pack_parts("trial", schema) == len(KEYS)
    assert [p.name for p in parts.iterdir() if p.name.startswith("trial")] == ["trial.parquet"]
    assert store.read_parts("trial", schema).equals(before["trial"])


def test_packing_twice_changes_nothing(spec, store):
    before = write_all(store, spec)
    schema = schemas(spec)["replicate"]
    assert store.pack_parts("replicate", schema) == len(KEYS)
    packed = store.local_path / "parts" / "replicate.parquet"
    data, mtime = packed.read_bytes(), packed.stat().st_mtime_ns
    assert store.pack_parts("replicate", schema) == 0  # nothing left to pack: not rewritten
    assert packed.read_bytes() == data and packed.stat().st_mtime_ns == mtime
    assert store.read_parts("replicate", schema).equals(before["replicate"])


def test_a_kind_without_parts_packs_into_nothing(spec, store):
    schema = schemas(spec)["validation"]
    assert store.pack_parts("validation", schema) == 0
    assert part_files(store) == []
    assert store.read_parts("validation", schema).equals(schema.empty_table())
    assert store.part_count("validation") == 0 and store.read_part("validation", "t0", schema) == []


def test_consolidating_packed_parts_gives_the_same_tables(spec, store):
    """A run resumed after it finished consolidates again, from the packed parts; the
    same trial twice (t001 and t001-copy, equal finished_at) keeps the later file's row."""
    write_all(store, spec)
    first = consolidate(store, spec, METRICS, run="run1", matrix_names=MATRICES)
    for kind, schema in schemas(spec).items():
        store.pack_parts(kind, schema)
    again = consolidate(store, spec, METRICS, run="run1", matrix_names=MATRICES)
    assert again.trials.equals(first.trials) and again.history.equals(first.history)
    assert again.replicates.equals(first.replicates) and again.pareto.equals(first.pareto)
    kept = again.trials.filter(pc.equal(again.trials["trial_id"], "t001"))
    assert kept["node"].to_pylist() == ["node-t001-a-0"]  # not t001-copy's


def test_a_schema_with_a_part_key_column_is_refused(spec, store):
    schema = pa.schema([pa.field("part_key", pa.string())])
    with pytest.raises(ValueError, match="part_key"):
        store.read_parts("trial", schema)
    write_all(store, spec)
    with pytest.raises(ValueError, match="part_key"):
        store.pack_parts("trial", schema)
    with pytest.raises(ValueError, match="part kind"):
        store.pack_parts("trials", schemas(spec)["trial"])
