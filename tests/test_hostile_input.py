"""Hostile input: every bad study file, flag or data file exits 2 with one line that names
what was wrong, without a traceback and without leaving a run directory behind.

One table, three kinds of input. A study-file case is a TOML text (a valid study edited);
a data-file case writes the file and points the study at it. Everything runs through
`raygan.study.main`, the CLI's own entry point, before Ray is ever started.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from idx_files import TRAIN_N, idx_bytes, write_mnist  # tests/support

from raygan.study import main

VALID = """
description = "a valid study, edited by each case"
experiment = "seqgan"
seed = 1
sampler = "nsga2"

[fixed]
mle_epochs = 1

[search.duplication]
type = "int"
low = 1
high = 10

[search.temperature]
type = "float"
low = 0.5
high = 1.5

[objectives]
validity = "max"
memorization = "min"

[budget]
num_samples = 4
max_concurrent = 1

[resources]
cpus = 1
gpus = 0
"""


def edit(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


def study_file(text: str | bytes):
    """A case that runs the CLI on this study file."""

    def argv(inputs: Path) -> list[str]:
        path = inputs / "bad.toml"
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return [str(path)]

    return argv


def flags(*args: str):
    return lambda inputs: list(args)


def emoticon_file(content: bytes, *, name: str = "faces.txt"):
    """A case that trains the SeqGAN study on this file."""

    def argv(inputs: Path) -> list[str]:
        path = inputs / name
        if content is not None:
            path.write_bytes(content)
        return ["seqgan_tradeoff", "--set", f"data.source={json.dumps(str(path))}"]

    return argv


def idx_directory(overrides=None, *, junk_gz: str | None = None):
    """A case that points the augmentation study at a directory of MNIST IDX files."""

    def argv(inputs: Path) -> list[str]:
        directory = inputs / "mnist"
        write_mnist(directory, gz=junk_gz is not None, overrides=overrides)
        if junk_gz:
            (directory / f"{junk_gz}.gz").write_bytes(b"junk, not gzip")
        return ["augment_imbalanced", "--set", f"data.source={json.dumps(str(directory))}"]

    return argv


IMAGES = np.zeros((TRAIN_N, 28, 28))

# (case, argv maker, what the one line must say)
CASES = [
    # ---- study files
    ("toml syntax error", study_file(edit('sampler = "nsga2"', "sampler = ")), "bad.toml: "),
    ("not UTF-8", study_file(b'experiment = "seqgan"\n\xff\xfe = 1\n'), "bad.toml: "),
    ("empty file", study_file(""), "experiment: missing"),
    ("unknown top-level key", study_file('samplr = "tpe"\n' + VALID), "samplr"),
    ("unknown setting", study_file(edit("mle_epochs = 1", "nope = 1")), "fixed.nope"),
    (
        "wrong type",
        study_file(edit("num_samples = 4", 'num_samples = "four"')),
        "budget.num_samples",
    ),
    (
        "float for an int",
        study_file(edit("mle_epochs = 1", "mle_epochs = 1.5")),
        "fixed.mle_epochs",
    ),
    (
        "low > high",
        study_file(edit("low = 1\nhigh = 10", "low = 10\nhigh = 1")),
        "search.duplication",
    ),
    (
        "empty choices",
        study_file(VALID + '\n[search.emb_dim]\ntype = "categorical"\nchoices = []\n'),
        "search.emb_dim",
    ),
    (
        "unknown parameter type",
        study_file(edit('type = "float"', 'type = "uniform"')),
        "search.temperature",
    ),
    (
        "zero budget",
        study_file(edit("num_samples = 4", "num_samples = 0")),
        "budget.num_samples: 0",
    ),
    (
        "negative concurrency",
        study_file(edit("max_concurrent = 1", "max_concurrent = -2")),
        "budget.max_concurrent: -2",
    ),
    ("GPU fraction > 1", study_file(edit("gpus = 0\n", "gpus = 1.5\n")), "resources.gpus: 1.5"),
    ("GPU fraction < 0", study_file(edit("gpus = 0\n", "gpus = -0.25\n")), "resources.gpus: -0.25"),
    ("unknown sampler", study_file(edit('"nsga2"', '"cmaes"')), "sampler: 'cmaes'"),
    ("unknown metric", study_file(edit('validity = "max"', 'accuracy = "max"')), "accuracy"),
    ("bad objective mode", study_file(edit('validity = "max"', 'validity = "up"')), "validity"),
    (
        "duplicate parameter",
        study_file(VALID + '\n[search.duplication]\ntype = "int"\nlow = 2\nhigh = 3\n'),
        "bad.toml: ",
    ),
    (
        "fixed and searched",
        study_file(edit("mle_epochs = 1", "mle_epochs = 1\nduplication = 3")),
        "search.duplication",
    ),
    ("code as experiment", study_file(edit('"seqgan"', '"os:system"')), "experiment: 'os:system'"),
    ("negative seed", study_file(edit("seed = 1", "seed = -1")), "seed: -1"),
    (
        "start point out of range",
        study_file(VALID + "[[start]]\nduplication = 11\ntemperature = 1.0\n"),
        "start[0].duplication: 11 must be between 1 and 10",
    ),
    (
        "zero replicates",
        study_file(edit("max_concurrent = 1", "max_concurrent = 1\nreplicates = 0")),
        "budget.replicates: 0 must be an integer between 1 and 100",
    ),
    (
        "absurd replicates",
        study_file(edit("max_concurrent = 1", "max_concurrent = 1\nreplicates = 10000")),
        "budget.replicates: 10000",
    ),
    (
        "replicates not an integer",
        study_file(edit("max_concurrent = 1", 'max_concurrent = 1\nreplicates = "3"')),
        "budget.replicates: '3'",
    ),
    (
        "negative checkpoint period",
        study_file(edit("max_concurrent = 1", "max_concurrent = 1\ncheckpoint_every_s = -5")),
        "budget.checkpoint_every_s: -5 must be a finite number >= 0",
    ),
    (
        "unknown scheduler",
        study_file(edit('"nsga2"', '"nsga2"\nscheduler = "hyperband"')),
        "scheduler: 'hyperband'",
    ),
    (
        "rungs without mo-asha",
        study_file(VALID + "[rungs]\nmin_rounds = 2\n"),
        "rungs: is set but scheduler is not 'mo-asha'",
    ),
    (
        "rung reduction factor 1",
        study_file(
            edit('"nsga2"', '"nsga2"\nscheduler = "mo-asha"') + "[rungs]\nreduction_factor = 1\n"
        ),
        "rungs.reduction_factor: 1 must be an integer >= 2",
    ),
    (
        "negative validation",
        study_file(VALID + "[result]\nvalidate = -1\n"),
        "result.validate: -1 must be an integer between 0 and 100",
    ),
    (
        "unknown aggregate",
        study_file(VALID + '[result]\naggregate = "median"\n'),
        "result.aggregate: 'median' must be 'mean'",
    ),
    (
        "paper points for an unknown metric",
        study_file(
            VALID + '[paper]\nlabel = "p"\nparam = "duplication"\npoints = { fun = [[1, 0.5]] }\n'
        ),
        "paper.points.fun: unknown metric",
    ),
    (
        "paper point not a pair",
        study_file(
            VALID + '[paper]\nlabel = "p"\nparam = "duplication"\npoints = { validity = [1] }\n'
        ),
        "paper.points.validity: [1] must be a list of [setting value, metric value] pairs",
    ),
    (
        "paper against no setting",
        study_file(VALID + '[paper]\nlabel = "p"\nparam = "N"\n'),
        "paper.param: 'N' is not a setting of 'seqgan'",
    ),
    (
        "sweep of a training setting",
        study_file(VALID + "[sweep]\nrounds = [1, 2]\n"),
        "sweep.rounds: unknown sampling setting of 'seqgan'; allowed: temperature, top_p",
    ),
    (
        "sweep value out of range",
        study_file(VALID + "[sweep]\ntop_p = [0.9, 0.0]\n"),
        "sweep.top_p[1]: 0.0 must be >= 0.01",
    ),
    (
        "sweep not a list",
        study_file(VALID + "[sweep]\ntop_p = 0.7\n"),
        "sweep.top_p: 0.7 must be a non-empty list of values",
    ),
    (
        "sweep of a searched setting",
        flags("seqgan_tradeoff", "--set", "sweep.top_p=[0.8, 1.0]"),
        "sweep.top_p: is also searched; a setting is either searched or swept",
    ),
    # ---- flags
    ("unknown study", flags("nope"), "unknown study 'nope'"),
    (
        "--replicates 0",
        flags("seqgan_tradeoff", "--replicates", "0"),
        "budget.replicates: 0 must be an integer between 1 and 100 (seeds each configuration "
        "is trained with) (from --replicates 0)",
    ),
    (
        "--replicates not an integer",
        flags("seqgan_tradeoff", "--replicates", "2.0"),
        "argument --replicates: invalid int value: '2.0'",
    ),
    (
        "--validate-front -2",
        flags("seqgan_tradeoff", "--validate-front", "-2"),
        "result.validate: -2",
    ),
    ("unknown profile", flags("seqgan_tradeoff", "--profile", "huge"), "profile 'huge'"),
    (
        "--optuna-storage with an unknown database",
        flags("seqgan_tradeoff", "--optuna-storage", "nosuchdb://host/db"),
        "--optuna-storage: ",
    ),
    (
        "--optuna-storage with no server there",
        flags("seqgan_tradeoff", "--optuna-storage", "postgresql+psycopg://u:secret@127.0.0.1:9/x"),
        "--optuna-storage: ",
    ),
    ("--set unknown key", flags("seqgan_tradeoff", "--set", "fixed.nope=1"), "fixed.nope"),
    (
        "--set unparseable value",
        flags("seqgan_tradeoff", "--set", "fixed.mle_epochs=[1"),
        "cannot parse",
    ),
    ("--set without =", flags("seqgan_tradeoff", "--set", "budget.num_samples"), "--set"),
    ("--num-samples 0", flags("seqgan_tradeoff", "--num-samples", "0"), "budget.num_samples: 0"),
    ("--seed negative", flags("seqgan_tradeoff", "--seed", "-5"), "seed: -5"),
    ("--cpus-per-trial 0", flags("seqgan_tradeoff", "--cpus-per-trial", "0"), "resources.cpus"),
    (
        "--gpus-per-trial 2",
        flags("seqgan_tradeoff", "--gpus-per-trial", "2"),
        "--gpus-per-trial: 2.0 must be between 0 and 1",
    ),
    ("--name ../", flags("seqgan_tradeoff", "--name", "../evil"), "--name: '../evil'"),
    ("--name absolute", flags("seqgan_tradeoff", "--name", "/tmp/evil"), "--name: '/tmp/evil'"),
    ("--name ..", flags("seqgan_tradeoff", "--name", ".."), "--name: '..'"),
    ("--resume, no run", flags("seqgan_tradeoff", "--resume"), "--resume: no unfinished run of"),
    (
        "--resume, no such run",
        flags("seqgan_tradeoff", "--resume", "--name", "never-ran"),
        "--resume: no run to resume at",
    ),
    (
        "pessimistic without replicates",
        flags("seqgan_tradeoff", "--set", 'result.aggregate="pessimistic"', "--replicates", "1"),
        "it needs budget.replicates >= 2 (is 1)",
    ),
    (
        "grid budget beyond the grid",
        flags(
            "seqgan_tradeoff", "--profile", "smoke", "--set", 'sampler="grid"', "--num-samples", "8"
        ),
        "budget.num_samples: 8 is more than the 6 points of the grid",
    ),
    (
        "more neighbours than the smallest labelled class",
        flags(
            "vae_latent_augment",
            "--profile",
            "smoke",
            "--set",
            "fixed.labelled=20",
            "--set",
            "fixed.k=3",
            "--set",
            'search.method.choices=["interpolation"]',
        ),
        "fixed.k: 3 neighbours, but the labelled set (20) holds 2 samples",
    ),
    (
        "too few minority samples for SMOTE",
        flags("augment_imbalanced", "--profile", "smoke", "--set", "data.minority_count=1"),
        "data.minority_count: 1 leaves 1 training sample(s)",
    ),
    (
        "--set data out of range",
        flags("seqgan_tradeoff", "--set", "data.size=5000"),
        "data.size: 5000",
    ),
    # ---- data files
    ("empty emoticon file", emoticon_file(b""), "faces.txt: no emoticons"),
    ("blank lines only", emoticon_file(b"\n  \n"), "faces.txt: no emoticons"),
    ("binary file", emoticon_file(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "a binary file"),
    ("NUL bytes in UTF-8", emoticon_file(b"(^_^)\n\x00\x00\n"), "a binary file"),
    ("non-UTF-8", emoticon_file("(^_^)\n(´ー`)\n".encode("cp932")), "faces.txt:2: not UTF-8"),
    (
        "over-long line",
        emoticon_file(b"(" + b"^" * 200 + b")\n"),
        "faces.txt:1: emoticon of 202 characters",
    ),
    ("missing file", emoticon_file(None, name="none.txt"), "none.txt: cannot read"),
    ("IDX wrong magic", idx_directory({"train_images": idx_bytes(IMAGES, 0x802)}), "wrong magic"),
    (
        "IDX truncated body",
        idx_directory({"train_images": idx_bytes(IMAGES[:, :2], 0x803, dims=IMAGES.shape)}),
        "train-images-idx3-ubyte: truncated",
    ),
    ("IDX file missing", idx_directory({"test_labels": None}), "missing t10k-labels-idx1-ubyte"),
    (
        "IDX gzip corrupt",
        idx_directory(junk_gz="t10k-images-idx3-ubyte"),
        "t10k-images-idx3-ubyte.gz: not a readable gzip file",
    ),
]


@pytest.mark.parametrize("make_argv, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    make_argv, message, tmp_path, monkeypatch, capsys
):
    inputs, work = tmp_path / "inputs", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    argv = make_argv(inputs)
    monkeypatch.chdir(work)  # the default storage, ./raygan_runs, would land here
    assert main([*argv, "--storage", str(work / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and err[0].startswith("raygan.study: error: ")
    assert message in err[0]
    assert list(work.iterdir()) == []  # no run directory, not even an empty one


def test_the_table_covers_each_kind_of_input():
    assert len(CASES) >= 25
    kinds = {c[1].__qualname__.split(".")[0] for c in CASES}
    assert kinds == {"study_file", "flags", "emoticon_file", "idx_directory"}


def test_a_real_process_prints_one_line_too(tmp_path):
    """The same through `python -m raygan.study`: no warning or traceback on stderr."""
    bad = tmp_path / "bad.toml"
    bad.write_text(edit("gpus = 0\n", "gpus = 1.5\n"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "raygan.study", str(bad), "--storage", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "resources.gpus: 1.5" in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "storage, message",
    [
        ("{tmp}/a-file/runs", "cannot create {tmp}/a-file/runs/"),
        ("s3://", "no bucket or directory after the scheme"),
        ("", "--storage: '' is empty"),  # an unset variable: not the current directory
        ("hdfs://namenode/runs", "--storage: 'hdfs://namenode/runs': "),
        # no credentials here: Arrow's retries went on silently for 15 minutes
        ("gs://raygan-test-bucket/runs", "--storage: 'gs://raygan-test-bucket/runs': "),
        # Tune failed to pickle it, after Ray had started: a traceback
        ("mock:///runs", "--storage: 'mock:///runs': pyarrow's in-memory filesystem"),
        # a run records its URI and prints it: credentials in it are refused, unnamed
        ("s3://AKIAX:SeCrEt@bucket/runs", "carries credentials (a user name or password "),
        ("s3://bucket/runs?region=x&secret_key=SeCrEt", "carries credentials (a query option"),
        # pyarrow refuses these spellings itself, in a message that held the whole URI
        ("s3://b/runs?AWS_SECRET_ACCESS_KEY=SeCrEt", "carries credentials (a query option"),
        ("gs://b/runs?access_token=SeCrEt", "carries credentials (a query option"),
        # an encoded '=', a second '?', a ';' parameter: the name was shown with its value
        ("s3://b/runs?aws_secret_access_key%3DSeCrEt", "carries credentials (a query option"),
        ("s3://b/runs?region=x?token=SeCrEt", "carries credentials (a query option"),
        ("s3://b/runs;token=SeCrEt", "carries credentials (a query option"),
    ],
    ids=[
        "a file in the path",
        "no bucket",
        "empty",
        "hdfs without a JVM",
        "gcs without credentials",
        "pyarrow's mock filesystem",
        "credentials before the host",
        "credentials in the query",
        "credentials in another spelling",
        "a gcs token",
        "an encoded equals sign",
        "a second question mark",
        "a parameter",
    ],
)
def test_a_storage_that_cannot_hold_a_run_is_one_line(
    storage, message, tmp_path, monkeypatch, capsys
):
    (tmp_path / "a-file").write_text("not a directory")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    storage = storage.format(tmp=tmp_path)
    argv = ["seqgan_tradeoff", "--profile", "smoke", "--storage", storage]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # pyarrow's HDFS error names every libjvm path it tried
    assert err[0].startswith("raygan.study: error: --storage: ")
    assert message.format(tmp=tmp_path) in err[0] and "SeCrEt" not in err[0]
    assert list(work.iterdir()) == [] and (tmp_path / "a-file").read_text() == "not a directory"
