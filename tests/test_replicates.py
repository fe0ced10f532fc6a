"""Replicates and validated fronts on a real local Ray: every configuration trained with
several seeds (one row of means and spreads, one row per replicate), and the front
re-trained after the search with seeds the search never used."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from raygan import load_spec
from raygan.engine import run_study
from raygan.results import pareto_mask
from raygan.trial import aggregate_replicates, derive_seed, replicate_seeds, validation_seeds


def optuna_values(run_dir, name) -> dict[int, list[float]]:
    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.journal")))
    trials = optuna.load_study(study_name=name, storage=storage).trials
    return {t.number: t.values for t in trials if t.state == optuna.trial.TrialState.COMPLETE}


# ---- pure pieces -----------------------------------------------------------------------


def test_replicate_zero_is_the_trial_seed_and_replicates_differ():
    seeds = replicate_seeds(7, 3, 4)
    assert seeds[0] == derive_seed(7, 3)  # a study without replicates keeps its seeds
    assert len(set(seeds)) == 4
    assert seeds == replicate_seeds(7, 3, 4)  # stable
    assert replicate_seeds(8, 3, 4)[1] != seeds[1]


def test_validation_seeds_avoid_every_search_seed_and_each_other():
    search = {s for i in range(50) for s in replicate_seeds(0, i, 5)}
    seeds = validation_seeds(0, 3, 20, exclude=search)
    assert len(set(seeds)) == 20 and not set(seeds) & search
    assert seeds == validation_seeds(0, 3, 20, exclude=search)  # the same run: the same seeds
    # a seed the stream would give is skipped when the search used it
    first = validation_seeds(0, 3, 1)[0]
    assert validation_seeds(0, 3, 1, exclude={first})[0] != first


def test_aggregate_is_mean_sample_std_and_cellwise_matrix_mean():
    rounds = [
        {"score": 1.0, "cost": 2.0, "confusion": [[1.0, 0.0], [0.0, 1.0]]},
        {"score": 3.0, "cost": 2.0, "confusion": [[0.0, 1.0], [1.0, 0.0]]},
    ]
    out = aggregate_replicates(rounds)
    assert out["score"] == 2.0 and out["score_std"] == pytest.approx(np.sqrt(2.0))
    assert out["cost_std"] == 0.0 and out["n_replicates"] == 2
    assert out["confusion"] == [[0.5, 0.5], [0.5, 0.5]]
    assert "score_std" not in aggregate_replicates(rounds[:1])  # no spread from one seed


# ---- the engine ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validated_run(ray_session, faulty_study, tmp_path_factory):
    """6 configurations x 3 replicates with seeded noise, the front re-trained with 2 seeds."""
    tmp = tmp_path_factory.mktemp("replicates")
    spec = load_spec(
        faulty_study,
        overrides=["fixed.noise=0.1", "budget.replicates=3", "result.validate=2"],
    )
    lines: list[str] = []
    outcome = run_study(spec, storage=str(tmp), name="rv", verbose=0, echo=lines.append)
    return spec, tmp / "rv", outcome, lines


def test_replicate_rows_and_configuration_means_agree(validated_run):
    spec, run, outcome, _ = validated_run
    trials = pd.read_parquet(run / "trials.parquet")
    replicates = pd.read_parquet(run / "replicates.parquet")
    assert len(trials) == 6 and (trials.status == "completed").all()
    assert (trials.n_replicates == 3).all() and len(replicates) == 18
    for _, t in trials.iterrows():
        mine = replicates[replicates.trial_id == t.trial_id].sort_values("replicate")
        assert list(mine.replicate) == [0, 1, 2]
        assert list(mine.seed) == replicate_seeds(spec.seed, t.trial_index, 3)
        assert mine.seed.iloc[0] == t.seed
        assert (mine.kept_step == t.kept_step).all()
        assert mine.score.nunique() == 3  # the noise makes the replicates differ
        assert t.score == pytest.approx(mine.score.mean())
        assert t.score_std == pytest.approx(mine.score.std(ddof=1))
        assert t.cost == pytest.approx(mine.cost.mean()) and t.cost_std == pytest.approx(0.0)
    # Optuna and the front see the means
    values = optuna_values(run, "rv")
    for _, t in trials.iterrows():
        assert values[t.trial_index] == pytest.approx([t.score, t.cost])
    front = pareto_mask(trials[["score", "cost"]].to_numpy(), ["max", "min"])
    assert list(trials.pareto) == list(front)
    # the history holds each round's means and spreads
    history = pd.read_parquet(run / "history.parquet")
    assert len(history) == 6 * 2 and history.score_std.notna().all()


def test_validation_reruns_the_front_with_fresh_seeds(validated_run):
    spec, run, outcome, lines = validated_run
    trials = pd.read_parquet(run / "trials.parquet")
    replicates = pd.read_parquet(run / "replicates.parquet")
    validation = pd.read_parquet(run / "validation.parquet")
    front = trials[trials.pareto]
    assert len(validation) == 2 * len(front) and (validation.status == "completed").all()
    assert set(validation.trial_id) == set(front.trial_id)
    for _, t in front.iterrows():
        mine = validation[validation.trial_id == t.trial_id]
        assert sorted(mine.validation_run) == [0, 1]
        assert (mine.kept_step == t.kept_step).all()
        assert mine.param_x.tolist() == [t.param_x] * 2
        # scored at the kept step with their own noise: the same x, another draw
        assert (abs(mine.score - t.param_x) < 1.0).all() and not (mine.score == t.score).any()
    search_seeds = set(replicates.seed) | set(trials.seed)
    assert not set(validation.seed) & search_seeds
    assert validation.seed.is_unique
    # validated_front: each front configuration's validated means, non-dominated or not
    means = validation.groupby("trial_id")[["score", "cost"]].mean()
    stays = pareto_mask(means.to_numpy(), ["max", "min"])
    expected = dict(zip(means.index, stays, strict=True))
    for _, t in trials.iterrows():
        assert t.validated_front == (t.pareto and expected[t.trial_id])
    assert trials.validated_front.dtype == bool  # a mask, as pareto is
    assert len(trials[trials.validated_front]) == sum(stays)
    # the summary says it, and the report shows it
    assert "Validated front (2 fresh seeds per configuration" in outcome.summary
    assert "validation.parquet" in outcome.summary
    assert sum(line.startswith("[raygan] validation of trial") for line in lines) == len(validation)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "on validation" in page and "Hollow diamonds" in page


def test_pessimistic_aggregate_is_what_optuna_and_the_front_see(
    ray_session, faulty_study, tmp_path
):
    spec = load_spec(
        faulty_study,
        overrides=[
            "fixed.noise=0.2",
            "budget.replicates=2",
            "budget.num_samples=4",
            'result.aggregate="pessimistic"',
        ],
    )
    run_study(spec, storage=str(tmp_path), name="pa", verbose=0, echo=lambda s: None)
    trials = pd.read_parquet(tmp_path / "pa" / "trials.parquet")
    values = optuna_values(tmp_path / "pa", "pa")
    for _, t in trials.iterrows():
        # the row keeps the mean; Optuna got the mean moved one std towards worse
        assert values[t.trial_index] == pytest.approx([t.score - t.score_std, t.cost + t.cost_std])
    pessimistic = np.column_stack([trials.score - trials.score_std, trials.cost + trials.cost_std])
    assert list(trials.pareto) == list(pareto_mask(pessimistic, ["max", "min"]))


def test_seqgan_smoke_study_with_replicates_and_validation(ray_session, tmp_path):
    """The real SeqGAN at smoke size, as `--replicates 2 --validate-front 2` runs it."""
    spec = load_spec(
        "seqgan_tradeoff",
        profile="smoke",
        overrides=["budget.replicates=2", "result.validate=2", "fixed.mle_epochs=5"],
    )
    outcome = run_study(spec, storage=str(tmp_path), name="sv", verbose=0, echo=lambda s: None)
    run = tmp_path / "sv"
    trials = pd.read_parquet(run / "trials.parquet")
    replicates = pd.read_parquet(run / "replicates.parquet")
    pareto = pd.read_parquet(run / "pareto.parquet")
    validation = pd.read_parquet(run / "validation.parquet")
    assert len(trials) == 2 and (trials.status == "completed").all()
    assert len(replicates) == 4 and sorted(pareto.trial_id) == sorted(
        trials[trials.pareto].trial_id
    )
    metrics = ["novel_valid_distinct", "memorization", "validity", "exact_copy", "distinct_2"]
    for _, t in trials.iterrows():
        mine = replicates[replicates.trial_id == t.trial_id]
        assert mine.seed.nunique() == 2 and (mine.kept_step == t.kept_step).all()
        for m in metrics:
            assert t[m] == pytest.approx(mine[m].mean())
            assert t[f"{m}_std"] == pytest.approx(mine[m].std(ddof=1))
    assert len(validation) == 2 * len(pareto) and (validation.status == "completed").all()
    assert not set(validation.seed) & (set(replicates.seed) | set(trials.seed))
    for _, v in validation.iterrows():  # trained to the configuration's kept step, no further
        assert v.kept_step == pareto.set_index("trial_id").kept_step[v.trial_id]
    assert trials.validated_front.dtype == bool
    assert "Validated front" in outcome.summary
