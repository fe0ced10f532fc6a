"""The VAE latent-augmentation experiment: real VAE training, real scikit-learn classifiers."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from raygan import load_spec
from raygan.engine import run_study
from raygan.experiments import get_experiment
from raygan.experiments.vae import VAEAugmentExperiment, _base_scores
from raygan.metrics.utility import sklearn_scores

TINY = dict(vae_epochs=2, rounds=2, hidden=32, latent=8, labelled=100, amount=1, beta=0.1)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """On a busy 2-core machine a second thread only spins (torch and, through
    sklearn_scores, scikit-learn's BLAS both follow torch's thread count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(seed=0, **overrides):
    exp = VAEAugmentExperiment()
    exp.setup({**TINY, **overrides}, {}, seed=seed)
    return exp


def test_registry_finds_it():
    assert get_experiment("vae_augment") is VAEAugmentExperiment


def test_steps_report_every_metric_finite():
    exp = make(method="interpolation")
    rows = [exp.step() for _ in range(exp.num_steps)]
    assert [r["round"] for r in rows] == [0.0, 1.0]
    for r in rows:
        for m in VAEAugmentExperiment.metrics:
            assert isinstance(r[m], float) and math.isfinite(r[m]), m
        for name in ("svm", "knn", "mlp"):
            assert r[f"gain_{name}"] == pytest.approx(
                r[f"{name}_accuracy"] - r[f"{name}_accuracy_base"]
            )
        assert r["gain"] == pytest.approx((r["gain_svm"] + r["gain_knn"] + r["gain_mlp"]) / 3)
        assert 0 <= r["memorization"] <= 1
    base = _base_scores("digits", "mnist", 0, 100)  # cached: the same numbers every trial
    assert rows[0]["svm_accuracy_base"] == base["svm_accuracy"]
    with pytest.raises(RuntimeError, match="already done"):
        exp.step()


@pytest.mark.parametrize("method", ["noise", "interpolation", "extrapolation"])
def test_generate_amount_per_labelled_sample(method):
    """amount 5 > k 2: sample j of a source goes towards neighbour j mod 2; cycles after
    the first start from posterior draws, so a source and neighbour never repeat a point.
    (Two mutual neighbours do share their midpoint: the paper's symmetric alpha 0.5.)"""
    exp = make(method=method, amount=5, k=2)
    made, labels = exp.augment()
    n = len(exp.y_lab)
    assert made.shape == (5 * n, 1, 8, 8) and made.dtype == np.float32
    assert 0 <= made.min() and made.max() <= 1
    assert np.array_equal(labels, np.tile(exp.y_lab, 5))  # each keeps its source's class
    flat = made.reshape(5, n, -1)  # (sample j, source, pixels)
    for j in range(3):  # j and j + 2: the same neighbour, another cycle (or fresh noise)
        assert (np.abs(flat[j] - flat[j + 2]).max(axis=1) > 0).all()


def test_amount_zero_is_the_base():
    exp = make(amount=0, rounds=1, vae_epochs=1)
    row = exp.step()
    assert row["gain"] == 0.0 and row["memorization"] == 0.0


def test_save_load_continues_identically(tmp_path):
    options = dict(seed=3, method="noise", amount=2)
    straight = make(**options)
    expected = [straight.step() for _ in range(straight.num_steps)]
    first = make(**options)
    got = [first.step()]
    first.save(str(tmp_path))
    second = make(**options)
    second.load(str(tmp_path))
    got.append(second.step())
    assert got == expected


def test_baselines_rows():
    rows = VAEAugmentExperiment.baselines({**TINY, "amount": 2}, {}, seed=0)
    names = [r["baseline"] for r in rows]
    assert names == ["labelled only (100)", "smote (100 + 200)", "all labelled (1272)"]
    by = dict(zip(names, rows, strict=True))
    assert by["labelled only (100)"]["gain"] == 0.0
    assert "memorization" not in by["labelled only (100)"]  # nothing generated to judge
    assert 0 <= by["smote (100 + 200)"]["memorization"] <= 1
    assert by["all labelled (1272)"]["gain"] > 0  # the ceiling: real labels beat 100
    for row in rows:
        assert set(row) - {"baseline"} <= set(VAEAugmentExperiment.metrics)


def test_check_rejects_too_few_labels():
    with pytest.raises(ValueError, match="fewer than 2 samples per class"):
        VAEAugmentExperiment.check({"labelled": 15}, {})
    with pytest.raises(ValueError, match="exceeds"):
        VAEAugmentExperiment.check({"labelled": 5000}, {})


def test_sklearn_scores_fixed_and_checked():
    """(Lives here because tests/metrics/test_utility.py belongs to another change.)"""
    rng = np.random.default_rng(0)
    x = rng.random((60, 1, 4, 4)).astype(np.float32)  # class c: pixel c is bright
    y = np.arange(60) % 3
    x[np.arange(60), 0, 0, y] += 2.0
    a = sklearn_scores(x[:45], y[:45], x[45:], y[45:], seed=1)
    assert a == sklearn_scores(x[:45], y[:45], x[45:], y[45:], seed=1)  # no luck involved
    assert set(a) == {"svm_accuracy", "knn_accuracy", "mlp_accuracy"}
    assert all(v == 1.0 for v in a.values())
    assert set(sklearn_scores(x, y, x, y, classifiers=("knn",))) == {"knn_accuracy"}
    with pytest.raises(ValueError, match="unknown"):
        sklearn_scores(x, y, x, y, classifiers=("forest",))
    with pytest.raises(ValueError, match="as many labels"):
        sklearn_scores(x, y[:-1], x, y)


def test_smoke_study_through_the_engine(ray_session, tmp_path):
    spec = load_spec("vae_latent_augment", profile="smoke")
    out = run_study(spec, storage=str(tmp_path), name="v1", verbose=0, echo=lambda s: None)
    run = tmp_path / "v1"
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 2 and (trials.status == "completed").all()
    assert {"param_method", "param_amount", "gain", "memorization", "svm_accuracy_base"} <= set(
        trials.columns
    )
    assert trials[["gain", "memorization", "recon_loss"]].notna().all().all()
    baselines = pd.read_parquet(run / "baselines.parquet")
    assert list(baselines.baseline) == [
        "labelled only (100)",
        "smote (100 + 300)",
        "all labelled (1272)",
    ]
    assert "baselines (no generator)" in out.summary
