"""Per-sample judgements: each flag's mean (and the distances' median) is the round's
metric, on hand-made emoticons, on the embedded corpus and on real digit images."""

import numpy as np
import pytest

from raygan.data.kaomoji import load_corpus
from raygan.data.text import drawn_text, drawn_texts
from raygan.metrics.emoticon import (
    emoticon_evaluation,
    emoticon_judgements,
    emoticon_metrics,
    emoticon_reference,
)
from raygan.metrics.image_samples import image_judgements, judge_images, png_bytes, png_image
from raygan.metrics.memorization import memorization_evaluation, memorization_metrics

TRAINING = ["(^_^)", "(^o^)", "(^_^)v", "(≧▽≦)", "(・∀・)"]
HELDOUT = ["(T_T)", "(-_-)", "(^_^)ノ"]
TEXT_KEYS = {
    "kind",
    "text",
    "valid",
    "novel_valid",
    "exact_copy",
    "near_copy",
    "heldout_hit",
    "nearest",
    "nearest_index",
    "distance",
}


def agrees(judged: list[dict], metrics: dict) -> None:
    """The documented aggregates of the judgements are the metrics."""
    n = len(judged)
    mean = {k: sum(j[k] for j in judged) / n for k in ("valid", "novel_valid", "exact_copy")}
    assert mean["valid"] == pytest.approx(metrics["validity"], abs=1e-12)
    assert mean["novel_valid"] == pytest.approx(metrics["novel_validity"], abs=1e-12)
    assert mean["exact_copy"] == pytest.approx(metrics["exact_copy"], abs=1e-12)
    near = sum(j["near_copy"] for j in judged) / n
    assert near == pytest.approx(metrics["near_copy"], abs=1e-12)
    hits = sum(j["heldout_hit"] for j in judged) / n
    assert hits == pytest.approx(metrics["heldout_hits"], abs=1e-12)
    median = float(np.median([j["distance"] for j in judged]))
    assert median == pytest.approx(metrics["dcr_synthetic"], abs=1e-12)


def test_hand_made_emoticons_are_judged_as_the_metrics_count_them():
    samples = [
        "(^_^)",  # an exact copy
        "(^_^)",  # repeats count
        "(^___^)",  # a near copy (padding)
        "ヽ(^o^)ノ",  # a near copy (arms)
        "(T_T)",  # a held-out real kaomoji: valid, new
        "(°▽°)",  # valid and new
        "^_^",  # no outline: invalid
        "(^_-)",  # asymmetric eyes no training face vouches for: invalid
    ]
    judged = emoticon_judgements(samples, TRAINING, HELDOUT)
    metrics = emoticon_metrics(samples, TRAINING, HELDOUT)
    assert [set(j) for j in judged] == [TEXT_KEYS] * len(samples)
    assert [j["text"] for j in judged] == samples
    assert [j["exact_copy"] for j in judged] == [True, True] + [False] * 6
    assert [j["near_copy"] for j in judged] == [True] * 4 + [False] * 4
    assert [j["valid"] for j in judged] == [True] * 6 + [False] * 2
    assert [j["novel_valid"] for j in judged] == [False] * 4 + [True, True, False, False]
    assert [j["heldout_hit"] for j in judged] == [False] * 4 + [True] + [False] * 3
    # an exact copy names the face it copies, though "(^_^)v" shares its face
    assert judged[0]["nearest"] == "(^_^)" and judged[0]["nearest_index"] == 0
    assert judged[0]["distance"] == 0.0 and judged[2]["distance"] == 0.0
    assert judged[3]["nearest"] == "(^o^)" and judged[3]["nearest_index"] == 1
    assert all(0.0 <= j["distance"] <= 1.0 for j in judged)
    assert judged[5]["distance"] > 0.0
    agrees(judged, metrics)
    # novel_valid_distinct: distinct faces among the novel valid samples, per sample
    assert metrics["novel_valid_distinct"] == 2 / len(samples)
    # the paper's exact_copy is a share of all samples, not of the valid ones
    assert metrics["exact_copy"] == 2 / 8


def test_arms_on_the_second_training_face_with_that_face_point_at_the_closer_one():
    judged = emoticon_judgements(["(^_^)v"], TRAINING, HELDOUT)
    assert judged[0]["nearest"] == "(^_^)v" and judged[0]["nearest_index"] == 2


def test_the_embedded_corpus_scored_against_itself_and_its_held_out_faces():
    corpus = load_corpus(source="kaomoji", emotion=["laugh"], size=95, seed=0, max_len=40)
    reference = emoticon_reference(corpus.train, corpus.heldout)
    rng = np.random.default_rng(0)
    mixed = list(corpus.train[:30]) + list(rng.choice(corpus.heldout, 300, replace=False))
    mixed += [face[: len(face) // 2] for face in corpus.train[:20]]  # broken halves
    metrics, judged = emoticon_evaluation(mixed, reference)
    assert metrics == emoticon_metrics(mixed, reference)
    agrees(judged, metrics)
    assert 0 < metrics["exact_copy"] < metrics["near_copy"] < 1
    assert 0 < metrics["heldout_hits"] < 1 and 0 < metrics["validity"] < 1
    for j in judged:  # named as compared: "ლ(o◡oლ)" for the face that ends in two U+FEFF
        assert drawn_text(corpus.train[j["nearest_index"]]) == j["nearest"]
    assert [j["nearest"] for j in judged[:30]] == drawn_texts(corpus.train[:30])


def test_no_samples_no_judgements():
    assert emoticon_judgements([], TRAINING) == []


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x = (load_digits().images / 16.0)[:, None].astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[:300]], x[order[300:600]], x[order[600:700]]


def test_png_round_trips_8_bit_greyscale(digits):
    train, _, _ = digits
    data = png_bytes(train[0])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    back = png_image(data)
    assert back.shape == (8, 8)
    np.testing.assert_allclose(back, train[0, 0], atol=0.5 / 255)
    assert png_image(png_bytes(np.array([[-1.0, 2.0]]))).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match=r"image: shape \(2, 8, 8\)"):
        png_bytes(np.zeros((2, 8, 8)))


def test_image_judgements_agree_with_the_memorization_metrics(digits):
    train, holdout, fresh = digits
    synthetic = np.concatenate([train[:10], fresh[:30], np.clip(train[10:20] + 0.2, 0, 1)])
    metrics, nearest = memorization_evaluation(synthetic, train, holdout, levels=17)
    assert metrics == memorization_metrics(synthetic, train, holdout, levels=17)
    labels = np.arange(len(synthetic)) % 10
    index = np.arange(len(train)) + 1000  # the family's own numbering of these images
    judged = image_judgements(synthetic, labels, train, nearest, training_index=index)
    assert [j["exact_copy"] for j in judged] == [True] * 10 + [False] * 40
    assert np.mean([j["exact_copy"] for j in judged]) == metrics["exact_copy"] == 0.2
    assert np.median([j["distance"] for j in judged]) == metrics["dcr_synthetic"]
    assert [j["nearest_index"] for j in judged[:10]] == list(range(1000, 1010))
    assert [j["label"] for j in judged] == labels.tolist()
    for j, image in zip(judged, synthetic, strict=True):
        assert j["kind"] == "image"
        np.testing.assert_allclose(png_image(j["image"]), image[0], atol=0.5 / 255)
        nearest_image = png_image(j["nearest_image"])
        np.testing.assert_allclose(
            nearest_image, train[j["nearest_index"] - 1000, 0], atol=0.5 / 255
        )
    # fresh images judged on their own find the same neighbours
    again = judge_images(synthetic, labels, train, levels=17, training_index=index)
    assert again == judged
