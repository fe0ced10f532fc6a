"""Interrupting a study's driver and resuming it: run as a real CLI in a subprocess.

Three ways a study stops early: SIGKILL (the machine or the driver dies; no chance to
save anything), Ctrl-C (SIGINT to the terminal's whole process group) and SIGTERM (a job
scheduler, `ray job stop`). Each time `--resume` must end with exactly num_samples trials,
finished ones untouched, and no Optuna trial left RUNNING.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
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


def start_and_stop(cmd, env, run, stop) -> tuple[subprocess.CompletedProcess, dict]:
    """Start the study, call stop(proc) once two trials have finished; returns the
    driver's exit and {part file: mtime} of the trials finished by then."""
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
    finished = {p.name: p.stat().st_mtime_ns for p in (run / "parts").glob("trial-*.parquet")}
    done = subprocess.CompletedProcess(
        cmd, proc.returncode, out_path.read_text(), err_path.read_text()
    )
    return done, finished


def check_resumed(cmd, env, run, finished: dict) -> None:
    assert 2 <= len(finished) < 6
    assert not (run / "trials.parquet").exists()  # the study is not over: no final tables
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    trials = pd.read_parquet(run / "trials.parquet")
    # exactly num_samples trials; an index may be skipped: an Optuna trial asked after
    # Tune's last snapshot dies with the driver (and is marked FAIL, below)
    assert len(trials) == 6 and trials.trial_index.is_unique and trials.trial_id.is_unique
    assert (trials.status == "completed").all()
    assert (trials.kept_step == 1).all() and (trials.score == trials.param_x).all()
    # trials finished before the stop were not run again (their part file is untouched)
    for name, mtime in finished.items():
        assert (run / "parts" / name).stat().st_mtime_ns == mtime
    history = pd.read_parquet(run / "history.parquet")
    assert len(history) == 6 * 3 and not history.duplicated(["trial_id", "step"]).any()
    storage = JournalStorage(JournalFileBackend(str(run / "optuna.journal")))
    states = [t.state for t in optuna.load_study(study_name=run.name, storage=storage).trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6


def test_resume_after_driver_killed(faulty_study, cli_env, tmp_path):
    cmd = study_command(faulty_study, tmp_path, "k1")
    run = tmp_path / "k1"
    # the driver and the Ray it started, all at once: nothing gets to save anything
    killed, finished = start_and_stop(
        cmd, cli_env, run, lambda proc: os.killpg(proc.pid, signal.SIGKILL)
    )
    assert killed.returncode == -signal.SIGKILL
    check_resumed(cmd, cli_env, run, finished)


@pytest.mark.parametrize(
    "how",
    [
        "ctrl-c",  # a terminal sends SIGINT to the whole foreground process group
        "sigterm",  # a scheduler or `ray job stop` sends SIGTERM to the driver
    ],
)
def test_interrupt_stops_cleanly_then_resume_completes(how, faulty_study, cli_env, tmp_path):
    name = f"i-{how}"
    cmd = study_command(faulty_study, tmp_path, name)
    run = tmp_path / name
    if how == "ctrl-c":
        stop = lambda proc: os.killpg(proc.pid, signal.SIGINT)  # noqa: E731
    else:
        stop = lambda proc: proc.send_signal(signal.SIGTERM)  # noqa: E731
    stopped, finished = start_and_stop(cmd, cli_env, run, stop)

    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    ours = [ln for ln in stopped.stderr.splitlines() if ln.startswith("raygan.study:")]
    assert len(ours) == 1, stopped.stderr[-2000:]
    assert "interrupted:" in ours[0] and "trials finished" in ours[0]
    resume = f"--name {name} --resume --storage {tmp_path}"
    assert ours[0].endswith(f"Continue with: python -m raygan.study {faulty_study} {resume}")
    assert "Tuner.restore" not in stopped.stderr  # Tune's own hint is not raygan's command
    check_resumed(cmd, cli_env, run, finished)


def test_resume_with_replicates_runs_no_finished_replicate_twice(faulty_study, cli_env, tmp_path):
    """Each trial trains 2 replicates; the driver dies after 2 trials. On resume, every
    replicate of a finished trial keeps its rows and is never stepped again."""
    logs = tmp_path / "steps"
    logs.mkdir()
    cmd = study_command(faulty_study, tmp_path, "rk") + [
        "--replicates",
        "2",
        "--set",
        f'fixed.log_dir="{logs}"',
    ]
    run = tmp_path / "rk"
    killed, finished = start_and_stop(
        cmd, cli_env, run, lambda proc: os.killpg(proc.pid, signal.SIGKILL)
    )
    assert killed.returncode == -signal.SIGKILL
    done_before = {
        p.name: p.stat().st_mtime_ns for p in (run / "parts").glob("replicate-*.parquet")
    }
    finished_seeds = set(
        pd.concat(pd.read_parquet(run / "parts" / name) for name in done_before).seed
    )
    assert len(finished_seeds) == 2 * len(finished)
    check_resumed(cmd, cli_env, run, finished)

    replicates = pd.read_parquet(run / "replicates.parquet")
    assert len(replicates) == 12 and set(replicates.replicate) == {0, 1}
    for name, mtime in done_before.items():
        assert (run / "parts" / name).stat().st_mtime_ns == mtime
    for seed in finished_seeds:  # each of their steps ran once, before the kill
        steps = [line.split()[1] for line in (logs / f"{seed}.log").read_text().splitlines()]
        assert sorted(steps) == ["0", "1", "2"]
    for seed in set(replicates.seed):  # the others: no step twice but the one cut by the kill
        steps = [line.split()[1] for line in (logs / f"{seed}.log").read_text().splitlines()]
        assert len(steps) - len(set(steps)) <= 1 and set(steps) == {"0", "1", "2"}
