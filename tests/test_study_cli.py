"""`python -m raygan.study`: every bad input exits 2 with one line and writes nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raygan.study import main


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


BAD = [
    (["nope"], "unknown study 'nope'; available: augment_imbalanced"),
    (["seqgan_tradeoff", "--profile", "huge"], "profile 'huge'"),
    (["seqgan_tradeoff", "--set", "fixed.nope=1"], "fixed.nope"),
    (["seqgan_tradeoff", "--set", "fixed.mle_epochs=[1"], "cannot parse"),
    (["seqgan_tradeoff", "--set", "budget.num_samples"], "--set"),
    (["seqgan_tradeoff", "--num-samples", "0"], "budget.num_samples: 0"),
    (["seqgan_tradeoff", "--max-concurrent", "-1"], "budget.max_concurrent: -1"),
    (["seqgan_tradeoff", "--seed", "-5"], "seed: -5"),
    (["seqgan_tradeoff", "--set", "search.duplication.low=50"], "search.duplication"),
    (["seqgan_tradeoff", "--set", "resources.gpus=1.5"], "resources.gpus: 1.5"),
    (["seqgan_tradeoff", "--set", "sampler=cmaes"], "sampler: 'cmaes'"),
    (["seqgan_tradeoff", "--name", "../evil"], "--name: '../evil'"),
    (["seqgan_tradeoff", "--resume"], "--resume: no run of 'seqgan_tradeoff'"),
    (
        ["seqgan_tradeoff", "--set", 'data.source="/no/such/faces.txt"'],
        "/no/such/faces.txt: cannot read",
    ),
    (["seqgan_tradeoff", "--set", "data.size=5000"], "data.size: 5000"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert message in line
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_malformed_study_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "broken.toml"
    bad.write_text('experiment = "seqgan"\nsampler = \n', encoding="utf-8")
    assert main([str(bad)]) == 2
    assert "broken.toml" in one_error_line(capsys)


def test_existing_run_refused_without_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raygan_runs" / "mine").mkdir(parents=True)
    (tmp_path / "raygan_runs" / "mine" / "run.json").write_text("{}")
    assert main(["seqgan_tradeoff", "--name", "mine"]) == 2
    assert "already exists; add --resume" in one_error_line(capsys)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--cpus-per-trial", "64"], "64 CPUs per trial, but the largest node has 2"),
        (["--gpus-per-trial", "0.5"], "0.5 GPU per trial, but the largest node has 0 GPUs"),
    ],
)
def test_more_resources_than_exist(ray_session, flags, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["seqgan_tradeoff", "--profile", "smoke", *flags]) == 2
    assert message in one_error_line(capsys)
    assert not any((tmp_path / "raygan_runs").glob("*/*"))


def test_real_process_help_list_and_error():
    run = [sys.executable, "-m", "raygan.study"]
    helped = subprocess.run(run + ["--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    for flag in (
        "--profile",
        "--num-samples",
        "--max-concurrent",
        "--cpus-per-trial",
        "--gpus-per-trial",
        "--address",
        "--storage",
        "--name",
        "--resume",
        "--seed",
        "--set",
        "--list",
    ):
        assert flag in helped.stdout
    listed = subprocess.run(run + ["--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "seqgan_tradeoff" in listed.stdout
    bad = subprocess.run(run + ["nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "unknown study 'nope'" in bad.stderr
