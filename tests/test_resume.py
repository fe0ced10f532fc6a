"""Interrupting a study's driver and resuming it: run as a real CLI in a subprocess.

Three ways a study stops early: SIGKILL (the machine or the driver dies; no chance to
save anything), Ctrl-C (SIGINT to the terminal's whole process group) and SIGTERM (a job
scheduler, `ray job stop`). Each time `--resume` must end with exactly num_samples trials,
finished ones untouched, and no Optuna trial left RUNNING.
"""

from __future__ import annotations

import os
import signal

import pandas as pd
import pytest
from interrupted import (  # tests/support
    check_packed,
    check_resumed,
    part_rows,
    start_and_stop,
    study_command,
)


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
    assert f"their rows are in {run}/parts. " in ours[0]
    resume = f"--name {name} --resume --storage {tmp_path}"
    assert ours[0].endswith(f"Continue with: python -m raygan.study {faulty_study} {resume}")
    assert "Tuner.restore" not in stopped.stderr  # Tune's own hint is not raygan's command
    assert "Stop signal received" not in stopped.stderr  # Tune's: 'Ctrl+C' on a SIGTERM too
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
    done_before = part_rows(run, "replicate")
    finished_seeds = set(pd.concat(done_before.values()).seed)
    assert len(finished_seeds) == 2 * len(finished)
    check_resumed(cmd, cli_env, run, finished)

    replicates = pd.read_parquet(run / "replicates.parquet")
    assert len(replicates) == 12 and set(replicates.replicate) == {0, 1}
    check_packed(run, "replicate", done_before)  # their replicate rows as they were
    for seed in finished_seeds:  # each of their steps ran once, before the kill
        steps = [line.split()[1] for line in (logs / f"{seed}.log").read_text().splitlines()]
        assert sorted(steps) == ["0", "1", "2"]
    for seed in set(replicates.seed):  # the others: no step twice but the one cut by the kill
        steps = [line.split()[1] for line in (logs / f"{seed}.log").read_text().splitlines()]
        assert len(steps) - len(set(steps)) <= 1 and set(steps) == {"0", "1", "2"}


def test_a_trial_worker_stopped_by_sigterm_inside_a_callback_prints_nothing(ray_session):
    """Ray's worker raises SystemExit from its SIGTERM handler wherever its main thread is;
    landing in a weakref callback, Python would print an 'Exception ignored' traceback that
    the driver forwards. The hook is in place from the trainable's import (an actor's
    creation: Tune also stops actors that never ran a trial), only on a worker; other
    exceptions in callbacks still print."""
    import sys

    import ray

    def in_a_fresh_worker() -> tuple[bool, str]:
        import importlib
        import io
        import sys
        import weakref

        untouched = sys.unraisablehook is sys.__unraisablehook__
        importlib.import_module("raygan.engine.trainable")  # what creating a trial actor does

        class Thing:
            pass

        def stopped(_):
            raise SystemExit(1)  # what Ray's SIGTERM handler raises, here in the callback

        def broken(_):
            raise ValueError("a real bug")

        err, sys.stderr = sys.stderr, io.StringIO()
        try:
            a, b = Thing(), Thing()
            refs = weakref.ref(a, stopped), weakref.ref(b, broken)  # noqa: F841
            del a, b
            return untouched, sys.stderr.getvalue()
        finally:
            sys.stderr = err

    # a runtime env of its own: a new worker process, which has imported nothing of raygan
    fresh = {"env_vars": {"RAYGAN_TEST_FRESH_WORKER": str(os.getpid())}}
    untouched, printed = ray.get(ray.remote(in_a_fresh_worker).options(runtime_env=fresh).remote())
    assert untouched
    assert "SystemExit" not in printed
    assert "ValueError: a real bug" in printed
    import raygan.engine.trainable  # noqa: F401

    assert getattr(sys.unraisablehook, "__module__", "") != "raygan.engine.compat"
