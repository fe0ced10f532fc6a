"""A run writes only inside its own directory, resume honours or refuses what it is told,
and paths are the driver's: the failure modes of docs/reliability.md, round two."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from interrupted import (  # tests/support
    check_resumed,
    part_rows,
    start_and_stop,
    study_command,
)

from raygan.claim import RunBusy, claim_new, hold_lock
from raygan.engine import StudyError, run_study
from raygan.engine.runs import claim as _claim
from raygan.results import RunStore
from raygan.spec import load_spec


def digest_tree(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---- A. a run writes only inside its own directory ------------------------------------


def test_a_copied_run_resumes_inside_the_copy_and_leaves_the_original_alone(
    faulty_study, cli_env, tmp_path
):
    original = tmp_path / "X"
    killed, _ = start_and_stop(
        study_command(faulty_study, tmp_path, "X"),
        cli_env,
        original,
        lambda proc: os.killpg(proc.pid, signal.SIGKILL),
    )
    assert killed.returncode == -signal.SIGKILL
    # the killed driver's Ray workers may still save a checkpoint into X as they die
    before, settled = digest_tree(original), 0
    while settled < 3:
        time.sleep(1)
        now = digest_tree(original)
        settled = settled + 1 if now == before else 0
        before = now
    copy = tmp_path / "Y"
    shutil.copytree(original, copy, symlinks=True)
    finished = part_rows(copy, "trial")

    # the copy keeps the name it was started with inside (rows, Optuna study): "X"
    check_resumed(
        study_command(faulty_study, tmp_path, "Y"), cli_env, copy, finished, study_name="X"
    )
    assert digest_tree(original) == before  # byte for byte, no file added or changed
    # every checkpoint of the resumed run lies in the copy
    assert len(list((copy / "tune").rglob("checkpoint_*"))) >= 6


def test_a_run_directory_is_claimed_once(tmp_path):
    store = RunStore(str(tmp_path), "r1")
    claim_new(store)
    with pytest.raises(RunBusy, match="already exists"):
        claim_new(RunStore(str(tmp_path), "r1"))


def test_a_held_run_is_refused_to_a_second_process(tmp_path):
    store = RunStore(str(tmp_path), "r1")
    claim_new(store)
    with hold_lock(store):
        # flock is per open file: a second open, in this process or another, is refused
        with pytest.raises(RunBusy, match=f"in use by another raygan process \\(pid {os.getpid()}"):
            with hold_lock(RunStore(str(tmp_path), "r1")):
                pass
    with hold_lock(store):  # released when the holder ends
        pass


def test_default_names_in_the_same_second_do_not_collide(tmp_path):
    first = _claim(str(tmp_path), RunStore(str(tmp_path), "s-default-1"), by_default=True)
    second = _claim(str(tmp_path), RunStore(str(tmp_path), "s-default-1"), by_default=True)
    assert first.location.endswith("/s-default-1")
    assert second.location.endswith("/s-default-1-2")
    with pytest.raises(StudyError, match="--name: run .* already exists"):
        _claim(str(tmp_path), RunStore(str(tmp_path), "s-default-1"), by_default=False)


def test_the_same_name_while_it_runs_is_refused(faulty_study, cli_env, tmp_path):
    """The second command, started while the first holds the run: exit 2, one line; the
    first run is not disturbed."""
    # slow enough to be running still while the others try
    cmd = [*study_command(faulty_study, tmp_path, "d"), "--set", "fixed.sleep_s=2"]
    first = subprocess.Popen(
        cmd,
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = tmp_path / "d" / ".lock"
        deadline = 120
        while not (lock.exists() and lock.read_text().strip()) and deadline > 0:
            deadline -= 0.2
            time.sleep(0.2)
        for extra in ([], ["--resume"]):
            again = subprocess.run(
                cmd + extra, env=cli_env, capture_output=True, text=True, timeout=120
            )
            assert again.returncode == 2, again.stderr[-2000:]
            lines = again.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in again.stderr
            assert "in use by another raygan process" in lines[0]
        assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
    trials = pd.read_parquet(tmp_path / "d" / "trials.parquet")
    assert len(trials) == 6 and sorted(trials.trial_index) == list(range(6))
    assert json.loads((tmp_path / "d" / "run.json").read_text())["run"] == "d"


# ---- B. resume honours or refuses --------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(ray_session, faulty_study, tmp_path_factory):
    storage = tmp_path_factory.mktemp("finished")
    spec = load_spec(faulty_study, overrides=["budget.num_samples=2"])
    run_study(spec, storage=str(storage), name="done", verbose=0, echo=lambda s: None)
    return storage


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--num-samples", "4"], "--num-samples 4: a resumed run keeps budget.num_samples = 2"),
        (["--seed", "3"], "--seed 3: a resumed run keeps seed = 7"),
        (["--replicates", "2"], "--replicates 2: a resumed run keeps budget.replicates"),
        (
            ["--max-concurrent", "1"],
            "--max-concurrent 1: a resumed run keeps budget.max_concurrent = 2",
        ),
        (["--validate-front", "2"], "--validate-front 2: a resumed run keeps result.validate"),
        (["--set", "fixed.steps=5"], "--set fixed.steps=5: a resumed run keeps fixed.steps = 2"),
        (["--set", 'sampler="tpe"'], '--set sampler="tpe": a resumed run keeps sampler'),
        (["--profile", "smoke"], "--profile smoke: a resumed run keeps its profile 'default'"),
        # Tune restores each trial with the resources it was made with
        (["--cpus-per-trial", "0.5"], "--cpus-per-trial 0.5: a resumed run keeps resources.cpus"),
        (["--gpus-per-trial", "0"], "--gpus-per-trial 0.0: a resumed run keeps the resources"),
        # a value the run could never take: still the value it keeps, not a study-file error
        (["--set", 'result.aggregate="pessimistic"'], "a resumed run keeps result.aggregate"),
    ],
)
def test_resume_refuses_what_would_change_the_run(
    finished_run, faulty_study, flags, message, capsys
):
    from raygan.study import main

    before = digest_tree(finished_run / "done")
    argv = [str(faulty_study), "--storage", str(finished_run), "--name", "done", "--resume"]
    assert main([*argv, *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert digest_tree(finished_run / "done") == before


def test_resume_accepts_what_does_not_change_the_run(finished_run, faulty_study, capsys):
    """Restating a value the run has is accepted; so is a study file that has since gone:
    the run's own study.toml decides. The run has finished: one line says so, nothing
    starts and nothing is written."""
    from raygan.study import main

    run = finished_run / "done"
    before = digest_tree(run)
    moved = faulty_study.with_name("moved_away.toml")
    argv = ["faulty_study", "--storage", str(finished_run), "--name", "done", "--resume"]
    faulty_study.rename(moved)
    try:
        assert main([*argv, "--num-samples", "2", "--quiet"]) == 0
    finally:
        moved.rename(faulty_study)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "run done finished at" in out[0] and "nothing to resume" in out[0]
    assert digest_tree(run) == before
    # nor is it the run --resume picks without --name: it has finished
    assert main(["faulty_study", "--storage", str(finished_run), "--resume"]) == 2
    assert "no unfinished run of 'faulty_study'" in capsys.readouterr().err


def test_a_finished_run_resumed_through_the_api_is_consolidated_again_the_same(
    finished_run, capsys
):
    """run_study(resume=True) on a finished run (the engine does not refuse it) rebuilds
    the same tables from the packed parts and leaves them packed."""
    from raygan.engine import resumed_spec

    run = finished_run / "done"
    packed = sorted(p.name for p in (run / "parts").iterdir())
    assert "trial.parquet" in packed and not [n for n in packed if "-" in n]  # one per kind
    trials = pd.read_parquet(run / "trials.parquet")
    spec = resumed_spec(str(finished_run), "done", [])
    outcome = run_study(
        spec, storage=str(finished_run), name="done", resume=True, verbose=0, echo=print
    )
    assert "Pareto front" in outcome.summary and "since the resume" in outcome.summary
    pd.testing.assert_frame_equal(pd.read_parquet(run / "trials.parquet"), trials)
    assert sorted(p.name for p in (run / "parts").iterdir()) == packed


# ---- C. paths are the driver's ------------------------------------------------------------


def test_relative_paths_resolve_against_the_commands_directory(
    ray_session, faulty_study, tmp_path, monkeypatch
):
    work = tmp_path / "work"
    (work / "logs").mkdir(parents=True)
    monkeypatch.chdir(work)
    spec = load_spec(faulty_study, overrides=['fixed.log_dir="logs"', "budget.num_samples=2"])
    assert spec.fixed["log_dir"] == str(work / "logs")
    run_study(spec, storage=str(tmp_path / "runs"), name="p", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "runs" / "p" / "trials.parquet")
    assert (trials.status == "completed").all()  # the trials found the directory
    assert len(list((work / "logs").glob("*.log"))) == 2
    recorded = (tmp_path / "runs" / "p" / "study.toml").read_text()
    assert f'log_dir = "{work / "logs"}"' in recorded


# ---- E. checks that write nothing -----------------------------------------------------------


def test_data_rules_are_checked_against_every_corner_of_the_search(faulty_study, tmp_path, capsys):
    """The default x (0.5) passes the data rule; the search's highest x (1.0) does not."""
    from raygan.study import main

    argv = [str(faulty_study), "--storage", str(tmp_path / "runs"), "--set", "data.max_x=0.7"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["raygan.study: error: data.max_x: 0.7 is below x = 1.0"]
    assert not (tmp_path / "runs").exists()


def test_a_real_process_refusing_smote_writes_nothing(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "raygan.study",
            "augment_imbalanced",
            "--profile",
            "smoke",
            "--set",
            "data.minority_count=1",
            "--name",
            "m1",
            "--storage",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "data.minority_count: 1" in done.stderr and "at least 2" in done.stderr
    assert not (tmp_path / "runs").exists()


# ---- F. one truthful TensorBoard hint; --quiet means quiet ----------------------------------


@pytest.mark.parametrize("quiet", [True, False])
def test_tune_prints_one_truthful_hint_and_nothing_when_quiet(
    faulty_study, cli_env, tmp_path, quiet
):
    cmd = [
        sys.executable,
        "-m",
        "raygan.study",
        str(faulty_study),
        "--storage",
        str(tmp_path),
        "--name",
        "q",
        "--num-samples",
        "2",
    ] + ["--quiet"] * quiet
    done = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr
    assert f"[raygan] TensorBoard: tensorboard --logdir {tmp_path / 'q' / 'tune'}" in out
    assert "To visualize your results with TensorBoard" not in out  # Tune's, at Ray's session
    assert "Token authentication is enabled" not in out  # Ray's notice, asking nothing
    assert ("Configuration for experiment" in out) is not quiet
    assert ("Trial status" in out) is not quiet
    # Tune's table shows a result's first four metrics: the study's objectives lead them
    assert bool(re.search(r"total time \(s\)\s+score\s+cost\s", out)) is not quiet
    assert list((tmp_path / "q" / "tune").glob("*/events.out.tfevents.*"))  # where it says


def test_a_bad_registry_entry_in_the_environment_is_one_line(cli_env, tmp_path):
    env = {**cli_env, "RAYGAN_EXPERIMENTS": "mine=no.such.module:Thing"}
    done = subprocess.run(
        [sys.executable, "-m", "raygan.study", "--list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "RAYGAN_EXPERIMENTS: experiment 'mine': no module 'no.such.module'" in done.stderr


@pytest.mark.parametrize("as_uri", [False, True], ids=["a directory", "a file:// URI, a query"])
def test_resume_without_a_name_finds_the_newest_unfinished_run(tmp_path, as_uri):
    """Under a URI too (it looked only at local folders, and a run on S3 or file:// never
    resumed without --name): the newest run of the study by run.json's start, unfinished."""
    from raygan.engine.runs import FINISHED, newest_unfinished_run

    runs = {
        "old": {"created": "2026-01-01T00:00:00+00:00"},
        "new": {"created": "2026-01-03T00:00:00+00:00"},
        "done": {"created": "2026-01-04T00:00:00+00:00", FINISHED: "2026-01-04T01:00:00"},
        "other": {"created": "2026-01-05T00:00:00+00:00", "study": "another"},
    }
    for name, facts in runs.items():
        (tmp_path / name).mkdir()
        meta = {"study": "s", "profile": "smoke", "run": name, **facts}
        (tmp_path / name / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    (tmp_path / "loose.json").write_text("{}", encoding="utf-8")
    storage = tmp_path.as_uri() + "?x=1" if as_uri else str(tmp_path)
    assert newest_unfinished_run(storage, "s") == "new"
    assert newest_unfinished_run(storage, "nothing") is None
    assert newest_unfinished_run(str(tmp_path / "absent"), "s") is None
