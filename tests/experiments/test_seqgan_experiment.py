"""The SeqGAN experiment through its engine-facing interface, with real torch training."""

import math

import pytest
import torch

import raygan
from raygan.data.text import PAD
from raygan.experiments import get_experiment
from raygan.experiments.base import TrialDiverged
from raygan.experiments.seqgan import SeqGANExperiment
from raygan.metrics.emoticon import EMOTICON_METRIC_KEYS
from raygan.metrics.text_memorization import TextReference
from raygan.trial import check_finite

TINY = dict(
    emb_dim=8,
    hidden_dim=8,
    mle_epochs=1,
    d_pretrain_epochs=1,
    rounds=3,
    rollouts=2,
    batch_size=8,
    eval_samples=40,
)
DATA = dict(size=20)


def make(seed=0, **overrides):
    exp = SeqGANExperiment()
    exp.setup({**TINY, **overrides}, DATA, seed=seed)
    return exp


def test_registry_finds_it():
    assert get_experiment("seqgan") is SeqGANExperiment


def test_steps_report_every_metric_once_per_round():
    exp = make()
    assert exp.num_steps == TINY["rounds"] + 1
    rows = [exp.step() for _ in range(exp.num_steps)]
    assert [r["round"] for r in rows] == [0.0, 1.0, 2.0, 3.0]
    for r in rows:
        assert set(SeqGANExperiment.metrics) <= set(r)
        assert all(isinstance(v, float) and math.isfinite(v) for v in r.values())
        assert 0.0 <= r["validity"] <= 1.0 and 0.0 <= r["memorization"] <= 1.0
    with pytest.raises(RuntimeError, match="already done"):
        exp.step()


def test_rows_carry_every_emoticon_metric_in_order():
    n = len(EMOTICON_METRIC_KEYS)
    assert SeqGANExperiment.metrics[:n] == EMOTICON_METRIC_KEYS
    assert SeqGANExperiment.metrics[n:] == ("mle_loss", "d_loss", "d_fake", "mean_reward")


def test_reference_is_built_once_in_setup(monkeypatch):
    exp = make()
    assert isinstance(exp.reference, TextReference)
    assert exp.reference.has_baseline  # the corpus's held-out faces

    def rebuilt(*args, **kwargs):
        raise AssertionError("evaluate() rebuilt the reference")

    monkeypatch.setattr(TextReference, "build", rebuilt)
    row = exp.step()
    assert 0.0 <= row["memorization"] <= 1.0 and row["dcr_holdout"] > 0.0


def test_same_seed_same_result_other_seed_other_result():
    a = [make(seed=1).step() for _ in range(1)]
    b = [make(seed=1).step() for _ in range(1)]
    c = [make(seed=2).step() for _ in range(1)]
    assert a == b
    assert a != c


def test_resume_from_save_continues_identically(tmp_path):
    straight = make(seed=3)
    expected = [straight.step() for _ in range(straight.num_steps)]

    first = make(seed=3)
    got = [first.step(), first.step()]
    first.save(str(tmp_path))
    second = make(seed=3)  # a fresh process would do exactly this: setup, then load
    second.load(str(tmp_path))
    got += [second.step() for _ in range(second.num_steps - 2)]
    assert got == expected


def test_duplication_multiplies_real_and_fake_sets_for_d():
    exp = make(duplication=3)
    assert len(exp._real(True)) == 3 * DATA["size"]
    assert len(exp._real(False)) == DATA["size"]
    no_dup_mle = make(duplication=3, mle_duplicate=False)
    assert len(no_dup_mle._real(no_dup_mle.cfg.mle_duplicate)) == DATA["size"]


def test_entropy_bonus_keeps_g_spread_out_and_zero_is_the_paper():
    def mean_entropy(exp):
        """G's mean next-token entropy over the training faces, in nats"""
        with torch.no_grad():
            _, entropy = exp.gen.log_probs(exp.train_seqs)
        return entropy[exp.train_seqs != PAD].mean().item()

    # pre-trained long enough to be far from uniform (ln V nats), so there is room to rise
    peaked = dict(mle_epochs=40, g_lr=0.02, copy_penalty=1.0, rounds=4)
    runs = {}
    for bonus in (0.0, 2.0):
        exp = make(seed=6, entropy_bonus=bonus, **peaked)
        rows = [exp.step() for _ in range(exp.num_steps)]
        runs[bonus] = rows, mean_entropy(exp)
    (plain, plain_h), (spread, spread_h) = runs[0.0], runs[2.0]
    assert plain[0] == spread[0]  # pre-training does not see it
    assert spread_h > plain_h + 0.1
    default = make(seed=6, **peaked)
    assert [default.step() for _ in range(default.num_steps)] == plain


def test_bad_setting_names_field_and_rule():
    with pytest.raises(ValueError, match=r"fixed.duplication: 0 must be >= 1"):
        make(duplication=0)
    with pytest.raises(ValueError, match=r"fixed.nope: unknown setting"):
        make(nope=1)


def test_diverged_metrics_fail_the_trial():
    exp = make(g_lr=1e-3)
    row = exp.step()
    check_finite(row, step=0)
    with torch.no_grad():  # a blown-up generator: its MLE loss is no longer a number
        for p in exp.gen.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrialDiverged, match="not finite at round 1"):
        exp.step()
    with pytest.raises(TrialDiverged, match="step 2: non-finite validity=nan"):
        check_finite({"validity": float("nan"), "memorization": 0.5}, step=2)


def test_run_trial_keeps_the_best_round_and_it_reruns_exactly():
    # smoke-sized, but trained enough for rounds to differ; seed 0 peaks at round 1 of 0..3
    params = {"duplication": 3, "rounds": 3, "copy_penalty": 0.8, "g_lr": 0.02}
    fast = ["fixed.mle_epochs=10", "fixed.eval_samples=200"]

    def trial(params, *overrides):
        return raygan.run_trial(
            "seqgan_tradeoff", params, profile="smoke", seed=0, overrides=[*fast, *overrides]
        )

    kept = trial(params)
    assert set(SeqGANExperiment.metrics) <= set(kept) and kept["round"] == kept["step"] == 1
    last = trial(params, "result.round=last")
    assert last["step"] == 3
    assert kept["novel_valid_distinct"] * (1 - kept["memorization"]) > last[
        "novel_valid_distinct"
    ] * (1 - last["memorization"])
    # the trial cut at its best round ends on exactly that round's numbers
    assert trial({**params, "rounds": 1}, "result.round=last") == kept


def test_user_file_as_data(tmp_path):
    f = tmp_path / "faces.txt"
    f.write_text("(^_^)\n(^o^)\n(≧▽≦)\n(・∀・)\n", encoding="utf-8")
    exp = SeqGANExperiment()
    exp.setup(TINY, {"source": str(f)}, seed=0)
    row = exp.step()
    assert row["heldout_hits"] == 0.0  # a user file has no held-out set
    assert row["memorization"] == row["near_copy"]  # so no chance level to correct for
    assert row["dcr_holdout"] == 0.0 and row["dcr_ratio"] == 1.0
    assert exp.corpus.train == ("(^_^)", "(^o^)", "(≧▽≦)", "(・∀・)")


def test_reward_terms_penalise_near_copies_and_reward_new_valid_faces():
    exp = make(copy_penalty=0.5, validity_reward=0.25)
    trained = exp.corpus.train[0]
    arm = next(c for c in "ノヽヾσm" if c in exp.vocab.stoi)
    armed = trained + arm  # the same face with an arm: a near copy
    new_face = "(^ω^)"  # valid, no training face's face, written in G's vocabulary
    invalid = "^ω^"
    texts = [trained, armed, new_face, invalid]
    assert all(c in exp.vocab.stoi for t in texts for c in t)
    terms = exp._reward_terms(exp.vocab.encode(texts, exp.length + 4))
    assert terms.tolist() == [-0.5, -0.5, 0.25, 0.0]
