"""--optuna-storage: the Optuna study in a real PostgreSQL server (started here, in a
temporary directory), a run killed and resumed from the database, optuna-dashboard's
storage loader opening it, a journal file on shared storage, and bad URLs refused in one
line before Ray starts. The password is never written into the run nor printed."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import optuna
import pandas as pd
import pytest
from interrupted import start_and_stop, study_command  # tests/support

PASSWORD = "s3cret-pw-4711"


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of this machine's own install, in a temporary directory, with
    password authentication; yields its URL. Run as the 'postgres' user where the tests
    run as root (PostgreSQL refuses root)."""
    pytest.importorskip("psycopg", reason="the test extra installs psycopg (PostgreSQL driver)")
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="raygan-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*cmd):
        return subprocess.run(as_user + [str(c) for c in cmd], check=True, capture_output=True)

    run(
        bin_dir / "initdb", "-D", data, "-U", "raygan", "--auth=scram-sha-256", f"--pwfile={pwfile}"
    )
    run(
        bin_dir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "start",
        "-o", f"-p {port} -k {root} -h 127.0.0.1",
    )  # fmt: skip
    try:
        yield f"postgresql://raygan:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            as_user + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _never_shows_password(run_dir: Path, *outputs: str) -> None:
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    for text in outputs:
        assert PASSWORD not in text


def test_killed_run_resumes_from_postgresql(postgres, faulty_study, cli_env, tmp_path):
    name = "pg1"
    cmd = study_command(faulty_study, tmp_path, name) + ["--optuna-storage", postgres]
    run = tmp_path / name
    killed, finished = start_and_stop(cmd, cli_env, run, lambda p: os.killpg(p.pid, signal.SIGKILL))
    assert killed.returncode == -signal.SIGKILL and len(finished) >= 2
    # the sampler's state is in the database, not in a journal on the driver
    assert not (run / "optuna.journal").exists()

    # a resume must name the storage again
    bare = subprocess.run(
        cmd[: cmd.index("--optuna-storage")] + ["--resume"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bare.returncode == 2, bare.stderr[-2000:]
    assert "this run keeps its Optuna study in postgresql://raygan:***@" in bare.stderr

    done = subprocess.run(
        cmd + ["--resume"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 6 and (trials.status == "completed").all()
    study = optuna.load_study(study_name=name, storage=postgres)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6
    facts = (run / "run.json").read_text()
    assert '"optuna_storage": "postgresql://raygan:***@127.0.0.1' in facts
    _never_shows_password(run, killed.stdout, killed.stderr, done.stdout, done.stderr)

    # optuna-dashboard opens it the way `optuna-dashboard postgresql://...` does
    from optuna_dashboard._storage_url import get_storage

    storage = get_storage(postgres)
    assert name in optuna.get_all_study_names(storage)
    assert len(optuna.load_study(study_name=name, storage=storage).trials) >= 6


def test_a_new_run_refuses_a_study_name_the_database_holds(
    postgres, faulty_study, cli_env, tmp_path
):
    optuna.create_study(study_name="taken", storage=postgres)
    cmd = study_command(faulty_study, tmp_path, "taken") + ["--optuna-storage", postgres]
    out = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "already holds an Optuna study named 'taken'" in out.stderr
    assert not (tmp_path / "taken").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://u:pw123@host/x", "must be a database URL (postgresql://"),
        ("postgresql://u:pw123@127.0.0.1:{closed}/db", "cannot use postgresql://u:***@127.0.0.1"),
        ("/no/such/dir/study.journal", "directory '/no/such/dir' does not exist"),
        # a bare word (a URL's typo) is no journal path: nothing is written where it runs
        ("notaurl", "'notaurl' is neither a database URL (postgresql://"),
        ("postgresql:host/db", "nor an absolute journal file path"),
        # a password SQLAlchemy reads whole though it holds a '/'
        ("postgresql://u:pw123/x@127.0.0.1:{closed}/db", "cannot use postgresql://u:***@127.0.0.1"),
        (
            "postgresql://u@127.0.0.1:{closed}/db?password=pw123",
            "cannot use postgresql://u@127.0.0.1",
        ),
    ],
)
def test_bad_urls_are_one_line_before_ray_starts(url, message, faulty_study, cli_env, tmp_path):
    url = url.format(closed=_free_port())
    cmd = study_command(faulty_study, tmp_path, "bad") + ["--optuna-storage", url]
    out = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "pw123" not in out.stderr and "Traceback" not in out.stderr
    assert "Ray" not in out.stdout + out.stderr  # refused before Ray was started
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_journal_on_shared_storage(ray_session, faulty_study, tmp_path):
    from raygan import load_spec
    from raygan.engine import run_study

    shared = tmp_path / "shared" / "studies.journal"
    shared.parent.mkdir()
    spec = load_spec(faulty_study, overrides=["budget.num_samples=2"])
    run_study(
        spec,
        storage=str(tmp_path / "runs"),
        name="j1",
        optuna_storage=str(shared),
        verbose=0,
        echo=lambda s: None,
    )
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(shared))
    )
    assert len(optuna.load_study(study_name="j1", storage=storage).trials) == 2
    # and the run keeps a copy with its results
    assert (tmp_path / "runs" / "j1" / "optuna.journal").stat().st_size > 0
