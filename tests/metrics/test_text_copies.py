"""Copies of kaomoji up to padding: skeletons, near copies, chance-corrected memorization,
text DCR and distinct new valid faces, on hand-made cases and on the embedded corpus."""

import math
import random
import time

import pytest

from raygan.data.kaomoji import kaomoji_corpus
from raygan.metrics.emoticon import (
    emoticon_metrics,
    emoticon_reference,
    exact_copy,
    is_emoticon,
    memorization,
    near_copy,
    novel_valid_distinct,
)
from raygan.metrics.emoticon_rules import MOUTHS, EmoticonRules, skeleton
from raygan.metrics.text_memorization import (
    TEXT_METRIC_KEYS,
    TextReference,
    text_dcr,
    text_memorization_metrics,
    text_memorization_score,
)

TRAINED = "（＾＿＿＿＿＿＿＿＿＿＿＿＾）"  # a training face of the default draw
TRIMMED = "（＾＿＿＿＾）"
# The collapse a copy-penalised SeqGAN run ended in: trimmed variants of TRAINED.
VARIANTS = ["（＾" + "＿" * k + "＾）" for k in (1, 2, 6, 7, 8, 9, 10)]
COLLAPSED = (
    ["（＾＿＿＿＿＾）"] * 376
    + [TRIMMED] * 339
    + ["（＾＿＿＿＿＿＾）"] * 159
    + [VARIANTS[i % len(VARIANTS)] for i in range(126)]
)
NEW_FACES = ("(◕‿◕)", "(ʘᴥʘ)", "(≧◡≦)")  # valid, and no training face's skeleton


@pytest.fixture(scope="module")
def corpus():
    return kaomoji_corpus()  # 95 laughing faces trained on, ~10.5k others held out


@pytest.fixture(scope="module")
def reference(corpus):
    return emoticon_reference(corpus.train, corpus.heldout)


def without(faces, left_out):
    left_out = set(left_out)
    return [f for f in faces if f not in left_out]


# --- Skeletons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        pytest.param(TRIMMED, TRAINED, id="trimmed-mouth"),
        pytest.param("(^-^ )", "(^-^)", id="space-padding"),
        pytest.param("（＾▽＾）", "(^▽^)", id="full-width-vs-ascii"),
        pytest.param("(ﾉ･∀･)ﾉ", "(ノ・∀・)ノ", id="half-width-vs-full-katakana"),
        pytest.param("（\u3000⌒\u3000▽\u3000⌒\u3000）", "(⌒▽⌒)", id="ideographic-spaces"),
        pytest.param("(o\u0300_o\u0301)", "(ò_ó)", id="decomposed-vs-precomposed-accents"),
        pytest.param("(^_^)\ufeff", "(^_^)", id="invisible-character"),
        pytest.param("(•̀ᴗ•́)", "(•ᴗ•)", id="combining-marks-without-precomposed-form"),
    ],
)
def test_same_skeleton(a, b):
    assert skeleton(a) == skeleton(b)
    assert near_copy([a], [b]) == 1.0


@pytest.mark.parametrize(
    "a, b",
    [
        pytest.param("(^o^)", "(^_^)", id="mouth"),
        pytest.param("(-_-)", "(^_^)", id="eyes"),
        pytest.param("(ò_ó)", "(o_o)", id="accented-eyes"),
        pytest.param("(ᵒ_ᵒ)", "(o_o)", id="modifier-letter-eyes-nfkc-would-merge"),
        pytest.param("(´・ω・`)", "(´・ω・)", id="eyebrows-nfkc-would-split"),
    ],
)
def test_different_skeleton(a, b):
    assert skeleton(a) != skeleton(b)
    assert near_copy([a], [b]) == 0.0


@pytest.mark.parametrize(
    "sample, training",
    [
        pytest.param("(^_^;)", "(^_^)", id="sweat-drop"),
        pytest.param("(*^_^*)", "(^_^)", id="cheeks"),
        pytest.param("(´・ω・`)", "(・ω・)", id="symmetric-flanks"),
        pytest.param("(o^_^o)", "(^_^)", id="flanks-that-could-be-eyes"),
        pytest.param("ヽ(^_^ノ)", "(^_^)", id="arms-inside"),
        pytest.param("[^_^]", "(^_^)", id="other-brackets"),
        pytest.param("(^_^_^_^)", "(^_^)", id="repeated-eye-mouth-unit"),
        pytest.param("(*¯∇¯*)", "(*￣∇￣*)", id="macron-look-alikes"),
        pytest.param("(ˆ_ˆ)", "(^_^)", id="circumflex-look-alikes"),
        pytest.param("(\x01^_^\x01)", "(^_^)", id="control-characters"),
    ],
)
def test_what_a_face_wears_is_no_new_face(sample, training):
    """A face is its eyes and what lies between them: cheeks, arms, symmetric flanks,
    the bracket, a repeated stretch or a look-alike symbol make no new face."""
    assert near_copy([sample], [training]) == 1.0
    assert novel_valid_distinct([sample] * 3, [training]) == 0.0


def test_skeleton_by_hand():
    assert skeleton(TRIMMED) == skeleton(TRAINED) == "(^_^)"
    assert skeleton("(^-^ )") == "(^-^)"
    assert skeleton("(´∀｀)") == "(´∀`)"  # NFKC would make "´" a space + combining mark
    assert skeleton("(￣▽￣)") == skeleton("(¯▽¯)") == "(¯▽¯)"  # look-alikes meet
    assert skeleton("(^^)") == skeleton("(^^^)") == "(^)"  # runs of eyes collapse too
    assert skeleton("") == skeleton(" \u3000") == ""


# --- Near copies and memorization on the corpus --------------------------------------------------


def test_trimmed_face_is_a_near_copy(corpus, reference):
    assert TRAINED in corpus.train and TRIMMED not in corpus.train
    assert exact_copy([TRIMMED], reference) == 0.0
    assert near_copy([TRIMMED], reference) == 1.0
    assert memorization([TRIMMED] * 10, reference) == 1.0
    m = emoticon_metrics([TRIMMED] * 9 + ["(ʘᴥʘ)"], reference)
    assert m["exact_copy"] == 0.0 and m["near_copy"] == 0.9
    # 9 copies and one new face whose nearest faces are held-out: (0.9 - p0) / (1 - p0)
    assert m["memorization"] == pytest.approx(0.9, abs=0.01)


def test_other_eyes_or_mouth_are_no_near_copy(reference):
    # "（＾ｏｏｏ＾）" would not do: its face "(^o^)" is a training face's, in
    # "ヽ(^o^)ρ┳┻┳°σ(^o^)/"
    faces = ["（－＿＿＿－）", "（＾ДДД＾）", *NEW_FACES]
    assert near_copy(faces, reference) == 0.0
    assert text_dcr(faces, reference)["dcr_synthetic"] > 0.0


def test_all_copies_score_one(corpus, reference):
    assert memorization(list(corpus.train) * 3, reference) == 1.0
    assert memorization(COLLAPSED, reference) == 1.0
    m = emoticon_metrics(COLLAPSED, reference)
    assert m["near_copy"] == 1.0 and m["exact_copy"] == 0.0
    assert m["dcr_synthetic"] == 0.0 and m["dcr_ratio"] == 0.0
    assert m["novel_valid_distinct"] == 0.0 and m["novel_validity"] == 0.0
    assert m["top_share"] == 0.376


def test_unseen_real_faces_score_about_zero(corpus):
    samples = random.Random(0).sample(corpus.heldout, 1000)
    reference = emoticon_reference(corpus.train, without(corpus.heldout, samples))
    m = text_memorization_metrics(samples, reference)
    # measured 0.119: 121 of these faces share their face (eyes and mouth) with a
    # training face (no sample here is a training face itself): near copies
    assert m["memorization"] < 0.15
    assert m["exact_copy"] == 0.0 and m["near_copy"] < 0.15
    assert m["dcr_ratio"] == pytest.approx(1.0, abs=0.1)


def test_unseen_faces_of_the_trained_emotion_score_a_little(corpus):
    laughing = kaomoji_corpus(size=117).train  # every core-tier laughing face
    unseen = without(laughing, corpus.train)
    assert len(unseen) == 22
    reference = emoticon_reference(corpus.train, without(corpus.heldout, unseen))
    # measured 0.358: 8 of the 22 share their face (eyes and mouth) with a training face
    assert 0.1 < memorization(unseen, reference) < 0.45


def test_never_nan_on_empty_input(reference):
    assert text_memorization_metrics([], reference) == dict.fromkeys(TEXT_METRIC_KEYS, 0.0)
    assert memorization([], reference) == 0.0
    m = emoticon_metrics([], reference)
    assert all(v == 0.0 for v in m.values())
    m = emoticon_metrics([""], ["(^_^)"], [""])  # an empty string is a sample like any other
    assert all(math.isfinite(v) for v in m.values())


# --- Chance correction, ties, baselines on hand-made cases -------------------------------------


def test_ties_are_split_by_face_counts():
    # "(>_<)" is 2/5 from "(^_^)" (two training faces have that skeleton) and from "(T_T)"
    # and "(o_o)" (one held-out face each): training share 2 / (2 + 2), p0 = 2 / (2 + 3).
    training = ["(^_^)", "(^__^)"]
    heldout = ["(T_T)", "(o_o)", "(abcdefg)"]
    reference = emoticon_reference(training, heldout)
    expected = (0.5 - 0.4) / (1 - 0.4)
    assert text_memorization_score(["(>_<)"], reference) == pytest.approx(expected, rel=1e-12)
    # a sample that ties every reference face scores its chance level: 0
    assert memorization(["(>_<)"], ["(^_^)"], ["(T_T)", "(o_o)"]) == 0.0


def test_repeats_weigh_in_the_medians():
    m = text_dcr(["(^_^)"] * 3 + ["(T_T)"], emoticon_reference(["(^_^)"], ["(T_T)", "(ToT)"]))
    # to training: 0, 0, 0, 2/5 -> median 0; held-out: 2/5, 3/5 -> median 1/2
    assert m == {"dcr_synthetic": 0.0, "dcr_holdout": 0.5, "dcr_ratio": 0.0}


def test_heldout_near_copies_leave_the_memorization_reference():
    reference = emoticon_reference(["(^_^)"], ["(^__^)", "( ^_^ )", "(T_T)"])
    assert reference.train_counts.tolist() == [1.0]
    assert reference.heldout_counts.tolist() == [1.0]  # only "(T_T)"
    assert reference.heldout_to_train.tolist() == [0.0, 0.0, 0.4]  # all three in DCR
    m = text_memorization_metrics(["(T_T)"], reference)
    assert m["memorization"] == 0.0  # its nearest face is held-out: p = 0 < p0 = 1/2
    assert m["dcr_holdout"] == 0.0 and m["dcr_ratio"] == 1.0  # no baseline to compare with


def test_without_heldout_memorization_is_the_near_copy_rate():
    samples = ["(^__^)", "(T_T)", "(^o^)", "(x_x)"]
    for heldout in ((), ["( ^_^ )"]):  # none given, or every held-out face a copy
        m = emoticon_metrics(samples, ["(^_^)", "(^o^)"], heldout)
        assert m["memorization"] == m["near_copy"] == 0.5
        assert m["dcr_ratio"] == 1.0 and m["heldout_hits"] == 0.0
    assert emoticon_metrics(samples, ["(^_^)", "(^o^)"])["dcr_holdout"] == 0.0


def test_reference_inputs():
    with pytest.raises(ValueError, match="training: no strings"):
        emoticon_reference([], ["(^_^)"])
    reference = emoticon_reference(["(^_^)"])
    with pytest.raises(ValueError, match="heldout: a TextReference holds"):
        emoticon_metrics(["(^_^)"], reference, ["(T_T)"])
    plain = TextReference.build(["(^_^)"])  # no key: strings compared as they are
    assert text_memorization_metrics(["(^__^)"], plain)["near_copy"] == 0.0


# --- Distinct new valid faces ----------------------------------------------------------------


def test_new_faces_are_new_and_valid(corpus, reference):
    rules = EmoticonRules.from_training(corpus.train)
    assert all(rules.is_emoticon(f) for f in NEW_FACES)
    assert near_copy(list(NEW_FACES), reference) == 0.0


def test_collapse_onto_few_new_faces_scores_near_zero(reference):
    assert novel_valid_distinct([NEW_FACES[0]] * 1000, reference) == 0.001
    cycling = [NEW_FACES[i % 3] for i in range(1000)]
    assert novel_valid_distinct(cycling, reference) == 0.003
    m = emoticon_metrics(cycling, reference)
    assert m["validity"] == m["novel_validity"] == 1.0  # what the share version misses
    assert m["novel_valid_distinct"] == 0.003


def test_padding_variants_of_a_new_face_count_once(reference):
    assert novel_valid_distinct(["(ʘᴥʘ)", "( ʘᴥʘ )", "(ʘᴥᴥʘ)", "(^_^"], reference) == 1 / 4


def test_many_different_new_faces_score_one(reference):
    eyes = "^・°-T*ʘ⌒•◕ᵔ≧@;"
    mouths = sorted(MOUTHS)
    faces = [
        f"({e}{a}{b}{e})" for e in eyes for a in mouths for b in mouths if a != b
    ]  # no symbol repeats next to itself, so every face is its own skeleton
    faces = [f for f in faces if is_emoticon(f)][:1000]
    assert len(faces) == 1000
    assert novel_valid_distinct(faces, reference) == 1.0


def test_junk_around_one_face_counts_once(reference):
    """The rule lets anything stand outside the outline: varied junk after one new face
    makes new valid strings, but only one new face."""
    face = "(ʘᴥʘ)"
    junk = [face + tail for tail in ("=(ì_", "óò=(", "ヘì_í", "=ó(", "ìò")]
    assert novel_valid_distinct(junk, reference) == 1 / 5
    assert EmoticonRules().face("( ʘᴥʘ )v") == skeleton(face)
    assert EmoticonRules().face("no face") is None


def test_a_training_face_with_junk_or_new_arms_is_a_copy(corpus, reference):
    """The degenerate generator that appends random symbols to a training face: every
    sample valid and distinct, yet a copy of one face."""
    face = "（＾＿＿＿＿＿＿＿＿＿＿＿＾）"
    assert face in corpus.train
    vocab = sorted({ch for t in corpus.train for ch in t})
    rng = random.Random(0)
    junk = [face + "".join(rng.choices(vocab, k=rng.randint(3, 8))) for _ in range(1000)]
    m = emoticon_metrics(junk, reference)
    assert m["validity"] == 1.0 and m["uniqueness"] > 0.99
    assert m["near_copy"] == 1.0 and m["memorization"] == 1.0
    assert m["novel_valid_distinct"] == 0.0
    trained = "(^・^)"  # a training face with new arms
    assert trained in corpus.train
    armed = [trained + "v", "ヽ" + trained + "ノ"]
    assert near_copy(armed, reference) == 1.0 and novel_valid_distinct(armed, reference) == 0.0


def test_half_width_sound_marks_and_blank_letters_meet_their_forms():
    assert skeleton("(ﾟ∀ﾟ)") == skeleton("(゜∀゜)") == skeleton("(\u309a∀\u309a)")  # NFKC's
    assert skeleton("(ﾟ\u3164∀\u2800ﾟ)") == skeleton("(ﾟ∀ﾟ)")  # fillers draw nothing


# --- Speed -------------------------------------------------------------------------------------


def test_fast_for_a_thousand_samples_against_the_corpus(corpus, reference):
    rng = random.Random(0)
    pool = "".join(corpus.train)
    samples = ["".join(rng.choice(pool) for _ in range(rng.randint(3, 20))) for _ in range(1000)]
    rules = EmoticonRules.from_training(corpus.train)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        emoticon_metrics(samples, reference, rules=rules)
        best = min(best, time.perf_counter() - start)
    # ~0.29 s measured for 1000 distinct samples against 10.5k held-out faces on one core
    assert best < 1.0
