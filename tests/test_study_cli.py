"""`python -m raygan.study`: help, --list, existing runs, resources the cluster lacks.

The table of bad study files, flags and data files is tests/test_hostile_input.py.
"""

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


REFUSED_WITHOUT_RAY = """
import sys
from raygan.study import main
codes = [main(["nope"]), main(["seqgan_tradeoff", "--set", "budget.num_samples=0"])]
print(codes, sorted({m.split(".")[0] for m in sys.modules} & {"ray", "optuna", "torch"}))
"""


def test_bad_input_is_refused_before_ray_is_imported():
    done = subprocess.run(
        [sys.executable, "-c", REFUSED_WITHOUT_RAY], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "[2, 2] []", done.stderr
    assert done.stderr.count("raygan.study: error:") == 2
