import dataclasses
import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raygan.experiments.seqgan import SeqGANExperiment
from raygan.results import (
    TRIAL_STATUSES,
    RunStore,
    StudyTables,
    consolidate,
    format_summary,
    front_rows,
    history_schema,
    hypervolume,
    pareto_mask,
    trial_schema,
)
from raygan.results.location import join_location, split_location
from raygan.spec import Objective, Param, load_spec

METRICS = SeqGANExperiment.metrics
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def spec():
    # the rows below score validity against memorization, as the study once did
    return load_spec(
        "seqgan_tradeoff",
        profile="default",
        overrides=[
            'objectives={ validity = "max", memorization = "min" }',
            "result.reference={ validity = 0.0, memorization = 1.0 }",
            "budget.replicates=1",
        ],
    )


@pytest.fixture
def store(tmp_path):
    store = RunStore(str(tmp_path), "run1")
    store.makedirs()
    return store


def trial_row(i, *, status="completed", validity=0.5, memorization=0.5, **extra):
    row = {
        "study": "seqgan_tradeoff",
        "run": "run1",
        "trial_id": f"t{i:03d}",
        "trial_index": i,
        "status": status,
        "seed": 100 + i,
        "param_duplication": i + 1,
        "param_copy_penalty": 1,  # an int into a float column
        "param_mle_epochs": 10,
        "param_top_p": 0.9,
        "param_rounds": 3,
        "steps": 4,
        "num_steps": 4,
        "kept_step": 2,
        "wall_time_s": 12,
        "cpus": 1,
        "gpus": 0.25,
        "node": "10.0.0.1",
        "retries": 0,
        "raygan_version": "0.1.0",
        "finished_at": T0 + dt.timedelta(seconds=i),
    }
    if status != "failed":
        row.update({m: 0.0 for m in METRICS})
        row.update(validity=validity, memorization=memorization)
    return {**row, **extra}


def history_rows(i, steps, *, run="run1"):
    return [
        {
            "study": "seqgan_tradeoff",
            "run": run,
            "trial_id": f"t{i:03d}",
            "trial_index": i,
            "step": s,
            **{m: s for m in METRICS},  # ints into float columns
            "time_s": 1.5 * s,
            "node": "n",
        }
        for s in steps
    ]


# -----------------------------------------------------------------------------
# schemas


def test_trial_schema_columns_and_types(spec):
    schema = trial_schema(spec, METRICS)
    params = [f"param_{p.name}" for p in spec.search]
    assert schema.names == [
        "study", "run", "trial_id", "trial_index", "status", "error", "seed",
        *params, *METRICS, *(f"{m}_std" for m in METRICS), "n_replicates",
        "steps", "num_steps", "kept_step", "wall_time_s", "cpu_time_s", "peak_rss_mb", "cpus", "gpus", "node", "node_id", "device",
        "retries", "raygan_version", "started_at", "finished_at", "pareto", "validated_front",
    ]  # fmt: skip
    assert schema.field("param_duplication").type == pa.int64()
    assert schema.field("param_copy_penalty").type == pa.float64()
    assert schema.field("param_mle_epochs").type == pa.int64()
    assert schema.field("param_top_p").type == pa.float64()
    assert all(schema.field(m).type == pa.float64() for m in METRICS)
    assert all(schema.field(m).nullable for m in METRICS)
    assert schema.field("finished_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("pareto").type == pa.bool_()


def test_smoke_profile_schema(spec):
    smoke = load_spec("seqgan_tradeoff", profile="smoke")
    names = trial_schema(smoke, METRICS).names
    assert [n for n in names if n.startswith("param_")] == ["param_duplication", "param_rounds"]


def test_categorical_param_types(spec):
    def column_type(*choices):
        search = (Param(name="x", type="categorical", choices=choices),)
        s = trial_schema(dataclasses.replace(spec, search=search), METRICS)
        return s.field("param_x").type

    assert column_type(True, False) == pa.bool_()
    assert column_type(1, 2, 3) == pa.int64()
    assert column_type(1, 2.5) == pa.float64()
    assert column_type("a", "b") == pa.string()
    assert column_type(1, "a") == pa.string()
    assert column_type(True, 1) == pa.string()


def test_history_schema(spec):
    schema = history_schema(spec, METRICS)
    assert schema.names == [
        "study", "run", "trial_id", "trial_index", "step", *METRICS,
        *(f"{m}_std" for m in METRICS), "time_s", "node"
    ]  # fmt: skip
    assert schema.field("step").type == pa.int64()
    assert all(schema.field(m).type == pa.float64() for m in METRICS)


def test_metric_clashing_with_a_column(spec):
    with pytest.raises(ValueError, match="status"):
        trial_schema(spec, [*METRICS, "status"])


# -----------------------------------------------------------------------------
# parts


def test_part_round_trip(spec, store):
    schema = trial_schema(spec, METRICS)
    store.write_part("trial", "t000", [trial_row(0)], schema)
    failed = trial_row(1, status="failed", error="boom")
    store.write_part("trial", "t001", [failed], schema)
    table = store.read_parts("trial", schema)
    assert table.schema == schema
    rows = sorted(table.to_pylist(), key=lambda r: r["trial_index"])
    assert rows[0]["param_copy_penalty"] == 1.0 and isinstance(rows[0]["param_copy_penalty"], float)
    assert rows[0]["wall_time_s"] == 12.0 and rows[0]["finished_at"] == T0
    assert all(rows[1][m] is None for m in METRICS)
    assert rows[1]["error"] == "boom" and rows[1]["pareto"] is None
    assert store.read_part("trial", "t001", schema) == [rows[1]]
    assert store.read_part("trial", "nope", schema) == []


def test_history_part_ints_into_floats(spec, store):
    schema = history_schema(spec, METRICS)
    store.write_part("history", "t000", history_rows(0, range(3)), schema)
    rows = store.read_part("history", "t000", schema)
    assert [r["validity"] for r in rows] == [0.0, 1.0, 2.0]


def test_write_leaves_no_temp_files_and_overwrites(spec, store):
    schema = history_schema(spec, METRICS)
    store.write_part("history", "t000", history_rows(0, range(2)), schema)
    store.write_part("history", "t000", history_rows(0, range(5)), schema)  # next round
    store.write_text("spec.toml", "a = 1\n")
    assert sorted(p.name for p in (store.local_path / "parts").iterdir()) == [
        "history-t000.parquet"
    ]
    assert sorted(p.name for p in store.local_path.iterdir()) == ["parts", "spec.toml"]
    assert len(store.read_parts("history", schema)) == 5


def test_failed_write_cleans_up(spec, store, monkeypatch):
    schema = trial_schema(spec, METRICS)
    store.write_part("trial", "t000", [trial_row(0)], schema)
    bad = [{**trial_row(0), "param_duplication": "not a number"}]
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        store.write_part("trial", "t000", bad, schema)

    def half_write(table, where, filesystem):  # the writer dies half-way through the file
        with filesystem.open_output_stream(where) as f:
            f.write(b"PAR1")
        raise OSError("disk full")

    monkeypatch.setattr("raygan.results.store.pq.write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        store.write_part("trial", "t000", [trial_row(0, validity=0.0)], schema)
    assert [p.name for p in (store.local_path / "parts").iterdir()] == ["trial-t000.parquet"]
    assert store.read_part("trial", "t000", schema)[0]["validity"] == 0.5  # the old part


def test_read_parts_ignores_temp_files_and_empty(spec, store):
    schema = trial_schema(spec, METRICS)
    assert store.read_parts("trial", schema).schema == schema
    assert len(store.read_parts("trial", schema)) == 0
    (store.local_path / "parts" / ".trial-t9.parquet.abc.tmp").write_bytes(b"half a file")
    assert store.part_count("trial") == 0  # a temp file is not a part
    store.write_part("trial", "t000", [trial_row(0)], schema)
    assert len(store.read_parts("trial", schema)) == 1 and store.part_count("trial") == 1
    assert len(store.read_parts("history", history_schema(spec, METRICS))) == 0


def test_read_old_part_with_fewer_columns(spec, store):
    schema = history_schema(spec, METRICS)
    old = pa.schema([f for f in schema if f.name != "mean_reward"])
    store.write_part("history", "t000", history_rows(0, [0]), schema)
    pq.write_table(
        pa.Table.from_pylist(
            [{k: v for k, v in r.items() if k != "mean_reward"} for r in history_rows(1, [0])],
            schema=old,
        ),
        store.local_path / "parts" / "history-t001.parquet",
    )
    table = store.read_parts("history", schema)
    assert table.schema == schema and table["mean_reward"].null_count == 1


@pytest.mark.parametrize(
    "row, message",
    [
        ({"nonsense": 1}, "unknown columns"),
        ({"trial_index": None}, "trial_index"),
        ({"status": "done"}, "status"),
        ({"trial_id": "t999"}, "t999"),
    ],
)
def test_bad_rows_are_refused(spec, store, row, message):
    with pytest.raises(ValueError, match=message):
        store.write_part("trial", "t000", [{**trial_row(0), **row}], trial_schema(spec, METRICS))


def test_bad_names_are_refused(spec, store, tmp_path):
    with pytest.raises(ValueError):
        store.write_part("trial", "../x", [], trial_schema(spec, METRICS))
    with pytest.raises(ValueError):
        store.write_part("trials", "t0", [], trial_schema(spec, METRICS))
    with pytest.raises(ValueError):
        store.write_text("../outside.txt", "x")
    with pytest.raises(ValueError):
        RunStore(str(tmp_path), "a/b")


def test_text_exists_and_locations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = RunStore("runs", "r")
    assert store.local_path == tmp_path / "runs" / "r"
    assert store.location == str(tmp_path / "runs" / "r")
    assert not store.exists()
    store.makedirs()
    assert store.exists()  # holds parts/: a run was started here
    assert store.read_text("notes/a.txt") is None
    store.write_text("notes/a.txt", "héllo\n")
    assert store.read_text("notes/a.txt") == "héllo\n"
    assert store.exists()


# -----------------------------------------------------------------------------
# consolidation


def write_study(store, spec):
    ts, hs = trial_schema(spec, METRICS), history_schema(spec, METRICS)
    rows = [
        trial_row(0, validity=0.9, memorization=0.5),  # front
        trial_row(1, validity=0.5, memorization=0.1),  # front
        trial_row(2, validity=0.4, memorization=0.6),  # dominated
        trial_row(3, status="failed", error="RuntimeError: CUDA out of memory\ntraceback..."),
        trial_row(4, status="stopped", validity=1.0, memorization=0.0),  # would dominate all
        trial_row(5, validity=0.95, memorization=0.05, run="another_run"),  # other run
    ]
    for row in rows:
        store.write_part("trial", row["trial_id"], [row], ts)
        store.write_part(
            "history", row["trial_id"], history_rows(row["trial_index"], [1, 0], run=row["run"]), hs
        )
    return rows


def test_consolidate(spec, store):
    write_study(store, spec)
    tables = consolidate(store, spec, METRICS, run="run1")
    assert tables.trials["trial_index"].to_pylist() == [0, 1, 2, 3, 4]
    assert tables.trials["pareto"].to_pylist() == [True, True, False, False, False]
    assert tables.pareto["trial_index"].to_pylist() == [0, 1]
    assert tables.history["trial_index"].to_pylist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert tables.history["step"].to_pylist() == [0, 1] * 5
    for name, table in zip(
        ["trials", "history", "pareto"], [tables.trials, tables.history, tables.pareto], strict=True
    ):
        path = store.local_path / f"{name}.parquet"
        assert pq.read_table(path).equals(table)
        df = pd.read_parquet(path)
        assert len(df) == len(table) and list(df.columns) == table.column_names
    df = pd.read_parquet(store.local_path / "trials.parquet")
    assert str(df["finished_at"].dt.tz) == "UTC"
    assert not any(p.name.endswith(".tmp") for p in store.local_path.rglob("*"))


def test_consolidate_keeps_latest_duplicate(spec, store):
    ts = trial_schema(spec, METRICS)
    store.write_part("trial", "t000", [trial_row(0, validity=0.1)], ts)
    # the same trial in a second file (copied in by hand, an old retry), finished later
    later = trial_row(0, validity=0.7, finished_at=T0 + dt.timedelta(hours=1))
    table = pa.Table.from_pylist([later], schema=ts)
    pq.write_table(table, store.local_path / "parts" / "trial-t000-copy.parquet")
    tables = consolidate(store, spec, METRICS, run="run1")
    assert tables.trials["validity"].to_pylist() == [0.7]


def test_consolidate_leaves_out_the_rounds_of_a_trial_without_a_row(spec, store):
    """A trial that started after Tune's last snapshot and ran when the driver was killed
    is not resumed: its rounds have no trial row and stay out of history.parquet."""
    store.write_part("trial", "t000", [trial_row(0)], trial_schema(spec, METRICS))
    hs = history_schema(spec, METRICS)
    store.write_part("history", "t000", history_rows(0, range(3)), hs)
    store.write_part("history", "t001", history_rows(1, range(2)), hs)  # no trial row
    tables = consolidate(store, spec, METRICS, run="run1")
    assert tables.history["trial_id"].to_pylist() == ["t000"] * 3
    assert pd.read_parquet(store.local_path / "history.parquet").trial_id.unique().tolist() == [
        "t000"
    ]


def test_consolidate_empty(spec, store):
    tables = consolidate(store, spec, METRICS, run="run1")
    assert len(tables.trials) == len(tables.history) == len(tables.pareto) == 0
    assert pd.read_parquet(store.local_path / "pareto.parquet").empty
    assert "0 trials" in format_summary(tables, spec, location=store.location)


def test_consolidate_unknown_objective(spec, store):
    with pytest.raises(ValueError, match="validity"):
        consolidate(store, spec, ["memorization"], run="run1")


@pytest.mark.parametrize(
    ("location", "relpath", "joined"),
    [
        ("s3://b/runs?region=x&scheme=http", "r1", "s3://b/runs/r1?region=x&scheme=http"),
        ("gs://b/runs/r1/?retry_limit_seconds=5", "", "gs://b/runs/r1/?retry_limit_seconds=5"),
        ("s3://b", "r1", "s3://b/r1"),
        ("file:///tmp/a/", "tune", "file:///tmp/a/tune"),
        ("/tmp/a?b", "r1", "/tmp/a?b/r1"),  # a path's '?' is a character of a name
    ],
)
def test_join_location_keeps_a_uris_query_last(location, relpath, joined):
    assert join_location(location, relpath) == joined
    if relpath:  # RunStore.at: a run's location back to its storage and name
        assert split_location(joined)[1] == relpath
        assert join_location(*split_location(joined)) == joined


def test_a_run_under_a_uri_with_a_query(tmp_path):
    store = RunStore(tmp_path.as_uri() + "?x=1", "run1")  # pyarrow ignores a file:// query
    assert store.location == f"{tmp_path.as_uri()}/run1?x=1"
    assert store.uri("tune") == f"{tmp_path}/run1/tune"  # local: the path a shell takes
    assert RunStore.at(store.location).root == store.root == f"{tmp_path}/run1"
    # Tune gets the path and the filesystem: it appends its folders to a URI after the query
    assert store.tune_storage() == (store.root, store.fs)


def test_file_uri_same_as_plain_path(spec, tmp_path):
    plain = RunStore(str(tmp_path / "a"), "run1")
    uri = RunStore((tmp_path / "b").as_uri(), "run1")
    assert uri.location == (tmp_path / "b").as_uri() + "/run1"
    assert uri.local_path == tmp_path / "b" / "run1"
    results = []
    for store in (plain, uri):
        store.makedirs()
        write_study(store, spec)
        store.write_text("spec.toml", "x = 1\n")
        assert store.read_text("spec.toml") == "x = 1\n" and store.exists()
        results.append(consolidate(store, spec, METRICS, run="run1"))
    assert results[0].trials.equals(results[1].trials)
    assert results[0].history.equals(results[1].history)
    assert sorted(p.name for p in (tmp_path / "b" / "run1").iterdir()) == sorted(
        [
            "parts",
            "spec.toml",
            "trials.parquet",
            "history.parquet",
            "pareto.parquet",
            "replicates.parquet",
        ]
    )


# -----------------------------------------------------------------------------
# Pareto front


def brute_force_front(values, modes):
    signs = np.array([1.0 if m == "max" else -1.0 for m in modes])
    v = values * signs
    n = len(v)
    mask = np.zeros(n, dtype=bool)
    for i in range(n):
        if np.isnan(v[i]).any():
            continue
        mask[i] = not any(
            not np.isnan(v[j]).any() and (v[j] >= v[i]).all() and (v[j] > v[i]).any()
            for j in range(n)
        )
    return mask


@pytest.mark.parametrize("seed", range(30))
def test_pareto_mask_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(0, 60)), int(rng.integers(1, 4))
    if seed % 2:  # larger inputs, more objectives: the library's other algorithms
        n, k = int(rng.integers(100, 250)), int(rng.integers(1, 6))
    # few distinct levels: many exact ties and partial ties
    values = rng.integers(0, 5, size=(n, k)).astype(float)
    values[rng.random(n) < 0.1, rng.integers(0, k)] = np.nan
    if seed % 2 and n:  # infinite values order as numbers do
        values[rng.integers(0, n), rng.integers(0, k)] = rng.choice([np.inf, -np.inf])
    modes = [str(m) for m in rng.choice(["max", "min"], size=k)]
    np.testing.assert_array_equal(pareto_mask(values, modes), brute_force_front(values, modes))


def test_pareto_mask_cases():
    assert pareto_mask(np.zeros((0, 2)), ["max", "min"]).shape == (0,)
    ties = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    assert pareto_mask(ties, ["max", "max"]).tolist() == [True, True, False]
    assert pareto_mask(ties, ["min", "max"]).tolist() == [False, False, True]
    nan = np.array([[np.nan, 9.0], [0.0, 0.0]])
    assert pareto_mask(nan, ["max", "max"]).tolist() == [False, True]
    with pytest.raises(ValueError):
        pareto_mask(ties, ["max"])
    with pytest.raises(ValueError):
        pareto_mask(ties, ["max", "up"])


def test_pareto_mask_large_is_fast():
    values = np.random.default_rng(0).random((10_000, 2))
    mask = pareto_mask(values, ["max", "min"])
    assert 0 < mask.sum() < 100


def test_failed_and_stopped_never_on_front_pruned_may_be(spec, store):
    ts = trial_schema(spec, METRICS)
    rng = np.random.default_rng(1)
    for i, status in zip(range(40), itertools.cycle(TRIAL_STATUSES)):
        row = trial_row(i, status=status, validity=rng.random(), memorization=rng.random())
        if status == "failed":
            row["validity"] = 2.0  # a failed row with values still must not count
        store.write_part("trial", row["trial_id"], [row], ts)
    tables = consolidate(store, spec, METRICS, run="run1")
    rows = tables.trials.to_pylist()
    # pruned: stopped at a rung, its kept round a real point of a trained model
    assert all(r["status"] in ("completed", "pruned") for r in rows if r["pareto"])
    assert any(r["pareto"] for r in rows if r["status"] == "pruned")
    completed = [r for r in rows if r["status"] in ("completed", "pruned")]
    values = np.array([[r["validity"], r["memorization"]] for r in completed])
    expected = brute_force_front(values, ["max", "min"])
    assert [r["pareto"] for r in completed] == expected.tolist()


# -----------------------------------------------------------------------------
# summary


def test_format_summary(spec, store):
    write_study(store, spec)
    for i in range(6, 13):  # more failures than the summary lists
        row = trial_row(i, status="failed", error="x" * 300)
        store.write_part("trial", row["trial_id"], [row], trial_schema(spec, METRICS))
    tables = consolidate(store, spec, METRICS, run="run1")
    text = format_summary(tables, spec, location=store.location, wall_s=312)
    print(text)
    lines = text.splitlines()
    assert lines[0] == (
        "seqgan_tradeoff (profile default): 12 of 32 trials: 3 completed, 8 failed, 1 stopped "
        "in 5m12s"  # 32 asked for: fewer rows say so
    )
    resumed = format_summary(tables, spec, location=store.location, wall_s=312, resumed=True)
    assert resumed.splitlines()[0].endswith("1 stopped in 5m12s since the resume")
    # the study keeps each trial's best round: the front says so, and which step it was
    assert lines[1] == (
        "Pareto front (2 trials, each trial at its best step): validity max, memorization min"
    )
    assert lines[2].split()[:5] == ["trial", "validity", "memorization", "step", "duplication"]
    assert lines[3].split()[:4] == ["0", "0.900", "0.500", "2"]  # best validity first
    assert lines[4].split()[:4] == ["1", "0.500", "0.100", "2"]
    assert "failed: trial 3: RuntimeError: CUDA out of memory" in lines
    assert sum(line.startswith("failed:") for line in lines) == 5
    assert "... 3 more" in lines
    assert all(len(line) < 130 for line in lines)
    assert lines[-2:] == [
        f"results: {store.location}/",
        "  trials.parquet, history.parquet, pareto.parquet, replicates.parquet",
    ]


def test_format_summary_min_first_and_no_wall_time(spec):
    objectives = (Objective("memorization", "min"), Objective("validity", "max"))
    spec = dataclasses.replace(spec, objectives=objectives, result_round="last")
    rows = [trial_row(0, memorization=0.3), trial_row(1, memorization=0.1, validity=0.2)]
    trials = pa.Table.from_pylist(rows, schema=trial_schema(spec, METRICS))
    tables = StudyTables(
        trials=trials, history=trials.slice(0, 0), pareto=trials, replicates=trials.slice(0, 0)
    )
    lines = format_summary(tables, spec, location="s3://b/p/").splitlines()
    assert lines[0].endswith("2 completed, 0 failed, 0 stopped")
    assert lines[1] == "Pareto front (2 trials): memorization min, validity max"
    assert lines[2].split()[:3] == ["trial", "memorization", "validity"]  # no step column
    assert [line.split()[0] for line in lines[3:5]] == ["1", "0"]
    assert lines[-2] == "results: s3://b/p/" and lines[-1].startswith("  trials.parquet")


def test_hypervolume_by_hand_and_against_optuna():
    from optuna._hypervolume import compute_hypervolume

    # validity max, memorization min, reference (0, 1): boxes [0, v] x [m, 1]
    assert hypervolume([[0.5, 0.0]], ["max", "min"], (0, 1)) == pytest.approx(0.5)
    two = [[0.5, 0.0], [1.0, 0.5]]  # 0.5 x 1 and 1 x 0.5, overlapping in 0.5 x 0.5
    assert hypervolume(two, ["max", "min"], (0, 1)) == pytest.approx(0.75)
    # dominated points, points beyond the reference and NaN add nothing
    more = [*two, [0.4, 0.1], [0.0, 0.2], [0.9, 1.0], [np.nan, 0.0]]
    assert hypervolume(more, ["max", "min"], (0, 1)) == pytest.approx(0.75)
    assert hypervolume(np.empty((0, 2)), ["max", "min"], (0, 1)) == 0.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        pts = rng.random((30, 2))
        mine = hypervolume(pts, ["max", "min"], (0, 1))
        theirs = compute_hypervolume(np.c_[-pts[:, 0], pts[:, 1]], np.array([0.0, 1.0]))
        assert mine == pytest.approx(theirs)
    with pytest.raises(ValueError, match="2 objectives"):
        hypervolume([[1, 2, 3]], ["max", "min", "min"], (0, 1, 1))


def test_format_summary_shows_spreads_over_replicates(spec):
    spec = dataclasses.replace(spec, replicates=3)
    rows = [trial_row(0, validity=0.9, memorization=0.5, validity_std=0.05, n_replicates=3)]
    trials = pa.Table.from_pylist(rows, schema=trial_schema(spec, METRICS))
    tables = StudyTables(
        trials=trials, history=trials.slice(0, 0), pareto=trials, replicates=trials.slice(0, 0)
    )
    lines = format_summary(tables, spec, location="/r").splitlines()
    assert lines[1] == (
        "Pareto front (1 trial, each trial at its best step, mean ± std over 3 replicates): "
        "validity max, memorization min"
    )
    # a spread where the row has one: memorization_std is null here
    assert lines[3].split()[:5] == ["0", "0.900", "±", "0.050", "0.500"]


def test_format_summary_gain_over_the_gain_baseline(spec):
    rows = [trial_row(0, validity=0.9, memorization=0.5, validity_std=0.05, n_replicates=2)]
    trials = pa.Table.from_pylist(rows, schema=trial_schema(spec, METRICS))
    tables = StudyTables(
        trials=trials, history=trials.slice(0, 0), pareto=trials, replicates=trials.slice(0, 0)
    )
    raw = {"baseline": "raw", "validity": 0.95, "memorization": None}
    lines = format_summary(tables, spec, location="/r", gain_from=raw).splitlines()
    # only where the baseline has a value: validity, not memorization
    assert lines[2].split()[:4] == ["trial", "validity", "memorization", "gain"]
    assert lines[3].split()[:7] == ["0", "0.900", "±", "0.050", "0.500", "-0.050", "±"]


def test_front_rows_order_gains_and_verdicts(spec):
    rows = [
        trial_row(0, validity=0.5, memorization=0.1, validity_std=0.02),
        trial_row(1, validity=0.9, memorization=0.5),
        trial_row(2, validity=0.9, memorization=0.6),  # a tie in validity: by trial index
    ]
    validated = {
        "trial_id": ["t000", "t001"],
        "trial_index": [0, 1],
        "runs": [2, 2],
        "validity": [0.4, 0.8],
        "validity_std": [0.01, 0.03],
        "memorization": [0.1, 0.7],
        "memorization_std": [0.0, 0.1],
        "validated_front": [True, False],
    }
    raw = {"baseline": "raw", "validity": 0.25, "memorization": None}
    table = front_rows(spec, rows, validated=validated, gain_from=raw)
    assert [o.metric for o in table.gained] == ["validity"] and table.baseline == "raw"
    assert [r.trial_index for r in table.rows] == [1, 2, 0]  # validity max: best first
    assert [r.verdict for r in table.rows] == ["falls off", "not validated", "stays"]
    last = table.rows[2]
    assert last.scores == ((0.5, 0.02), (0.1, None))
    assert last.gains[0] == pytest.approx((0.25, 0.02)) and len(last.gains) == 1
    assert last.validated == ((0.4, 0.01), (0.1, 0.0))
    assert last.validated_gains[0] == pytest.approx((0.15, 0.01))
    assert table.rows[1].validated is None and table.rows[1].validated_gains is None
    unvalidated = front_rows(spec, rows)
    assert not unvalidated.validated and unvalidated.gained == ()
    assert {r.verdict for r in unvalidated.rows} == {None}
