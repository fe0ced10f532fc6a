"""The augmentation experiment: real conditional GAN training, real classifiers."""

import math

import pandas as pd

from raygan import load_spec
from raygan.engine import run_study
from raygan.experiments import get_experiment
from raygan.experiments.augment import AugmentExperiment

TINY = dict(
    epochs=2,
    rounds=2,
    classifier_epochs=1,
    eval_samples=20,
    hidden=16,
    noise_dim=8,
    amount=5,
    full_synthetic=True,
    arch="mlp",
    loss="wgan-gp",
)


def make(seed=0, **overrides):
    exp = AugmentExperiment()
    exp.setup({**TINY, **overrides}, {"minority": 5, "minority_count": 10}, seed=seed)
    return exp


def test_registry_finds_it():
    assert get_experiment("augment") is AugmentExperiment


def test_steps_report_metrics_and_confusion():
    exp = make()
    rows = [exp.step() for _ in range(exp.num_steps)]
    assert [r["round"] for r in rows] == [0.0, 1.0]
    for r in rows:
        for m in AugmentExperiment.metrics:
            assert isinstance(r[m], float) and math.isfinite(r[m]), m
        assert 0 <= r["balanced_accuracy"] <= 1 and 0 <= r["memorization"] <= 1
        confusion = r["confusion"]
        assert len(confusion) == 10 and all(len(row) == 10 for row in confusion)
        assert sum(map(sum, confusion)) == len(exp.split.y_test)


def test_resume_from_save_continues_identically(tmp_path):
    straight = make(seed=3, arch="conv", loss="bce", directed_noise=0.5)
    expected = [straight.step() for _ in range(straight.num_steps)]
    first = make(seed=3, arch="conv", loss="bce", directed_noise=0.5)
    got = [first.step()]
    first.save(str(tmp_path))
    second = make(seed=3, arch="conv", loss="bce", directed_noise=0.5)
    second.load(str(tmp_path))
    got.append(second.step())
    assert got == expected


def test_baselines_raw_classic_smote_full():
    rows = AugmentExperiment.baselines(
        {**TINY, "classifier_epochs": 2}, {"minority_count": 10}, seed=0
    )
    assert [r["baseline"] for r in rows] == ["raw", "classic", "smote", "full data"]
    by = {r["baseline"]: r for r in rows}
    assert "memorization" not in by["raw"]  # no synthetic samples to judge
    assert 0 <= by["classic"]["memorization"] <= 1


def test_smoke_study_through_the_engine(ray_session, tmp_path):
    spec = load_spec("augment_imbalanced", profile="smoke")
    out = run_study(spec, storage=str(tmp_path), name="a1", verbose=0, echo=lambda s: None)
    run = tmp_path / "a1"
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 2 and (trials.status == "completed").all()
    assert {"param_arch", "param_amount", "balanced_accuracy", "memorization", "confusion"} <= set(
        trials.columns
    )
    assert len(trials.confusion[0]) == 10
    baselines = pd.read_parquet(run / "baselines.parquet")
    assert list(baselines.baseline) == ["raw", "classic", "smote", "full data"]
    assert "baselines (no generator)" in out.summary
