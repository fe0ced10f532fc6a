"""The engine on a real local Ray: real Tune, real OptunaSearch, real Parquet files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from raygan import derive_seed, load_spec
from raygan.engine import run_study
from raygan.experiments.seqgan import SeqGANExperiment
from raygan.results import PART_KINDS, RunStore, history_schema
from raygan.sample import _kept_checkpoint


def brute_force_front(values: np.ndarray, modes: list[str]) -> np.ndarray:
    signs = np.array([1.0 if m == "max" else -1.0 for m in modes])
    v = values * signs
    front = []
    for i in range(len(v)):
        dominated = any(
            np.all(v[j] >= v[i]) and np.any(v[j] > v[i]) for j in range(len(v)) if j != i
        )
        front.append(not dominated)
    return np.array(front)


def optuna_trials(run_dir, name):
    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.journal")))
    return optuna.load_study(study_name=name, storage=storage).trials


def test_seqgan_smoke_study_end_to_end(ray_session, tmp_path):
    spec = load_spec(
        "seqgan_tradeoff", profile="smoke", overrides=["budget.num_samples=4", "sampler=random"]
    )
    lines: list[str] = []
    out = run_study(spec, storage=str(tmp_path), name="s1", verbose=0, echo=lines.append)
    run = tmp_path / "s1"
    assert list(tmp_path.iterdir()) == [run]  # nothing written beside the run directory

    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 4 and set(trials.status) == {"completed"}
    # 4 distinct configurations; the smoke space has 6, so random search may repeat one:
    # a repeat is told, not trained, and takes an Optuna trial number (skipped here)
    assert trials.trial_index.is_unique and trials.trial_index.min() == 0
    params = [c for c in trials.columns if c.startswith("param_")]
    assert not trials.duplicated(params).any()
    for col in (
        "study",
        "run",
        "trial_id",
        "status",
        "error",
        "seed",
        "param_duplication",
        "param_rounds",
        "wall_time_s",
        "cpus",
        "gpus",
        "node",
        "raygan_version",
        "pareto",
    ):
        assert col in trials.columns
    for m in SeqGANExperiment.metrics:
        assert trials[m].dtype == np.float64
    # every trial's seed derives from the study seed and its index
    assert list(trials.seed) == [derive_seed(spec.seed, i) for i in trials.trial_index]
    assert (trials.gpus == 0.0).all() and (trials.cpus == 1.0).all()  # no GPU here
    assert (trials.steps == trials.param_rounds + 1).all()
    assert (trials.peak_rss_mb > 50).all()  # a worker with torch loaded holds more than that

    history = pd.read_parquet(run / "history.parquet")
    assert len(history) == trials.steps.sum()
    for _, t in trials.iterrows():
        steps = history[history.trial_id == t.trial_id].step
        assert list(steps) == list(range(t.steps))
        kept = history[(history.trial_id == t.trial_id) & (history.step == t.kept_step)]
        assert kept.validity.item() == t.validity  # the row is the round that stands for it

    expected = brute_force_front(trials[["validity", "memorization"]].to_numpy(), ["max", "min"])
    assert list(trials.pareto) == list(expected)
    pareto = pd.read_parquet(run / "pareto.parquet")
    assert sorted(pareto.trial_id) == sorted(trials[trials.pareto].trial_id)

    assert load_spec(run / "study.toml").num_samples == 4  # the study as run, overrides in
    # the trained trials; a proposal repeating one (random search in a space of 6) is
    # told, not trained, and marked raygan_repeat_of
    told = optuna_trials(run, "s1")
    trained = [t.state for t in told if "raygan_repeat_of" not in t.user_attrs]
    assert trained == [optuna.trial.TrialState.COMPLETE] * 4
    assert sum(line.startswith("[raygan] trial ") for line in lines) == 4
    assert "Pareto front" in out.summary and out.completed == 4
    assert (run / "report.html").is_file() and f"report: {run / 'report.html'}" in out.summary

    # the finished run's parts are packed, one file per kind (raygan.results.store); the
    # tables made before packing are what the run holds, and the packed parts read the same
    packed = sorted(p.name for p in (run / "parts").iterdir())
    assert {"trial.parquet", "history.parquet"} <= set(packed)
    assert set(packed) <= {f"{kind}.parquet" for kind in PART_KINDS}
    assert trials.equals(out.tables.trials.to_pandas())
    schema = history_schema(spec, SeqGANExperiment.metrics)
    parts = RunStore(str(tmp_path), "s1").read_parts("history", schema)
    parts = parts.sort_by([("trial_index", "ascending"), ("step", "ascending")])
    assert history.equals(parts.to_pandas())


def test_failed_trials_are_rows_and_optuna_fails(ray_session, faulty_study, tmp_path):
    spec = load_spec(
        faulty_study,
        overrides=["fixed.fail_at=1", "fixed.fail_when_x_above=0.5", "budget.num_samples=8"],
    )
    run_study(spec, storage=str(tmp_path), name="f1", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "f1" / "trials.parquet")
    assert len(trials) == 8
    failed = trials[trials.status == "failed"]
    assert len(failed) == (trials.param_x > 0.5).sum() > 0
    assert failed.error.str.contains("injected failure at step 1").all()
    assert failed.score.isna().all() and not failed.pareto.any()
    ok = trials[trials.status == "completed"]
    assert ok.error.isna().all()
    states = {t.number: t.state for t in optuna_trials(tmp_path / "f1", "f1")}
    for _, t in trials.iterrows():
        want = (
            optuna.trial.TrialState.FAIL
            if t.status == "failed"
            else optuna.trial.TrialState.COMPLETE
        )
        assert states[t.trial_index] == want


def test_nan_fails_the_trial_once_and_never_reaches_optuna(ray_session, faulty_study, tmp_path):
    spec = load_spec(
        faulty_study,
        overrides=[
            "fixed.fail_at=1",
            'fixed.fail_mode="nan"',
            "budget.num_samples=4",
            "budget.max_failures=2",
            "search.x.low=0.6",
            "fixed.fail_when_x_above=0.5",
        ],
    )
    run_study(spec, storage=str(tmp_path), name="n1", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "n1" / "trials.parquet")
    assert (trials.status == "failed").all()
    assert trials.error.str.contains("non-finite score=nan").all()
    assert (trials.retries == 0).all()  # Tune restarted each, but the restart trained nothing
    history = pd.read_parquet(tmp_path / "n1" / "history.parquet")
    assert (history.step == 0).all() and len(history) == 4  # the NaN round was never reported
    states = [t.state for t in optuna_trials(tmp_path / "n1", "n1")]
    assert states == [optuna.trial.TrialState.FAIL] * 4


def test_killed_worker_is_retried_from_its_checkpoint(ray_session, faulty_study, tmp_path):
    """SIGKILL the process running a trial (an OOM kill, a preempted machine): Tune's
    FailureConfig retries it from its last checkpoint and the row counts the retry."""
    logs = tmp_path / "logs"
    logs.mkdir()
    spec = load_spec(
        faulty_study,
        overrides=[
            "budget.num_samples=2",
            "budget.max_failures=1",
            "fixed.steps=5",
            "fixed.sleep_s=0.4",
            f"fixed.log_dir={str(logs)!r}",
            "budget.checkpoint_every_s=0",  # a checkpoint every round
        ],
    )
    victim: dict = {}

    def kill_one_trial_mid_way():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for log in logs.glob("*.log"):
                steps = log.read_text().split()
                if len(steps) >= 4:  # two steps done: the first one's checkpoint is saved
                    victim.update(log=log.name, pid=int(steps[-2]))
                    os.kill(victim["pid"], signal.SIGKILL)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_trial_mid_way)
    killer.start()
    run_study(spec, storage=str(tmp_path), name="w1", verbose=0, echo=lambda s: None)
    killer.join()
    assert victim, "no trial was killed"

    trials = pd.read_parquet(tmp_path / "w1" / "trials.parquet")
    assert (trials.status == "completed").all() and (trials.steps == 5).all()
    killed = trials[trials.seed == int(victim["log"].removesuffix(".log"))]
    assert killed.retries.item() == 1
    assert (trials[trials.trial_id != killed.trial_id.item()].retries == 0).all()
    # the retry ran in another process and began after the checkpoint, not at step 0
    runs = [line.split() for line in (logs / victim["log"]).read_text().splitlines()]
    after = [int(step) for pid, step in runs if int(pid) != victim["pid"]]
    assert after and after[0] >= 1 and after[-1] == 4
    history = pd.read_parquet(tmp_path / "w1" / "history.parquet")
    assert len(history) == 10 and not history.duplicated(["trial_id", "step"]).any()
    states = [t.state for t in optuna_trials(tmp_path / "w1", "w1")]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2


def test_time_budget_ends_the_study_with_stopped_rows(ray_session, faulty_study, tmp_path):
    """Running out of budget.time_budget_s is an end, not an interruption: the trials it
    cut short are 'stopped' rows, kept off the front, and the final tables are written."""
    spec = load_spec(
        faulty_study,
        overrides=[
            "budget.time_budget_s=25",
            "fixed.steps=1000",
            "fixed.sleep_s=0.1",
            "fixed.peak_at=1",
            *BEST_ROUND,
        ],
    )
    out = run_study(spec, storage=str(tmp_path), name="tb", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "tb" / "trials.parquet")
    assert 1 <= len(trials) < 6 and (trials.status == "stopped").all()
    assert (trials.steps.between(3, 999)).all() and not trials.pareto.any()
    # the best step so far stands for a stopped trial too
    assert (trials.kept_step == 1).all() and (trials.score == trials.param_x).all()
    assert trials.retries.isna().all()  # not in what Tune hands back for these trials
    assert out.completed == 0


BEST_ROUND = ["result.round=best", "result.reference={score = 0.0, cost = 2.0}"]


def test_best_round_stands_for_the_trial_in_rows_optuna_and_checkpoints(
    ray_session, faulty_study, tmp_path
):
    """With [result] round = "best", the row, the summary and what Optuna is told are the
    best step's scores (step 1 of 0..2 here, which scores x; the others x / 2), the history
    keeps every step as it was, and the trial's one checkpoint (its last round: the
    checkpoints are 30 s apart) holds that step's state in kept/, where sample finds it."""
    common = ["fixed.steps=3", "fixed.peak_at=1", "budget.num_samples=2"]
    lines: list[str] = []
    out = run_study(
        load_spec(faulty_study, overrides=[*common, *BEST_ROUND]),
        storage=str(tmp_path),
        name="best",
        verbose=0,
        echo=lines.append,
    )
    trials = pd.read_parquet(tmp_path / "best" / "trials.parquet")
    assert (trials.status == "completed").all() and (trials.steps == 3).all()
    assert (trials.score == trials.param_x).all() and (trials.kept_step == 1).all()
    assert (trials.cost == trials.param_x**2 + trials.param_y).all()
    history = pd.read_parquet(tmp_path / "best" / "history.parquet").sort_values("step")
    assert len(history) == 6
    for trial_id, steps in history.groupby("trial_id"):
        x = trials.set_index("trial_id").param_x[trial_id]
        assert steps.score.tolist() == [x / 2, x, x / 2]
    for t in optuna_trials(tmp_path / "best", "best"):
        assert t.values == [t.params["x"], t.params["x"] ** 2 + t.params["y"]]
    assert sum("(from step 1, its best of 3)" in line for line in lines) == 2
    assert "each trial at its best step" in out.summary
    for trial_id in trials.trial_id:
        (trial_dir,) = (tmp_path / "best" / "tune").glob(f"faulty_study_{trial_id}_*")
        (checkpoint,) = trial_dir.glob("checkpoint_*")
        saved = json.loads((checkpoint / "raygan.json").read_text())
        assert (saved["last"]["step"], saved["kept"]["step"]) == (2, 1)
        assert _kept_checkpoint(tmp_path / "best", trial_id, 1) == checkpoint / "kept"
        assert _kept_checkpoint(tmp_path / "best", trial_id, 2) == checkpoint

    run_study(
        load_spec(faulty_study, overrides=common),
        storage=str(tmp_path),
        name="last",
        verbose=0,
        echo=lambda s: None,
    )
    trials = pd.read_parquet(tmp_path / "last" / "trials.parquet")
    assert (trials.score == trials.param_x / 2).all() and (trials.kept_step == 2).all()
    for t in optuna_trials(tmp_path / "last", "last"):
        assert t.values[0] == t.params["x"] / 2


def test_kept_result_restates_the_best_round_with_the_run_facts_of_the_last():
    from raygan.engine.trainable import KEPT
    from raygan.engine.trainable import kept_result as _kept_result

    last = {"score": 0.2, "step": 2, "steps_done": 3, "num_steps": 3, "trial_time_s": 9.0}
    kept = {"score": 0.4, "step": 1}  # the kept round's own part: its metrics and step
    assert _kept_result(last, None) is last
    assert _kept_result(last, dict(last)) is last  # the last step is the best: no restating
    assert _kept_result(last, kept) == {**last, "score": 0.4, "step": 1, KEPT: True}


def test_grid_study_visits_every_point_once_and_ends_quietly(ray_session, tmp_path):
    import logging

    from faulty_experiment import study_text

    study = tmp_path / "grid.toml"
    search = """
[search.steps]
type = "int"
low = 1
high = 3

[search.x]
type = "categorical"
choices = [0.2, 0.8]
"""
    study.write_text(study_text(search, sampler="grid"))
    heard: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: heard.append(record.getMessage())
    optuna_search = logging.getLogger("ray.tune.search.optuna.optuna_search")
    optuna_search.addHandler(handler)
    try:
        out = run_study(
            load_spec(study), storage=str(tmp_path), name="g", verbose=0, echo=lambda line: None
        )
    finally:
        optuna_search.removeHandler(handler)
    trials = pd.read_parquet(tmp_path / "g" / "trials.parquet")
    assert out.completed == 6
    assert sorted(zip(trials.param_steps, trials.param_x, strict=True)) == [
        (n, x) for n in (1, 2, 3) for x in (0.2, 0.8)
    ]
    assert (trials.steps == trials.param_steps).all()
    # the sampler stopping the study after the last point neither fails that trial in
    # Optuna nor reaches the user as a warning
    states = {t.state for t in optuna_trials(tmp_path / "g", "g")}
    assert states == {optuna.trial.TrialState.COMPLETE}
    assert not [m for m in heard if "Study.stop" in m]


START = "\n[[start]]\nx = 0.9\ny = 0.1\n\n[[start]]\nx = 0.3\ny = 0.5\n"


def test_start_points_run_first_then_the_sampler(ray_session, faulty_study, tmp_path):
    study = tmp_path / "started.toml"
    study.write_text(faulty_study.read_text() + START)
    spec = load_spec(study, overrides=["sampler=nsga2", "budget.num_samples=4"])
    run_study(spec, storage=str(tmp_path), name="st", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "st" / "trials.parquet").sort_values("trial_index")
    points = list(zip(trials.param_x, trials.param_y, strict=True))
    assert points[:2] == [(0.9, 0.1), (0.3, 0.5)]
    assert not set(points[2:]) & {(0.9, 0.1), (0.3, 0.5)}  # the sampler's own picks
    assert (trials.status == "completed").all()


def test_start_points_are_queued_once_per_optuna_study(ray_session, faulty_study, tmp_path):
    # a run restarted before Tune's first snapshot builds its searcher again on the same
    # journal: the start points queued the first time are still there, waiting
    from raygan.engine.optuna_storage import OptunaStorage
    from raygan.engine.search import make_searcher as _make_searcher

    study = tmp_path / "started.toml"
    study.write_text(faulty_study.read_text() + START)
    spec = load_spec(study)
    journal = tmp_path / "optuna.journal"
    for _ in range(2):
        _make_searcher(spec, storage=OptunaStorage(journal=journal), study_name="s")
        waiting = [t.system_attrs["fixed_params"] for t in optuna_trials(tmp_path, "s")]
        assert waiting == [{"x": 0.9, "y": 0.1}, {"x": 0.3, "y": 0.5}]


def test_existing_run_is_never_overwritten(ray_session, faulty_study, tmp_path):
    from raygan.engine import StudyError

    spec = load_spec(faulty_study, overrides=["budget.num_samples=1"])
    run_study(spec, storage=str(tmp_path), name="r1", verbose=0, echo=lambda s: None)
    before = (tmp_path / "r1" / "trials.parquet").read_bytes()
    with pytest.raises(StudyError, match="already exists; add --resume"):
        run_study(spec, storage=str(tmp_path), name="r1", verbose=0, echo=lambda s: None)
    assert (tmp_path / "r1" / "trials.parquet").read_bytes() == before


def test_uri_storage_tensorboard_and_optuna_dashboard_view(ray_session, faulty_study, tmp_path):
    spec = load_spec(faulty_study, overrides=["budget.num_samples=3"])
    out = run_study(spec, storage=tmp_path.as_uri(), name="u1", verbose=0, echo=lambda s: None)
    run = tmp_path / "u1"
    assert out.location.startswith("file://")
    # what it prints is the path a shell or TensorBoard takes, not the URI
    lines = out.summary.splitlines()
    assert f"results: {run}/" in lines and f"report: {run}/report.html" in lines
    for name in (
        "trials.parquet",
        "history.parquet",
        "pareto.parquet",
        "study.toml",
        "run.json",
        "optuna.journal",
        "report.html",
    ):
        assert (run / name).is_file(), name
    assert len(pd.read_parquet(run / "trials.parquet")) == 3
    # TensorBoard: Tune writes one event file per trial (tensorboardX comes with ray[tune])
    assert len(list((run / "tune").rglob("events.out.tfevents*"))) == 3
    # optuna-dashboard opens the journal file: a fresh process must see every trial
    code = (
        "import optuna, sys\n"
        "from optuna.storages import JournalStorage\n"
        "from optuna.storages.journal import JournalFileBackend\n"
        "s = optuna.load_study(study_name='u1', storage=JournalStorage(JournalFileBackend(sys.argv[1])))\n"
        "print(len(s.trials), sorted({t.state.name for t in s.trials}), [d.name for d in s.directions])\n"
    )
    seen = subprocess.run(
        [sys.executable, "-c", code, str(run / "optuna.journal")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert seen.stdout.strip() == "3 ['COMPLETE'] ['MAXIMIZE', 'MINIMIZE']", seen.stderr


def _tune_encode_keys() -> list[str]:
    from ray.util import debug

    return [k for k in debug._logged if k.startswith("tune_func_encode:")]


def test_finished_trials_leave_no_running_statistics_on_the_driver():
    """Tune keeps every Trial for the whole run; raygan drops the per-metric statistics
    of finished ones (most of the driver's growth per trial) and keeps the last result."""
    from ray.tune.experiment import Trial

    from raygan.engine.compat import release_finished_trial as _release_finished_trial

    trial = Trial("__fake", stub=True)  # a real Tune Trial, not started
    for step in range(1, 4):
        trial.update_last_result({"validity": 0.1 * step, "training_iteration": step})
    before = trial.run_metadata.get_json_state()
    assert "validity" in trial.run_metadata.metric_analysis
    # the windowed means' deques can only be pickled into Tune's JSON snapshot, and Ray
    # remembers a log_once key for every object pickled there
    assert "CLOUDPICKLE_FALLBACK" in before and _tune_encode_keys()
    _release_finished_trial(trial)
    assert _tune_encode_keys() == []
    assert trial.run_metadata.metric_analysis == {} and trial.run_metadata.metric_n_steps == {}
    assert trial.last_result["validity"] == pytest.approx(0.3)  # what raygan's rows need
    assert len(trial.run_metadata.get_json_state()) < len(before)  # Tune's snapshot shrinks


def test_running_trials_keep_no_windowed_means():
    from ray.tune.experiment import Trial

    from raygan.engine.compat import skip_windowed_means as _skip_windowed_means

    trial = Trial("__fake", stub=True)
    _skip_windowed_means(trial)  # what raygan does when a trial starts
    for step in range(1, 4):
        trial.update_last_result({"validity": 0.1 * step, "training_iteration": step})
    assert trial.run_metadata.metric_analysis["validity"]["max"] == pytest.approx(0.3)
    state = json.loads(trial.run_metadata.get_json_state())  # Tune's snapshot of it
    assert state["metric_n_steps"] == {"validity": {}, "training_iteration": {}}  # no deques


def test_a_study_leaves_no_per_result_state_on_the_driver(ray_session, faulty_study, tmp_path):
    """Trials that ended leave Tune's controller as the next ones start (its snapshot,
    which grows with every trial it holds, too); those it still holds keep their last
    result but no running statistics."""
    import gc

    from ray.tune.experiment import Trial

    spec = load_spec(
        faulty_study,
        overrides=["budget.num_samples=8", "budget.max_concurrent=2", "fixed.steps=4"],
    )
    from tensorboardX.event_file_writer import EventFileWriter

    trials_held: list[int] = []  # this run's Trial objects, running ones included
    optuna_trials_held: list[int] = []  # the Optuna Trials its search asked for
    seen_ids: set[str] = set()
    ended_trials_held: list[int] = []
    event_writers_held: list[int] = []

    run = str(tmp_path / "lean")

    def echo(line: str) -> None:  # on the driver, as each trial's row is written
        if not line.startswith("[raygan] trial "):
            return
        # torch.distributed.reduce_op warns when a walk of every object touches it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            count_held()

    def count_held() -> None:
        gc.collect()
        held = gc.get_objects()  # this run's only: the session's other studies ran here
        trials = [o for o in held if isinstance(o, Trial) and o.storage.storage_fs_path == run]
        trials_held.append(len(trials))
        ended_trials_held.append(sum(t.status in ("TERMINATED", "ERROR") for t in trials))
        optuna_trials_held.append(
            sum(isinstance(o, optuna.Trial) and o.study.study_name == "lean" for o in held)
        )
        seen_ids.update(t.trial_id for t in trials)  # a trial's writer's logdir names it
        event_writers_held.append(
            sum(
                isinstance(o, EventFileWriter) and any(i in o.get_logdir() for i in seen_ids)
                for o in held
            )
        )

    run_study(spec, storage=str(tmp_path), name="lean", verbose=0, echo=echo)
    # nothing of Tune's (controller, loggers, console, checkpoint manager) keeps them,
    # nor tensorboardX's exit hooks their event writers (one per running trial)
    assert len(ended_trials_held) == 8 and max(ended_trials_held) <= 2, ended_trials_held
    assert max(event_writers_held) <= 2, event_writers_held
    # nor the search the Optuna Trials it asked for (Optuna's storage keeps their records)
    assert max(optuna_trials_held) <= 2 and max(optuna_trials_held) >= 1, optuna_trials_held
    assert min(trials_held) >= 1 and min(event_writers_held) >= 1  # the counts see this run
    events = list((tmp_path / "lean" / "tune").glob("*/events.out.tfevents.*"))
    assert len(events) == 8 and all(e.stat().st_size > 500 for e in events)
    assert _tune_encode_keys() == []
    rows = pd.read_parquet(tmp_path / "lean" / "trials.parquet")
    assert len(rows) == 8 and (rows.status == "completed").all()
    (state_file,) = (tmp_path / "lean" / "tune").glob("experiment_state-*.json")
    trials = json.loads(state_file.read_text())["trial_data"]
    assert 1 <= len(trials) <= 3  # at most max_concurrent and the one that just ended
    for _, runtime in trials:
        runtime = json.loads(runtime)
        assert runtime["metric_n_steps"] == {} and runtime["metric_analysis"] == {}
        assert runtime["last_result"]["step"] == 3 and "score" in runtime["last_result"]


def test_ended_trials_leave_tunes_staging_folder(ray_session, faulty_study, tmp_path):
    """Tune's loggers write each trial's files into a staging folder on the driver, which
    Tune uploads whole at every snapshot; a trial that ended has its files moved to the
    run once, so that folder holds only the trials running or just ended, not every trial
    so far, and the run ends with every trial's files in its tune/ folder."""
    import gc
    from pathlib import Path

    from ray.tune.experiment import Trial

    spec = load_spec(
        faulty_study,
        overrides=["budget.num_samples=10", "budget.max_concurrent=2", "fixed.steps=2"],
    )
    run = str(tmp_path / "staged")
    staging: list[Path] = []
    staged: list[int] = []  # trial folders in the staging folder, as each trial ends

    def echo(line: str) -> None:
        if not line.startswith("[raygan] trial "):
            return
        if not staging:
            gc.collect()
            with warnings.catch_warnings():  # torch.distributed.reduce_op, walked past
                warnings.simplefilter("ignore", FutureWarning)
                trial = next(
                    o
                    for o in gc.get_objects()
                    if isinstance(o, Trial) and o.storage.storage_fs_path == run
                )
            staging.append(Path(trial.local_experiment_path))
        staged.append(sum(1 for p in staging[0].iterdir() if (p / "params.json").is_file()))

    run_study(spec, storage=str(tmp_path), name="staged", verbose=0, echo=echo)
    assert len(staged) == 10 and max(staged) <= 4, staged
    folders = [p for p in (tmp_path / "staged" / "tune").iterdir() if p.is_dir()]
    assert len(folders) == 10
    for folder in folders:
        names = {p.name for p in folder.iterdir()}
        assert {"params.json", "progress.csv", "result.json"} <= names, names
        (events,) = folder.glob("events.out.tfevents.*")
        assert events.stat().st_size > 500
        progress = pd.read_csv(folder / "progress.csv")
        assert len(progress) == 2  # both rounds: the files were closed before they moved


def test_ended_trial_logs_move_only_while_tune_uploads_nothing(tmp_path, caplog):
    """EndedTrialLogs moves a trial's folder out of the staging folder and copies it to
    storage (a folder whose copy fails goes back); the scheduler moves only while Tune's
    upload is idle, and where that cannot be seen leaves every file to Tune."""
    from types import SimpleNamespace as Fake

    import pyarrow.fs as pafs

    from raygan.engine import compat
    from raygan.engine.scheduler import ReleasingFIFOScheduler
    from raygan.engine.tune_output import EndedTrialLogs, wait_for_ended_trial_logs

    def controller(**syncer):
        return Fake(_storage=Fake(syncer=Fake(**syncer)))

    assert compat.staging_upload_idle(controller(_sync_process=None)) is True
    running = Fake(is_running=True)
    assert compat.staging_upload_idle(controller(_sync_process=running)) is False
    done = Fake(is_running=False)
    assert compat.staging_upload_idle(controller(_sync_process=done)) is True
    never = Fake(is_running=None)  # Ray's, for a process never started
    assert compat.staging_upload_idle(controller(_sync_process=never)) is True
    assert compat.staging_upload_idle(controller()) is None  # a Ray without _sync_process
    scheduler = ReleasingFIFOScheduler()
    scheduler.on_trial_add(controller(), None)
    assert scheduler.logs is None  # given up: nothing collects for a move that never comes

    staging = tmp_path / "exp" / "driver_artifacts"
    fs = pafs.LocalFileSystem()
    trials = []
    for name in ("a", "b"):
        (staging / name).mkdir(parents=True)
        (staging / name / "progress.csv").write_text("step\n0\n")
        trials.append(Fake(local_path=str(staging / name), storage=Fake(storage_filesystem=fs)))
    trials[0].path = str(tmp_path / "run" / "tune" / "a")
    (tmp_path / "run" / "tune").mkdir(parents=True)
    (tmp_path / "run" / "tune" / "b").write_text("a file where b's folder should go")
    trials[1].path = str(tmp_path / "run" / "tune" / "b")
    logs = EndedTrialLogs()
    logs.add(trials)
    logs.move()
    wait_for_ended_trial_logs()
    assert (tmp_path / "run" / "tune" / "a" / "progress.csv").read_text() == "step\n0\n"
    assert sorted(p.name for p in staging.iterdir()) == ["b"]  # a moved; b's copy failed
    assert (staging / "b" / "progress.csv").is_file() and logs.waiting == []
    (said,) = [r.getMessage() for r in caplog.records if "logger files" in r.getMessage()]
    assert str(tmp_path / "run" / "tune" / "b") in said and "Tune's next upload" in said
