"""Interrupting a study's driver and resuming it: run as a real CLI in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend


def wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        time.sleep(0.2)


def test_resume_after_driver_killed(faulty_study, cli_env, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "raygan.study",
        str(faulty_study),
        "--storage",
        str(tmp_path),
        "--name",
        "k1",
        "--quiet",
        "--set",
        "budget.num_samples=6",
        "--set",
        "fixed.steps=3",
        "--set",
        "fixed.sleep_s=0.5",
    ]
    run = tmp_path / "k1"
    proc = subprocess.Popen(
        cmd, env=cli_env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(
            lambda: len(list((run / "parts").glob("trial-*.parquet"))) >= 2,
            timeout=180,
            what="two finished trials",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started, mid-study
        proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in (run / "parts").glob("trial-*.parquet")}
    assert 2 <= len(finished) < 6
    assert not (run / "trials.parquet").exists()

    done = subprocess.run(
        cmd + ["--resume"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    trials = pd.read_parquet(run / "trials.parquet")
    # exactly num_samples trials; an index may be skipped: an Optuna trial asked after
    # Tune's last snapshot dies with the driver (and is marked FAIL, below)
    assert len(trials) == 6 and trials.trial_index.is_unique and trials.trial_id.is_unique
    assert (trials.status == "completed").all()
    # trials finished before the kill were not run again (their part file is untouched)
    for name, mtime in finished.items():
        assert (run / "parts" / name).stat().st_mtime_ns == mtime
    history = pd.read_parquet(run / "history.parquet")
    assert len(history) == 6 * 3 and not history.duplicated(["trial_id", "step"]).any()
    storage = JournalStorage(JournalFileBackend(str(run / "optuna.journal")))
    states = [t.state for t in optuna.load_study(study_name="k1", storage=storage).trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6
