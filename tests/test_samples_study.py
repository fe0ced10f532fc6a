"""A study's samples and sweep, end to end on real Ray: samples.parquet and sweep.parquet,
`python -m raygan.sample` agreeing with the stored judgements, and the live report."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import raygan
from raygan import load_spec
from raygan.engine import run_study
from raygan.metrics.emoticon_rules import EmoticonRules
from raygan.results import SAMPLE_CAP, sample_schema

SWEEP = [0.7, 1.3]


@pytest.fixture(scope="module")
def run_dir(ray_session, tmp_path_factory):
    spec = load_spec(
        "seqgan_tradeoff",
        profile="smoke",
        overrides=[
            "budget.num_samples=3",
            "budget.replicates=2",
            "sampler=random",
            f"sweep.temperature={SWEEP}",
            "fixed.mle_epochs=6",  # a little training: some samples are copies, some valid
            "fixed.eval_samples=60",
        ],
    )
    storage = tmp_path_factory.mktemp("runs")
    lines: list[str] = []
    run_study(spec, storage=str(storage), name="samples", verbose=0, echo=lines.append)
    return storage / "samples"


def test_samples_parquet_holds_each_replicates_kept_round(run_dir):
    trials = pd.read_parquet(run_dir / "trials.parquet")
    samples = pd.read_parquet(run_dir / "samples.parquet")
    assert list(samples.columns) == sample_schema().names
    assert set(samples.trial_id) == set(trials.trial_id)
    assert samples.validation_run.isna().all() and set(samples.kind) == {"text"}
    for row in trials.itertuples():
        own = samples[samples.trial_id == row.trial_id]
        assert sorted(own.replicate.unique()) == [0, 1]
        assert set(own.step) == {row.kept_step}  # the round the row stands for
        for _, rep in own.groupby("replicate"):
            assert len(rep) == 60 <= SAMPLE_CAP["text"]
            assert list(rep.sample_index) == list(range(60))


def test_stored_judgements_agree_with_the_replicates_metrics(run_dir):
    replicates = pd.read_parquet(run_dir / "replicates.parquet")
    samples = pd.read_parquet(run_dir / "samples.parquet")
    for row in replicates.itertuples():
        own = samples[(samples.trial_id == row.trial_id) & (samples.replicate == row.replicate)]
        assert own.valid.mean() == pytest.approx(row.validity)
        assert own.exact_copy.mean() == pytest.approx(row.exact_copy)
        assert own.near_copy.mean() == pytest.approx(row.near_copy)


def test_sweep_rows_and_their_front(run_dir):
    trials = pd.read_parquet(run_dir / "trials.parquet")
    sweep = pd.read_parquet(run_dir / "sweep.parquet")
    assert len(sweep) == len(trials) * len(SWEEP)
    assert sorted(sweep.sweep_temperature.unique()) == SWEEP
    assert (sweep.n_replicates == 2).all() and sweep.pareto.any()
    points = sweep[["novel_valid_distinct", "memorization"]].to_numpy()
    for i, (nvd, mem) in enumerate(points):  # no front point is dominated by another pair
        better = (points[:, 0] >= nvd) & (points[:, 1] <= mem)
        strictly = (points[:, 0] > nvd) | (points[:, 1] < mem)
        assert bool(sweep.pareto.iloc[i]) == (not (better & strictly).any())


def test_sample_command_agrees_with_its_judgements(run_dir, tmp_path):
    out = tmp_path / "samples.parquet"
    cmd = [sys.executable, "-m", "raygan.sample", str(run_dir), "--trial", "0", "-n", "200"]
    done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("trial 0: 200 samples")
    drawn = pd.read_parquet(out)
    assert len(drawn) == 200

    from raygan.data.kaomoji import load_corpus
    from raygan.experiments.seqgan_settings import SeqGANData
    from raygan.settings import build_config

    d = build_config(SeqGANData, load_spec(run_dir / "study.toml").data)
    corpus = load_corpus(
        source=d.source, emotion=d.emotion, size=d.size, seed=d.seed, max_len=d.max_len
    )
    rules = EmoticonRules.from_training(corpus.train)
    for text, valid in zip(drawn.text, drawn.valid, strict=True):
        assert rules.is_emoticon(text) == valid  # the judgement is the metrics' own rule
    # --only novel-valid: every line printed is a valid face and no near copy
    only = subprocess.run([*cmd, "--only", "novel-valid"], capture_output=True, text=True)
    assert only.returncode == 0
    printed = [line for line in only.stdout.splitlines() if line]
    kept = drawn[drawn.novel_valid]
    assert len(printed) == len(kept) and set(printed) == set(kept.text)
    # the footer describes the whole draw, then what --only kept of it
    footer = only.stderr.strip().splitlines()[-1]
    assert footer.startswith("trial 0: 200 samples, ") and footer.endswith(
        f"; {len(kept)} kept by --only novel-valid"
    ), footer
    # the same draw from Python, and another seed draws something else
    again = raygan.sample(run_dir, trial=0, n=200)
    assert [s["text"] for s in again] == list(drawn.text)
    other = raygan.sample(run_dir, trial=0, n=200, seed=1)
    assert [s["text"] for s in other] != list(drawn.text)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trial", "99"], "--trial: 99 is not a trial of"),
        (["--trial", "0", "--set", "rounds=3"], "sampling setting 'rounds' is not one of"),
        (["--trial", "0", "--replicate", "5"], "--replicate: 5 is not one of 0, 1"),
        (["--trial", "0", "-n", "0"], "-n: 0 must be >= 1"),
        (["--trial", "0", "--set", "temperature=[1"], "cannot parse '[1'"),
        (["--trial", "0", "--temperature", "0"], "error: --temperature: 0"),
        (["--trial", "0", "--set", "temperature=0"], "error: --set temperature: 0"),
        (
            ["--trial", "0", "--out", "no/such/dir/x.txt"],
            "--out: 'no/such/dir/x.txt' has no directory 'no/such/dir'",
        ),
        (["--trial", "0", "--out", "x.png"], "--out: a .png grid needs image samples"),
        (["--trial", "0", "--out", "x.csv"], "--out: 'x.csv' ends in '.csv'; allowed: .txt"),
        (["--trial", "0", "--out", "x"], "--out: 'x' has no suffix; allowed: .txt"),
        (["--trial", "0", "--catalogue", "--out", "c.parquet"], "--catalogue: lines of text"),
    ],
)
def test_sample_command_bad_input(run_dir, tmp_path, args, message):
    done = subprocess.run(
        [sys.executable, "-m", "raygan.sample", str(run_dir), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_sample_command_without_a_run(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "raygan.sample", str(tmp_path / "none"), "--trial", "0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "no such run directory" in done.stderr


def test_final_report_is_not_marked_running(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "still running" not in html and 'http-equiv="refresh"' not in html
    assert "most frequent" in html.lower()
    assert "Sweep: Pareto front over (configuration, sweep point)" in html
    sweep = pd.read_parquet(run_dir / "sweep.parquet")
    section = html.split("Sweep: Pareto front")[1].split("<h2")[0]
    assert section.count("<tr>") == 1 + int(sweep.pareto.sum())  # header + one per pair


@pytest.mark.parametrize("study", ["seqgan_tradeoff", "faulty"])
def test_live_report_while_the_study_runs(ray_session, tmp_path, study, faulty_study):
    """A report drawn by the study itself before it ends says it is still running; in a
    process of its own, which reads an experiment registered in this one (faulty)."""
    from raygan.engine import live_report

    seen: list[str] = []
    original = live_report.LiveReport.trial_ended

    def look(self, store):
        original(self, store)
        if self.drawing is not None:  # drawn in a process of its own: wait for it here
            self.drawing.wait()
        page = store.local_path / "report.html"
        if page.exists():
            seen.append(page.read_text(encoding="utf-8"))

    if study == "faulty":
        spec = load_spec(faulty_study, overrides=["budget.num_samples=2"])
    else:
        spec = load_spec(study, profile="smoke", overrides=["budget.num_samples=2"])
    live_report.LiveReport.trial_ended = look  # a spy: the real report is still drawn
    try:
        run_study(spec, storage=str(tmp_path), name="live", verbose=0, echo=lambda line: None)
    finally:
        live_report.LiveReport.trial_ended = original
    assert seen and "still running" in seen[0] and 'http-equiv="refresh"' in seen[0]
    assert "still running" not in (tmp_path / "live" / "report.html").read_text(encoding="utf-8")


def test_catalogue_counts_samples_as_drawn():
    from raygan.sample import catalogue

    face = "ლ(o◡oლ)"
    samples = [
        {"text": t, "nearest": face, "distance": 0.0}
        for t in [face + "\ufeff\ufeff", face, face + "\u200b", "(^_^)", "", "(^_^)\u3000", "''"]
    ]
    lines = catalogue(samples)
    # one line for the face however many zero-width characters it carries, as drawn
    assert lines[0] == f"3\t{face}\t{face}\t0.000"
    # one that would not read as itself (empty, a wide space at its end) is a literal
    assert sorted(lines[1:]) == [
        f"1\t\"''\"\t{face}\t0.000",  # a sample that reads as a literal is one too
        f"1\t''\t{face}\t0.000",
        f"1\t'(^_^)\\u3000'\t{face}\t0.000",
        f"1\t(^_^)\t{face}\t0.000",
    ]
