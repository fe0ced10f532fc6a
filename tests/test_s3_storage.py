"""``--storage s3://``, against a real S3 API: moto's standalone server on 127.0.0.1.

The CLI runs in subprocesses, as a user runs it: the credentials and the endpoint reach it
(and Ray Tune, pyarrow, pandas and DuckDB) through the standard AWS environment variables
alone, and none of them may end up in a run's files or in what it prints. Each subprocess
gets its own HOME: the driver machine's cache (the Optuna journal of a URI run, its report
before upload) is then this test's, and an empty HOME stands for another machine.

Needs ``moto[server]`` (the S3 server), ``s3fs`` (pandas and DuckDB read s3:// through
it) and ``duckdb``; without moto the module is skipped, saying so.
"""

from __future__ import annotations

import os
import pickle
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from interrupted import wait_for  # tests/support

pytest.importorskip(
    "moto.server",
    reason="moto's S3 server is not installed: pip install 'moto[server]' to run the S3 tests",
)

BUCKET = "raygan-test"
STORAGE = f"s3://{BUCKET}/runs"
# the smoke run's --storage carries a query, as one naming its endpoint or region does: the
# run directory goes under the path, and every location printed keeps the query last
QUERY = "?region=us-east-1"
# a local run of the smoke profile writes these beside parts/ and tune/ (and .lock, which
# a URI run keeps on the driver's machine)
RUN_FILES = {
    "run.json",
    "study.toml",
    "optuna.journal",
    "trials.parquet",
    "history.parquet",
    "pareto.parquet",
    "replicates.parquet",
    "samples.parquet",
    "sweep.parquet",
    "report.html",
    "pareto.png",
    "history.png",
    "objective_vs_duplication.png",
    "objective_vs_rounds.png",
}
TABLES = sorted(n for n in RUN_FILES if n.endswith(".parquet"))
# Tune's error for a trial restored from a snapshot whose checkpoint is gone
LOST_CHECKPOINT = "Could not recover from checkpoint as it does not exist on storage"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(url, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


class S3:
    """The S3 server of this module: its endpoint, credentials and environments."""

    def __init__(self, endpoint: str, home: Path, base_env: dict):
        self.endpoint = endpoint
        # made up for this server (moto takes any): distinctive, so a grep finds a leak
        self.key = "AKIA" + secrets.token_hex(8).upper()
        self.secret = secrets.token_urlsafe(30)
        self.aws = {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
        self.home = home  # the driver's machine: its ~/.cache/raygan
        env = {k: v for k, v in base_env.items() if not k.startswith("AWS_")}
        self.env = {**env, **self.aws, "HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"}
        self.outputs: list[str] = []  # everything the CLI printed, for the leak check

    @property
    def secrets(self) -> dict[str, str]:
        host = self.endpoint.removeprefix("http://")
        return {"access key": self.key, "secret": self.secret, "endpoint": host}

    def fs(self) -> pafs.FileSystem:
        fs, _ = pafs.FileSystem.from_uri(STORAGE)  # the endpoint from AWS_ENDPOINT_URL
        return fs

    def files(self, run: str) -> dict[str, pafs.FileInfo]:
        """Every object of the run, by its path inside the run directory."""
        root = f"{BUCKET}/runs/{run}"
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        return {
            info.path.removeprefix(root + "/"): info
            for info in self.fs().get_file_info(selector)
            if info.type == pafs.FileType.File
        }

    def study(self, args: list[str], *, home: Path | None = None, timeout: float = 240):
        env = self.env if home is None else {**self.env, "HOME": str(home)}
        done = subprocess.run(
            [sys.executable, "-m", "raygan.study", *args],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.outputs += [done.stdout, done.stderr]
        return done


def _checkpointed(files) -> set[str]:
    """The ids of the trials with a checkpoint in tune/: Tune names each trial's directory
    <trainable>_<trial id>_<n>_<params>_<date>, the trainable being the study."""
    return {
        name.split("/")[1].removeprefix("seqgan_tradeoff_").split("_")[0]
        for name in files
        if name.startswith("tune/seqgan_tradeoff_") and "/checkpoint_" in name
    }


@pytest.fixture(scope="module")
def s3(cli_env, tmp_path_factory):
    """moto's S3 server on a free port of 127.0.0.1, a bucket in it, and the AWS variables
    pointing at it in this process (pyarrow, pandas, DuckDB) and in the CLI's environment."""
    import boto3

    tmp = tmp_path_factory.mktemp("s3")
    port = _free_port()
    log = tmp / "moto.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: _answers(endpoint + "/"),
            timeout=60,
            what="moto's server answered",
            log=log,
            alive=server,
        )
        home = tmp / "home"
        home.mkdir()
        s3 = S3(endpoint, home, cli_env)
        with pytest.MonkeyPatch.context() as mp:
            for name in [k for k in os.environ if k.startswith("AWS_")]:
                mp.delenv(name)
            for name, value in s3.aws.items():
                mp.setenv(name, value)
            mp.setenv("NO_PROXY", "127.0.0.1,localhost")
            s3fs = sys.modules.get("s3fs")
            if s3fs is not None:  # an instance made before with other settings
                s3fs.S3FileSystem.clear_instance_cache()
            boto3.client("s3").create_bucket(Bucket=BUCKET)  # boto3 comes with moto
            yield s3
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def smoke_run(s3):
    """The smoke profile of seqgan_tradeoff, its run directory in the bucket."""
    start = time.monotonic()
    storage = STORAGE + QUERY
    done = s3.study(
        ["seqgan_tradeoff", "--profile", "smoke", "--storage", storage, "--name", "s3run"]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - start < 180
    return done


def test_smoke_study_writes_tables_report_and_checkpoints_to_the_bucket(s3, smoke_run):
    from raygan.results import PART_KINDS

    files = s3.files("s3run")
    top = {name for name in files if "/" not in name}
    assert top == RUN_FILES, sorted(top ^ RUN_FILES)
    # the rows as trials ended, packed into one file per kind once the study finished
    parts = {n for n in files if n.startswith("parts/")}
    assert {"parts/trial.parquet", "parts/history.parquet"} <= parts
    assert parts <= {f"parts/{kind}.parquet" for kind in PART_KINDS}
    packed = pq.read_table(
        f"{BUCKET}/runs/s3run/parts/trial.parquet", filesystem=s3.fs(), columns=["part_key"]
    )
    trial_ids = set(packed["part_key"].to_pylist())
    # Tune's experiment state and each trial's checkpoints, written by Tune itself
    assert "tune/tuner.pkl" in files
    assert any(n.startswith("tune/experiment_state-") for n in files)
    assert len(trial_ids) == 2 and _checkpointed(files) == trial_ids
    # the summary names the run and its report in the bucket, not a local path
    assert f"results: {STORAGE}/s3run/{QUERY}\n" in smoke_run.stdout
    assert f"report: {STORAGE}/s3run/report.html{QUERY}\n" in smoke_run.stdout
    with s3.fs().open_input_stream(f"{BUCKET}/runs/s3run/report.html") as f:
        page = f.read().decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert not (s3.home / "raygan_runs").exists()  # nothing went to the default storage


def test_pandas_and_duckdb_read_the_tables_from_the_bucket(s3, smoke_run):
    s3fs = pytest.importorskip("s3fs", reason="pandas reads s3:// through s3fs: pip install s3fs")
    duckdb = pytest.importorskip("duckdb", reason="pip install duckdb")
    fs = s3.fs()
    for name in TABLES:  # pandas, given nothing but the URI and the AWS variables
        table = pq.read_table(f"{BUCKET}/runs/s3run/{name}", filesystem=fs)
        frame = pd.read_parquet(f"{STORAGE}/s3run/{name}")
        assert list(frame.columns) == table.column_names and len(frame) == table.num_rows
    trials = pd.read_parquet(f"{STORAGE}/s3run/trials.parquet")
    assert len(trials) == 2 and (trials.status == "completed").all()

    # DuckDB's own S3 reader (the httpfs extension) is downloaded at run time, which a
    # machine without internet access cannot do; DuckDB reads s3:// through a registered
    # fsspec filesystem instead, the same s3fs that pandas uses
    con = duckdb.connect()
    con.register_filesystem(s3fs.S3FileSystem(skip_instance_cache=True))
    steps = con.sql(
        f"""select t.trial_index, count(*) as steps
        from read_parquet('{STORAGE}/s3run/trials.parquet') t
        join read_parquet('{STORAGE}/s3run/history.parquet') h using (trial_id)
        group by t.trial_index order by t.trial_index"""
    ).df()
    history = pd.read_parquet(f"{STORAGE}/s3run/history.parquet")
    expected = history.groupby("trial_index").size()
    assert steps.trial_index.tolist() == sorted(trials.trial_index)
    assert steps.steps.tolist() == expected.loc[steps.trial_index].tolist()
    front = con.execute(f"select count(*) from read_parquet('{STORAGE}/s3run/pareto.parquet')")
    assert front.fetchall() == [(int(trials.pareto.sum()),)] and trials.pareto.any()


def test_parts_pack_and_read_in_the_bucket(s3):
    """RunStore.pack_parts through the store's S3 filesystem: the per-key objects go, the
    packed one reads as they did, and one written after packing wins over its rows."""
    import pyarrow as pa

    from raygan.results import RunStore

    schema = pa.schema(
        [("study", pa.string()), ("run", pa.string()), ("trial_id", pa.string())]
        + [("trial_index", pa.int64()), ("step", pa.int64())]
    )

    def rows(i: int, n: int) -> list[dict]:
        return [
            {"study": "s", "run": "packs", "trial_id": f"t{i}", "trial_index": i, "step": j}
            for j in range(n)
        ]

    def parts() -> list[str]:
        return sorted(n for n in s3.files("packs") if n.startswith("parts/"))

    store = RunStore(STORAGE, "packs")
    for i in range(3):
        store.write_part("history", f"t{i}", rows(i, i + 1), schema)
    before = store.read_parts("history", schema)
    assert store.pack_parts("history", schema) == 3
    assert parts() == ["parts/history.parquet"]
    assert store.read_parts("history", schema).equals(before)
    assert store.read_part("history", "t2", schema) == rows(2, 3)
    assert store.part_count("history") == 3
    store.write_part("history", "t1", rows(1, 5), schema)  # a resumed run's new round
    assert store.read_part("history", "t1", schema) == rows(1, 5)
    assert store.read_parts("history", schema).to_pylist() == rows(0, 1) + rows(1, 5) + rows(2, 3)
    assert store.pack_parts("history", schema) == 1 and store.pack_parts("history", schema) == 0
    assert parts() == ["parts/history.parquet"] and store.part_count("history") == 3
    assert store.read_parts("history", schema).to_pylist() == rows(0, 1) + rows(1, 5) + rows(2, 3)


def test_resume_after_driver_killed_continues_from_the_bucket(s3, tmp_path):
    name = "s3kill"
    args = ["seqgan_tradeoff", "--profile", "smoke", "--storage", STORAGE, "--name", name]
    args += ["--quiet", "--set", "budget.num_samples=4", "--set", "budget.max_concurrent=1"]
    # a float among the smoke profile's two small int settings: no configuration comes
    # twice (a sampler that proposes only ones already run ends the search early)
    args += ["--set", 'search.top_p={type = "float", low = 0.7, high = 1.0}']
    out, err = tmp_path / "killed.out", tmp_path / "killed.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "raygan.study", *args],
            env=s3.env,
            cwd=s3.home,
            stdout=o,
            stderr=e,
            start_new_session=True,  # its own process group: the driver and its Ray
        )
    try:
        wait_for(
            lambda: any(n.startswith("parts/trial-") for n in s3.files(name)),
            timeout=180,
            what="a trial's row in the bucket",
            log=err,
            alive=proc,
        )
        os.killpg(proc.pid, signal.SIGKILL)  # nothing gets to save anything
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    s3.outputs += [out.read_text(), err.read_text()]
    assert proc.returncode == -signal.SIGKILL
    finished = {  # {trial id: its row}, as the trials finished before the kill wrote them
        n.removeprefix("parts/trial-").removesuffix(".parquet"): pq.read_table(
            f"{BUCKET}/runs/{name}/{n}", filesystem=s3.fs()
        )
        for n in s3.files(name)
        if n.startswith("parts/trial-")
    }
    assert 1 <= len(finished) < 4 and "trials.parquet" not in s3.files(name)

    # another machine: its cache lacks the journal, which the bucket gets at the search's
    # end; refused in one line, rather than a search waiting forever for its Optuna study
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = s3.study([*args, "--resume"], home=elsewhere, timeout=120)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().startswith("raygan.study: error: --resume: ")
    assert "optuna.journal" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    done = s3.study([*args, "--resume"])
    assert done.returncode == 0, done.stderr[-3000:]
    files = s3.files(name)
    trials = pd.read_parquet(f"{STORAGE}/{name}/trials.parquet")
    assert len(trials) == 4 and trials.trial_index.is_unique and trials.trial_id.is_unique
    said = "\n".join(ln for ln in done.stdout.splitlines() if ln.startswith("[raygan]"))
    lost = trials.error.fillna("").str.contains(LOST_CHECKPOINT, regex=False)
    if lost.any():  # a race in Tune with remote storage, not yet handled by raygan
        pytest.xfail(
            f"trial {trials.trial_index[lost].tolist()}: Tune's last snapshot in the bucket "
            "named a checkpoint that Tune had deleted since (CheckpointConfig(num_to_keep=2); "
            "the snapshot is uploaded asynchronously): see docs/cluster.md, Runs in S3"
        )
    assert (trials.status == "completed").all(), f"{said}\n{done.stderr[-3000:]}"
    history = pd.read_parquet(f"{STORAGE}/{name}/history.parquet")
    assert not history.duplicated(["trial_id", "step"]).any()
    assert set(history.trial_id) == set(trials.trial_id)
    # trials finished before the kill did not run again: their rows are as they were, in
    # the packed trial parts (a trial run again gets another finished_at)
    assert not any(n.startswith("parts/trial-") for n in files)
    packed = pq.read_table(f"{BUCKET}/runs/{name}/parts/trial.parquet", filesystem=s3.fs())
    for trial_id, row in finished.items():
        mine = packed.filter(pc.equal(packed["part_key"], trial_id)).drop_columns("part_key")
        assert mine.equals(row), trial_id
    # each trial's checkpoints, by Tune's trial directory (<study>_<trial id>_<n>_...); a
    # trial started after Tune's last snapshot leaves one too, its index skipped
    checkpointed = _checkpointed(files)
    assert set(trials.trial_id) <= checkpointed, checkpointed
    assert {"optuna.journal", "report.html"} <= set(files)
    # the resumed driver's trials' logger files, each moved to the bucket as it ended
    # (1 slot: every trial but the last was taken out of Tune when the next was added)
    for trial_id in set(trials.trial_id) - set(finished):
        logged = {n.rsplit("/", 1)[1] for n in files if n.count("/") == 2 and f"_{trial_id}_" in n}
        assert {"params.json", "progress.csv", "result.json"} <= logged, (trial_id, logged)


def test_new_run_forgets_a_journal_cached_for_its_location(s3, tmp_path, monkeypatch):
    """A run whose directory was deleted left its Optuna journal in the driver's cache: a
    new run of the same name must not continue that Optuna study."""
    from raygan.engine.runs import claim, local_journal, open_store

    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_store(STORAGE, "again")
    stale = local_journal(store)
    stale.write_text("an earlier run's Optuna study\n", encoding="utf-8")
    assert claim(STORAGE, store, by_default=False) is store
    assert not stale.exists() and store.exists()


def _leaks(s3, paths: list[str]) -> list[str]:
    """'<what> in s3://<path>' for each credential or endpoint in an object of the bucket."""
    fs = s3.fs()
    found = []
    for path in paths:
        with fs.open_input_stream(path) as f:
            data = f.read()
        found += [f"{what} in s3://{path}" for what, v in s3.secrets.items() if v.encode() in data]
    return found


def _objects(s3) -> list[str]:
    selector = pafs.FileSelector(BUCKET, recursive=True)
    return [i.path for i in s3.fs().get_file_info(selector) if i.type == pafs.FileType.File]


def test_no_credential_or_endpoint_in_run_files_or_output(s3, smoke_run):
    """After the runs above: each object in the bucket but Tune's own snapshots (below),
    the driver's cache and every line the CLI printed; and the run's store as Tune
    pickles it (with the Recorder, into tuner.pkl)."""
    from raygan.results import RunStore

    objects = _objects(s3)
    assert any(p.endswith("/s3run/run.json") for p in objects)
    assert _leaks(s3, [p for p in objects if "/tune/" not in p]) == []
    cache = s3.home / ".cache" / "raygan"
    local = [p for p in cache.rglob("*") if p.is_file()]
    assert local  # the journal and the report's copy
    assert len(s3.outputs) >= 2
    for what, value in s3.secrets.items():
        for path in local:
            assert value.encode() not in path.read_bytes(), f"the {what} is in {path}"
        for text in s3.outputs:
            assert value not in text, f"the {what} was printed"
    store = RunStore(STORAGE, "s3run")
    pickled = pickle.dumps(store)
    assert not [what for what, v in s3.secrets.items() if v.encode() in pickled]
    assert pickle.loads(pickled).read_text("run.json") == store.read_text("run.json")


def test_no_credential_or_endpoint_in_tunes_snapshots(s3, smoke_run):
    objects = [p for p in _objects(s3) if "/tune/" in p]
    assert any(p.endswith("/s3run/tune/tuner.pkl") for p in objects)
    assert _leaks(s3, objects) == []
