"""The dashboards a user watches a running study in, opened in headless Chromium while the
study's trials are running: optuna-dashboard on the run's Optuna journal, and the Ray
dashboard's actors page. The trials wait at a gate (tests/support/gated_experiment.py)
until the test has looked, then the study ends normally.

Skipped without Chromium or without the ``dashboard`` extra (optuna-dashboard,
ray[default]).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from browser import find_chromium, render, visible_text
from gated_experiment import close_gate, open_gate, study_text, tickets

from raygan import load_spec, register_experiment

SUPPORT = Path(__file__).parent / "support"
PATIENCE_S = 60  # for a server to answer or the trials to reach the gate, on a loaded machine


# Session scope, and named before ray_session: a test skips before Ray starts for it.
@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def optuna_dashboard() -> None:
    pytest.importorskip("optuna_dashboard", reason="the dashboard extra is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict | None:
    """The JSON at ``url``, or None while the server is not answering yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _wait_for(what: str, probe, *, timeout_s: float = PATIENCE_S):
    """The first truthy ``probe()``, polled; TimeoutError naming ``what`` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"gave up waiting for {what} after {timeout_s} s")


def _plot_points(dom: str, title: str) -> int:
    """Markers Plotly drew in the first plot after the heading ``title``."""
    start = dom.index(f">{title}<")
    plot = dom.index("js-plotly-plot", start)
    end = dom.find("js-plotly-plot", plot + 1)
    return dom[plot : end if end != -1 else len(dom)].count('class="point"')


def _optuna_dashboard_command() -> str:
    """The optuna-dashboard command of this Python's environment (it has no ``-m`` entry)."""
    beside = Path(sys.executable).with_name("optuna-dashboard")
    return str(beside) if beside.is_file() else "optuna-dashboard"


def _look_at_optuna_dashboard(chromium: str, run: Path, gate: Path, seen: dict) -> None:
    """While the study runs: serve its journal with optuna-dashboard, wait until two trials
    are complete and two wait at the gate, and render the trial list and the study's
    overview (where a two-objective study has its Pareto front) in Chromium."""
    journal = run / "optuna.journal"
    _wait_for("the run's Optuna journal", journal.is_file)
    port = _free_port()
    with (run.parent / "optuna-dashboard.err").open("w") as stderr:
        server = subprocess.Popen(
            [
                _optuna_dashboard_command(),
                str(journal),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def two_done_two_running():
            if server.poll() is not None:
                raise RuntimeError(f"optuna-dashboard exited with status {server.returncode}")
            study = _get_json(f"{base}/api/studies/0")
            states = sorted(t["state"] for t in study["trials"]) if study else []
            return states == ["Complete", "Complete", "Running", "Running"] and study

        study = _wait_for("2 complete and 2 running trials", two_done_two_running)
        seen["api"] = study
        seen["trials_page"] = render(chromium, f"{base}/dashboard/studies/0/trials")
        seen["overview"] = render(chromium, f"{base}/dashboard/studies/0")
        seen["still_waiting"] = tickets(gate) == 4 and not (run / "trials.parquet").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_optuna_dashboard_shows_the_running_studys_trials_and_front(
    chromium, optuna_dashboard, ray_session, tmp_path
):
    from raygan.engine import run_study

    register_experiment("gated", "gated_experiment:GatedExperiment")
    gate = tmp_path / "gate"
    close_gate(gate)
    study_file = tmp_path / "gated.toml"
    # two trials pass the gate and complete, the next two wait at it
    study_file.write_text(study_text(gate, num_samples=4, free=2), encoding="utf-8")
    run = tmp_path / "runs" / "live"
    seen: dict = {}

    def watch():
        try:
            _look_at_optuna_dashboard(chromium, run, gate, seen)
        except Exception as e:  # reported by the test, after the study ended
            seen["error"] = e
        finally:
            open_gate(gate)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out = run_study(
            load_spec(study_file),
            storage=str(run.parent),
            name="live",
            verbose=0,
            echo=lambda s: None,
        )
    finally:
        open_gate(gate)
        watcher.join(timeout=2 * PATIENCE_S)
    if "error" in seen:
        said = _tail(run.parent / "optuna-dashboard.err")
        raise AssertionError(f"{seen['error']}; optuna-dashboard said: {said}")

    assert seen["still_waiting"], "the study was over before the dashboard was read"
    assert seen["api"]["name"] == "live" and seen["api"]["directions"] == [
        "maximize",
        "minimize",
    ]
    trials = visible_text(seen["trials_page"])
    assert "live" in trials and "4 Trials" in trials
    for number in range(4):
        assert f"Trial {number}" in trials, trials[:2000]
    # the trial list shows each trial's state as the journal has it now (the first
    # trial's details, opened beside the list, start at its "(trial_id=0)")
    listing, _, details = trials.partition("(trial_id=0)")
    assert listing.count("Complete") == 2 and listing.count("Running") == 2, trials[:2000]
    by_number = {t["number"]: t for t in seen["api"]["trials"]}
    states = [by_number[n]["state"] for n in range(4)]
    # which two pass the gate is the order their workers reach it
    assert sorted(states) == ["Complete"] * 2 + ["Running"] * 2
    # the first trial's details: its state, objective values (none while it runs) and
    # parameters
    assert details.split()[0] == states[0], details[:500]
    # (the API leaves "values" out of a running trial)
    values = ", ".join(repr(v) for v in by_number[0].get("values") or [None])
    assert f"Value {values}" in details, details[:2000]
    for param in by_number[0]["params"]:
        assert f"{param['name']} {param['param_external_value']}" in details

    overview = visible_text(seen["overview"])
    assert "Pareto Front" in overview and "Best Trials" in overview
    # both completed trials are points of the front plot; running ones have no values yet
    assert _plot_points(seen["overview"], "Pareto Front") == 2

    # the study then ends normally, the trials that waited included
    assert out.completed == 4
    table = pd.read_parquet(run / "trials.parquet")
    assert list(table.status) == ["completed"] * 4


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def _end(driver: subprocess.Popen) -> None:
    """Wait for the study's driver to finish; stop it (as Ctrl-C would: it shuts its Ray
    down) if it does not."""
    try:
        driver.wait(timeout=PATIENCE_S)
    except subprocess.TimeoutExpired:
        driver.terminate()
        driver.wait(timeout=PATIENCE_S)


def _ray_actors(base: str) -> list[dict]:
    """The actors the dashboard's actors page lists: the JSON it fetches, /logical/actors."""
    answer = _get_json(f"{base}/logical/actors")
    return list(answer["data"]["actors"].values()) if answer else []


def test_ray_dashboard_lists_the_running_trials_as_actors(chromium, cli_env, tmp_path):
    # Ray's own test of whether it can serve its dashboard: what ray[default] adds
    pytest.importorskip("ray.dashboard.optional_deps", reason="ray[default] is not installed")
    gate = tmp_path / "gate"
    close_gate(gate)
    study_file = tmp_path / "gated.toml"
    study_file.write_text(study_text(gate, num_samples=2, free=0), encoding="utf-8")
    port = _free_port()
    env = dict(cli_env)
    # Ray (2.60) guards a new local cluster's dashboard with a token that the page asks
    # for in a dialog, which Chromium's command line cannot fill; this cluster is the
    # test's own and listens on 127.0.0.1 only.
    env["RAY_AUTH_MODE"] = "disabled"
    env.pop("RAY_ADDRESS", None)
    with (
        (tmp_path / "driver.out").open("w") as stdout,
        (tmp_path / "driver.err").open("w") as stderr,
    ):
        driver = subprocess.Popen(
            [
                sys.executable,
                str(SUPPORT / "dashboard_study.py"),
                str(study_file),
                str(tmp_path / "runs"),
                "ray1",
                str(port),
            ],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for("both trials at the gate", lambda: tickets(gate) == 2 or driver.poll())
        assert driver.poll() is None, _tail(tmp_path / "driver.err")

        def two_trial_actors():
            alive = [
                a
                for a in _ray_actors(base)
                if a["state"] == "ALIVE" and a["reprName"] == "raygan_trial"
            ]
            return alive if len(alive) == 2 else None

        actors = _wait_for("two trial actors in the Ray dashboard", two_trial_actors)
        page = visible_text(render(chromium, f"{base}/#/actors"))
        waiting = (
            tickets(gate) == 2 and not (tmp_path / "runs" / "ray1" / "trials.parquet").exists()
        )
    finally:
        open_gate(gate)
        _end(driver)
    assert driver.returncode == 0, _tail(tmp_path / "driver.err")

    assert waiting, "the study was over before the dashboard was read"
    # Tune runs each trial in an actor of its function-trainable class, shown with the
    # trainable's name as its repr; one CPU each, as the study's resources say
    assert {a["className"] for a in actors} == {"ImplicitFunc"}
    assert all(a["requiredResources"] == {"CPU": 1.0} for a in actors)
    assert re.search(r"TOTAL x 2\b", page) and re.search(r"ALIVE x 2\b", page), page[:2000]
    assert page.count("raygan_trial") == 2 and page.count("ImplicitFunc") == 2, page[:2000]
    for actor in actors:  # each actor's row, by its id and its worker's process id
        assert actor["actorId"] in page and str(actor["pid"]) in page

    # and the study ended normally
    assert "2 trials: 2 completed" in (tmp_path / "driver.out").read_text()
