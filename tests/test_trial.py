"""raygan.trial: which round stands for a trial, in run_trial as in the engine."""

from __future__ import annotations

import pytest

from raygan import SpecError, load_spec, register_experiment, run_trial
from raygan.trial import replaces_kept, round_score

BEST = ["result.round=best", "result.reference={score = 0.0, cost = 2.0}"]


@pytest.fixture(scope="module")
def faulty(faulty_study):
    register_experiment("faulty", "faulty_experiment:FaultyExperiment")
    return faulty_study


def test_round_score_is_the_volume_a_point_dominates_beyond_the_reference(faulty):
    spec = load_spec(faulty, overrides=BEST)  # score max, cost min, reference (0, 2)
    assert round_score(spec, {"score": 0.5, "cost": 1.5}) == pytest.approx(0.25)
    assert round_score(spec, {"score": 0.5, "cost": 2.5}) == 0.0  # worse than the reference
    assert round_score(spec, {"score": -0.1, "cost": 0.0}) == 0.0
    one = load_spec(faulty, overrides=["objectives={cost = 'min'}", "result.round=best"])
    assert round_score(one, {"score": 0.5, "cost": 1.5}) == -1.5  # no reference needed


def test_ties_keep_the_later_round_and_last_keeps_every_new_round(faulty):
    best, last = load_spec(faulty, overrides=BEST), load_spec(faulty)
    a, b = {"score": 0.5, "cost": 1.0}, {"score": 0.25, "cost": 1.0}
    assert replaces_kept(best, a, None) and replaces_kept(best, dict(a), a)
    assert not replaces_kept(best, b, a) and replaces_kept(last, b, a)


def test_run_trial_returns_the_round_the_engine_would_keep(faulty):
    params, peak = {"x": 0.8, "y": 0.0}, ["fixed.steps=3", "fixed.peak_at=1"]
    assert run_trial(faulty, params, overrides=[*peak, *BEST]) == {
        "score": 0.8,
        "cost": pytest.approx(0.64),
        "step": 1,
    }
    out = run_trial(faulty, params, overrides=peak)
    assert (out["score"], out["step"]) == (0.4, 2)


def test_run_trial_refuses_a_searched_parameter_left_out():
    # the smoke profile searches duplication and rounds; rounds would fall back to 10
    with pytest.raises(
        SpecError, match=r"no value for the searched parameter\(s\) rounds \(1\.\.2\)"
    ):
        run_trial("seqgan_tradeoff", {"duplication": 3}, profile="smoke")


@pytest.mark.parametrize(
    "target, message",
    [
        ("no.such.module:Thing", "no module 'no.such.module' to import"),
        ("raygan.experiments.seqgan:Nope", "has no 'Nope'"),
        ("raygan.experiments.seqgan:SeqGANData", "is not an Experiment subclass"),
    ],
)
def test_register_experiment_fails_at_registration(target, message):
    from raygan.experiments import REGISTRY

    with pytest.raises(ValueError, match=message):
        register_experiment("not_registered", target)
    assert "not_registered" not in REGISTRY
