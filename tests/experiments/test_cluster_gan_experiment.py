"""The cluster-GAN-cluster experiment: KMeans consistency, real conditional GAN training,
save/load, and the smoke study through the engine."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from raygan import load_spec
from raygan.data import DataError
from raygan.engine import run_study
from raygan.experiments import get_experiment
from raygan.experiments.cluster_gan import (
    ClusterGANExperiment,
    cluster_consistency,
    fit_kmeans,
)

TINY = dict(clusters=3, epochs=2, rounds=2, eval_samples=10, hidden=16, noise_dim=8, arch="mlp")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: on a busy 2-core machine a second thread only spins (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(seed=0, data=None, **overrides):
    exp = ClusterGANExperiment()
    exp.setup({**TINY, **overrides}, data or {"digits": [0, 2]}, seed=seed)
    return exp


def test_registry_finds_it():
    assert get_experiment("cluster_gan") is ClusterGANExperiment


def test_consistency_on_constructed_cases():
    rng = np.random.default_rng(0)
    centres = np.array([[0.1] * 4, [0.5] * 4, [0.9] * 4])
    members = np.concatenate([c + 0.01 * rng.standard_normal((20, 4)) for c in centres])
    model = fit_kmeans(members, 3, 5, seed=0)
    own = model.predict(members)
    # the model's own centres and its own training members land where it put them
    assert cluster_consistency(model, model.cluster_centers_, np.arange(3)) == 1.0
    assert cluster_consistency(model, members, own) == 1.0
    # images of any shape are flattened
    assert cluster_consistency(model, members.reshape(-1, 1, 2, 2), own) == 1.0
    # all samples from the wrong cluster: 0; half right: 0.5; nothing generated: 0
    first = members[own == own[0]]
    wrong = (own[0] + 1) % 3
    assert cluster_consistency(model, first, wrong) == 0.0
    half = np.concatenate([first[:10], members[own == wrong][:10]])
    assert cluster_consistency(model, half, own[0]) == 0.5
    assert cluster_consistency(model, members[:0], 0) == 0.0


def test_kmeans_is_deterministic():
    x = np.random.default_rng(1).random((60, 1, 8, 8))
    a, b = fit_kmeans(x, 4, 3, seed=5), fit_kmeans(x, 4, 3, seed=5)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)


def test_setup_clusters_every_chosen_digit():
    exp = make(clusters=4)
    assert set(np.unique(exp.y_train)) == {0, 2}  # only the chosen digits, none cut
    assert len(exp.y_train) > 200
    classes = exp.y.numpy()
    assert set(np.unique(classes)) == set(range(8))  # (digit, cluster) -> 0..7
    assert (classes[exp.y_train == 2] >= 4).all()  # second digit: classes 4..7
    # the class of each training sample is the cluster its digit's KMeans assigns it
    for i, model in enumerate(exp.kmeans):
        members = exp.y_train == exp.digits[i]
        assert cluster_consistency(model, exp.x_train[members], classes[members] - 4 * i) == 1.0


def test_steps_report_finite_metrics():
    exp = make()
    rows = [exp.step() for _ in range(exp.num_steps)]
    assert len(rows) == 2
    for r in rows:
        for m in ClusterGANExperiment.metrics:
            assert isinstance(r[m], float) and math.isfinite(r[m]), m
        assert 0 <= r["consistency_min"] <= r["consistency"] <= 1
        assert 0 <= r["memorization"] <= 1
        assert r["consistency_lift"] == pytest.approx((r["consistency"] - 1 / 3) / (2 / 3))
        assert [row[0] for row in r["per_digit"]] == [0.0, 2.0]
        assert np.array(r["cluster_consistency"]).shape == (2, 3)
        per_digit = np.array(r["cluster_consistency"]).mean(axis=1)
        assert r["consistency"] == pytest.approx(per_digit.mean())
        assert r["consistency_min"] == pytest.approx(per_digit.min())
    with pytest.raises(RuntimeError):
        exp.step()


def test_resume_from_save_continues_identically(tmp_path):
    options = dict(seed=3, arch="conv", loss="wgan-gp", n_critic=3, rounds=3, epochs=3)
    straight = make(**options)
    expected = [straight.step() for _ in range(straight.num_steps)]
    first = make(**options)
    got = [first.step()]
    first.save(str(tmp_path))
    second = make(**options)
    second.load(str(tmp_path))
    got += [second.step(), second.step()]
    assert got == expected


def test_load_restores_the_saved_clusters(tmp_path):
    exp = make()
    exp.save(str(tmp_path))
    other = make()
    saved = [m.cluster_centers_.copy() for m in exp.kmeans]
    for m in other.kmeans:  # as if refit differently (another scikit-learn)
        m.cluster_centers_ = m.cluster_centers_[::-1].copy()
    other.load(str(tmp_path))
    assert all(
        np.array_equal(a.cluster_centers_, b) for a, b in zip(other.kmeans, saved, strict=True)
    )
    assert torch.equal(other.y, exp.y)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"digits": []}, "non-empty list"),
        ({"digits": [0, 11]}, "11 is not a digit"),
        ({"digits": [1, 1]}, "names a digit twice"),
        ({"digits": [0, True]}, "True is not a digit"),
    ],
)
def test_bad_digits_are_refused_on_the_driver(data, message):
    with pytest.raises(DataError, match=message):
        ClusterGANExperiment.check(TINY, data)


def test_smoke_study_through_the_engine(ray_session, tmp_path):
    spec = load_spec("cluster_gan", profile="smoke")
    out = run_study(spec, storage=str(tmp_path), name="c1", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "c1" / "trials.parquet")
    assert len(trials) == 2 and (trials.status == "completed").all(), trials.error.tolist()
    assert {"param_clusters", "consistency", "memorization", "per_digit"} <= set(trials.columns)
    assert trials.consistency.between(0, 1).all()
    assert len(trials.per_digit[0]) == 2  # digits 0 and 2
    assert "consistency" in out.summary
