"""raygan.report on a run directory built by hand (no Ray): files, PNGs, page, CLI errors."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raygan.experiments import get_experiment
from raygan.report import load_run, main, plot_param, write_report
from raygan.results import (
    baseline_schema,
    history_schema,
    pareto_mask,
    trial_schema,
    validation_schema,
)
from raygan.spec import dump_toml, load_spec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# trial_index -> (status, validity, exact_copy); the front is 0 and 1: 2 is dominated by
# 1, and 4 would dominate everything but was stopped, so it is neither plotted nor on it
TRIALS = {
    0: ("completed", 0.2, 0.0),
    1: ("completed", 0.6, 0.1),
    2: ("completed", 0.3, 0.2),
    3: ("failed", None, None),
    4: ("stopped", 0.9, 0.05),
}
CREATED = "2026-01-02T03:04:05+00:00"


def _param_value(param, i: int):
    if param.type == "int":
        return param.low + i % (param.high - param.low + 1)
    if param.type == "categorical":
        return param.choices[i % len(param.choices)]
    return param.low + (param.high - param.low) * i / 4


def paper_document() -> dict:
    """The smoke profile, scored as the paper does: validity, exact copies."""
    document = load_spec("seqgan_tradeoff", profile="smoke").document
    document["objectives"] = {"validity": "max", "exact_copy": "min"}
    document["result"] = {"round": "best", "reference": {"validity": 0.0, "exact_copy": 1.0}}
    return document


def make_run(
    root: Path,
    *,
    study: str = "seqgan_tradeoff",
    document: dict | None = None,
    trials_by_index: dict | None = None,
) -> Path:
    """A run directory like the engine leaves: study.toml, run.json, trials and history
    (of ``trials_by_index``, TRIALS unless given)."""
    if document is None:
        document = paper_document()
    run_dir = root / "run1"
    run_dir.mkdir()
    (run_dir / "study.toml").write_text(dump_toml(document), encoding="utf-8")
    meta = {"study": study, "profile": "smoke", "run": "run1", "raygan_version": "0.1.0"}
    (run_dir / "run.json").write_text(json.dumps({**meta, "created": CREATED}), encoding="utf-8")
    spec = load_spec(run_dir / "study.toml")
    metrics = get_experiment(spec.experiment).metrics
    identity = {"study": study, "run": "run1"}
    trials, history = [], []
    for i, (status, validity, exact_copy) in (trials_by_index or TRIALS).items():
        ident = {**identity, "trial_id": f"t{i}", "trial_index": i}
        params = {f"param_{p.name}": _param_value(p, i) for p in spec.search}
        trials.append(
            {**ident, "status": status, "seed": 1000 + i, **params, "raygan_version": "0.1.0"}
            | {"validity": validity, "exact_copy": exact_copy}
        )
        for step in range(3 if status != "failed" else 1):
            scale = (step + 1) / 3
            v = None if validity is None else validity * scale
            m = None if exact_copy is None else exact_copy * scale
            history.append({**ident, "step": step, "validity": v, "exact_copy": m})
    # the front as the engine computes it: completed trials only, over the study's objectives
    done = [t for t in trials if t["status"] == "completed"]
    values = np.array([[t[o.metric] for o in spec.objectives] for t in done], dtype=float)
    values = values.reshape(len(done), len(spec.objectives))  # (0, k) when none completed
    mask = pareto_mask(values, [o.mode for o in spec.objectives])
    for t in trials:
        t["pareto"] = False
    for t, front in zip(done, mask, strict=True):
        t["pareto"] = bool(front)
    pq.write_table(
        pa.Table.from_pylist(trials, schema=trial_schema(spec, metrics)), run_dir / "trials.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist(history, schema=history_schema(spec, metrics)),
        run_dir / "history.parquet",
    )
    return run_dir


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    """One run directory and its report, shared: drawing the figures is the slow part."""
    run_dir = make_run(tmp_path_factory.mktemp("report"))
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    return run_dir, path.read_text(encoding="utf-8")


def _section(page: str, heading: str) -> str:
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else None]


FIGURES = ["pareto.png", "objective_vs_duplication.png", "objective_vs_rounds.png", "history.png"]


def test_writes_valid_pngs(report):
    run_dir, _ = report
    for name in FIGURES:
        data = (run_dir / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 10_000, name  # a drawn figure, not an empty canvas


def test_page_embeds_every_png_and_is_self_contained(report):
    run_dir, page = report
    for name in FIGURES:
        encoded = base64.b64encode((run_dir / name).read_bytes()).decode("ascii")
        assert f'src="data:image/png;base64,{encoded}"' in page, name
    assert "http://" not in page and "https://" not in page
    # nothing the browser would fetch: every src is inline, no links, no scripts
    assert re.findall(r'src="(?!data:)', page) == []
    assert "href=" not in page and "<script" not in page and "<link" not in page


def test_front_table_lists_the_front_best_first(report):
    _, page = report
    table = _section(page, "Pareto front (")
    assert "<h2>Pareto front (2 trials)</h2>" in page
    assert re.findall(r"<tr><td>(\d+)</td>", table) == ["1", "0"]  # validity max: 0.6 first
    for header in ("validity (max)", "exact_copy (min)", "duplication", "rounds", "seed"):
        assert f"<th>{header}</th>" in table
    assert "<td>1001</td>" in table and "<td>1000</td>" in table  # seeds
    assert "<td>1002</td>" not in table and "<td>1004</td>" not in table


def test_summary_header(report):
    _, page = report
    for fact in (
        "<dt>study</dt><dd>seqgan_tradeoff</dd>",
        "<dt>profile</dt><dd>smoke</dd>",
        "<dt>run</dt><dd>run1</dd>",
        "<dt>trials</dt><dd>5: 3 completed, 1 failed, 1 stopped</dd>",
        "<dt>raygan version</dt><dd>0.1.0</dd>",
        "<dt>date</dt><dd>2026-01-02 03:04:05 UTC</dd>",
    ):
        assert fact in page
    # failed and stopped trials are counted in the Pareto caption, not plotted
    assert "Not plotted: 2 trials (1 failed, 1 stopped)" in page


def test_paper_overlay_on_duplication_only(report, tmp_path):
    run_dir, page = report
    assert "paper (DATA 2021)" in _section(page, "objectives vs duplication")
    assert "paper (DATA 2021)" not in _section(page, "objectives vs rounds")
    run = load_run(run_dir)
    by_name = {p.name: p for p in run.spec.search}
    duplication = plot_param(run, by_name["duplication"], tmp_path)
    assert run.spec.paper.label == "paper (DATA 2021)"  # from the study file's [paper]
    assert run.spec.paper.label in duplication.legend
    assert "validity: paper (DATA 2021) at N=1: 0.00, N=10: 0.70" in duplication.caption
    assert "figure 6 gives only the rising trend" in duplication.caption  # no invented numbers


def test_no_paper_overlay_for_another_study(tmp_path):
    label = load_spec("seqgan_tradeoff", profile="smoke").paper.label
    document = paper_document()
    del document["paper"]  # a study file without [paper]
    run = load_run(make_run(tmp_path, study="my_study", document=document))
    by_name = {p.name: p for p in run.spec.search}
    plot = plot_param(run, by_name["duplication"], tmp_path)
    assert label not in plot.legend and "paper" not in plot.caption


def test_paper_caption_names_the_setting_by_the_papers_symbol(tmp_path):
    document = paper_document()
    document["paper"]["symbol"] = "k"
    (tmp_path / "own").mkdir()
    (tmp_path / "plain").mkdir()
    run = load_run(make_run(tmp_path / "own", document=document))
    by_name = {p.name: p for p in run.spec.search}
    caption = plot_param(run, by_name["duplication"], tmp_path).caption
    assert "validity: paper (DATA 2021) at k=1: 0.00, k=10: 0.70" in caption
    del document["paper"]["symbol"]  # none given: the setting's own name
    run = load_run(make_run(tmp_path / "plain", document=document))
    caption = plot_param(run, by_name["duplication"], tmp_path).caption
    assert "at duplication=1: 0.00, duplication=10: 0.70" in caption


def test_cli_out_dir_same_bytes(report, tmp_path, capsys):
    run_dir, _ = report
    before = sorted(p.name for p in run_dir.iterdir())
    assert main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "report.html")
    assert sorted(p.name for p in run_dir.iterdir()) == before  # --out: run dir untouched
    for name in ["report.html", *FIGURES]:  # deterministic: same run, same bytes
        assert (tmp_path / "out" / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_cli_running_says_the_study_is_still_running(report, tmp_path):
    """What the study's live report runs (raygan.engine.live_report): the same page with
    the running banner and a reload."""
    run_dir, _ = report
    assert main([str(run_dir), "--out", str(tmp_path / "live"), "--running"]) == 0
    page = (tmp_path / "live" / "report.html").read_text(encoding="utf-8")
    assert "still running" in page and 'http-equiv="refresh"' in page
    assert "still running" not in (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_front_of_hundreds_of_trials_draws_without_a_warning(tmp_path):
    """Every trial on the front (validity and exact_copy rise together): the history legend
    named them all and grew taller than the figure, whose axes collapsed to nothing."""
    import warnings

    from raygan.report import plot_history

    n = 200
    trials = {i: ("completed", 0.1 + 0.8 * i / n, 0.05 + 0.9 * i / n) for i in range(n)}
    run_dir = make_run(tmp_path, trials_by_index=trials)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's 'axes sizes collapsed to zero'
        write_report(run_dir)
        plot = plot_history(load_run(run_dir), tmp_path)
    # ten named, spread over the first objective (validity rises with the index here)
    assert plot.legend[0] == f"front (10 of {n} named)"
    assert plot.legend[1:] == [f"trial {i}" for i in (0, 22, 44, 66, 88, 111, 133, 155, 177, 199)]


def test_single_objective_logfloat_and_categorical_params(tmp_path):
    document = load_spec("seqgan_tradeoff", profile="smoke").document
    document["objectives"] = {"validity": "max"}
    document["fixed"].pop("g_lr")  # fixed in the study: searched here
    document.pop("sweep")  # temperature is searched here, so not swept
    document["search"] = {
        "g_lr": {"type": "logfloat", "low": 1e-3, "high": 3e-2},
        "temperature": {"type": "categorical", "choices": [0.5, 1.0, 1.5]},
    }
    run_dir = make_run(tmp_path, document=document)
    page = write_report(run_dir).read_text(encoding="utf-8")
    for name in ("pareto.png", "objective_vs_g_lr.png", "objective_vs_temperature.png"):
        assert (run_dir / name).read_bytes().startswith(PNG_MAGIC)
    # one objective: the front is the best completed trial
    assert re.findall(r"<tr><td>(\d+)</td>", _section(page, "Pareto front (")) == ["1"]


@pytest.mark.parametrize("case", ["missing", "no_trials", "s3"])
def test_cli_errors_exit_2_with_one_line(case, tmp_path, capsys):
    target = {"missing": str(tmp_path / "nope"), "no_trials": str(tmp_path)}.get(case)
    # what a study on S3 prints is not on this disk; credentials in it are not repeated
    target = target or "s3://u:SeCrEt@bucket/runs/r1?secret_key=SeCrEt"
    assert main([target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    expected = {
        "missing": "no such run directory",
        "no_trials": "no trials.parquet",
        "s3": "'s3://bucket/runs/r1' is a URI; give a run directory on this machine",
    }[case]
    assert err[0].startswith("raygan.report: error: ") and expected in err[0]
    assert "SeCrEt" not in err[0]


def test_a_file_uri_names_the_run_directory(report, tmp_path, capsys):
    """A study run with --storage file://... prints its run directory as a path; the URI,
    with a query too, reads the same run."""
    run_dir, _ = report
    uri = run_dir.as_uri() + "?x=1"
    assert main([uri, "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "report.html")


def test_module_entry_point_exit_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "raygan.report", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("raygan.report: error: ")
    assert "Traceback" not in done.stderr


def test_report_imports_neither_torch_nor_ray(report, tmp_path):
    """The report reads files only: importing it and running its command leave the heavy
    libraries of a study (PyTorch, Ray) unloaded."""
    run_dir, _ = report
    code = "\n".join(
        [
            "import runpy, sys",
            "from raygan.report import write_report",
            "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))",
            f"sys.argv = ['raygan.report', {str(run_dir)!r}, '--out', {str(tmp_path)!r}]",
            "try:",
            "    runpy.run_module('raygan.report', run_name='__main__', alter_sys=True)",
            "except SystemExit as e:",
            "    assert e.code == 0, e.code",
            "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", str(tmp_path / "report.html"), "[]"]


def test_spreads_and_validation_in_the_table_and_the_figure(tmp_path):
    """Replicate spreads as ± and error bars; validated means beside the search scores,
    with the configuration that falls off the front on validation marked."""
    run_dir = make_run(tmp_path)
    spec = load_spec(run_dir / "study.toml")
    metrics = get_experiment(spec.experiment).metrics
    trials = pq.read_table(run_dir / "trials.parquet").to_pylist()
    for t in trials:
        if t["status"] == "completed":
            t.update(validity_std=0.05, exact_copy_std=0.02, n_replicates=3, kept_step=2)
    pq.write_table(
        pa.Table.from_pylist(trials, schema=trial_schema(spec, metrics)), run_dir / "trials.parquet"
    )
    # the front is trials 0 (0.2, 0.0) and 1 (0.6, 0.1); validated, 1 drops to (0.1, 0.3):
    # dominated by 0's (0.25, 0.0)
    runs = [(0, 0.25, 0.0), (0, 0.25, 0.0), (1, 0.1, 0.3), (1, 0.1, 0.3)]
    rows = [
        {
            "study": "seqgan_tradeoff", "run": "run1", "trial_id": f"t{i}", "trial_index": i,
            "validation_run": k % 2, "status": "completed", "seed": 5000 + k, "kept_step": 2,
            "validity": v, "exact_copy": m,
        }
        for k, (i, v, m) in enumerate(runs)
    ]  # fmt: skip
    pq.write_table(
        pa.Table.from_pylist(rows, schema=validation_schema(spec, metrics)),
        run_dir / "validation.parquet",
    )
    page = write_report(run_dir).read_text(encoding="utf-8")
    table = _section(page, "Pareto front (")
    assert "<td>0.600 ± 0.050</td>" in table and "<td>0.100 ± 0.020</td>" in table
    assert "<th>validity validated</th>" in table and "<th>on validation</th>" in table
    assert "<td>0.250 ± 0.000</td>" in table  # trial 0's validated validity
    assert re.findall(r"<td>(stays|falls off)</td>", table) == ["falls off", "stays"]
    caption = _section(page, "Pareto front</h2>")
    assert "mean of 2 replicates" not in caption  # the study file says 1 replicate
    assert "Hollow diamonds: each front configuration re-trained with" in caption


def test_gain_over_the_runs_gain_baseline(tmp_path):
    run_dir = make_run(tmp_path)
    meta = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**meta, "gain_baseline": "raw"}))
    spec = load_spec(run_dir / "study.toml")
    metrics = get_experiment(spec.experiment).metrics
    raw = {"study": "seqgan_tradeoff", "run": "run1", "baseline": "raw", "validity": 0.5}
    pq.write_table(
        pa.Table.from_pylist([raw], schema=baseline_schema(metrics)),
        run_dir / "baselines.parquet",
    )
    table = _section(write_report(run_dir).read_text(encoding="utf-8"), "Pareto front (")
    assert "<th>validity gain over raw</th>" in table
    assert "exact_copy gain" not in table  # the baseline has no exact_copy
    assert re.findall(r"<td>([+-]0\.\d+)</td>", table) == ["+0.100", "-0.300"]  # 0.6, 0.2
