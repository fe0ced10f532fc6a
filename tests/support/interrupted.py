"""Start a study as a real CLI process, stop it, and check a resume: shared by the
resume and run-identity tests."""

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


def wait_for(predicate, *, timeout: float, what: str, log=None, alive=None) -> None:
    """Poll predicate; fail with the driver's stderr if it times out or the driver exits."""
    deadline = time.monotonic() + timeout
    while not predicate():
        ended = alive is not None and alive.poll() is not None
        if ended or time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None else ""
            why = f"driver exited ({alive.returncode})" if ended else f"waited {timeout}s"
            raise TimeoutError(f"{why} before {what}; stderr ends:\n{tail}")
        time.sleep(0.2)


def study_command(study, storage, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "raygan.study",
        str(study),
        "--storage",
        str(storage),
        "--name",
        name,
        "--quiet",
        "--set",
        "budget.num_samples=6",
        "--set",
        "fixed.steps=3",
        "--set",
        "fixed.sleep_s=0.5",
        # each trial stands for its best step (step 1 of 0..2), kept across the resume
        "--set",
        "fixed.peak_at=1",
        "--set",
        "result.round=best",
        "--set",
        "result.reference={score = 0.0, cost = 2.0}",
    ]


def part_rows(run, kind: str) -> dict[str, pd.DataFrame]:
    """{part key: its rows} of the run's per-key ``kind`` part files (parts/<kind>-<key>)."""
    prefix, suffix = f"{kind}-", ".parquet"
    return {
        p.name[len(prefix) : -len(suffix)]: pd.read_parquet(p)
        for p in sorted((run / "parts").glob(f"{prefix}*{suffix}"))
    }


def check_packed(run, kind: str, before: dict[str, pd.DataFrame]) -> None:
    """Each part of ``before`` ({part key: its rows}, part_rows) is in the finished run's
    packed parts/<kind>.parquet as it was: its trial did not run again (a trial that did
    would have been rewritten: another finished_at, another wall time)."""
    packed = pd.read_parquet(run / "parts" / f"{kind}.parquet")
    assert not list((run / "parts").glob(f"{kind}-*.parquet"))  # packed, then deleted
    for key, rows in before.items():
        mine = packed[packed.part_key == key].drop(columns="part_key").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, rows, obj=f"{kind} part {key}")


def start_and_stop(cmd, env, run, stop) -> tuple[subprocess.CompletedProcess, dict]:
    """Start the study, call stop(proc) once two trials have finished; returns the
    driver's exit and {trial id: its row} (part_rows) of the trials finished by then."""
    # Files, not pipes: a pipe nobody reads until the end can fill and stall the driver.
    out_path, err_path = run.with_suffix(".out"), run.with_suffix(".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(
            cmd, env=env, start_new_session=True, stdout=out, stderr=err, text=True
        )  # its own process group, like a shell job
        try:
            wait_for(
                lambda: len(list((run / "parts").glob("trial-*.parquet"))) >= 2,
                timeout=180,
                what="two finished trials",
                log=err_path,
                alive=proc,
            )
            stop(proc)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finished = part_rows(run, "trial")
    done = subprocess.CompletedProcess(
        cmd, proc.returncode, out_path.read_text(), err_path.read_text()
    )
    return done, finished


def check_resumed(cmd, env, run, finished: dict, *, study_name: str | None = None) -> None:
    assert 2 <= len(finished) < 6
    assert not (run / "trials.parquet").exists()  # the study is not over: no final tables
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Failed to fetch metrics" not in done.stderr  # Tune's, about its own files
    assert "since the resume" in done.stdout  # the summary's time is this part's only
    trials = pd.read_parquet(run / "trials.parquet")
    # exactly num_samples trials; an index may be skipped: an Optuna trial asked after
    # Tune's last snapshot dies with the driver (and is marked FAIL, below)
    assert len(trials) == 6 and trials.trial_index.is_unique and trials.trial_id.is_unique
    assert (trials.status == "completed").all()
    assert (trials.kept_step == 1).all() and (trials.score == trials.param_x).all()
    # trials finished before the stop were not run again: their rows are as they were, in
    # the packed trial parts of the finished run
    check_packed(run, "trial", finished)
    history = pd.read_parquet(run / "history.parquet")
    assert len(history) == 6 * 3 and not history.duplicated(["trial_id", "step"]).any()
    storage = JournalStorage(JournalFileBackend(str(run / "optuna.journal")))
    study = optuna.load_study(study_name=study_name or run.name, storage=storage)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6
