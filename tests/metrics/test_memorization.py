"""Memorization metrics on constructed generators over real data (sklearn's 8x8 digits):
copies must score as copies, new real samples and noise must not."""

import math

import numpy as np
import pytest

from raygan.metrics.copies import exact_copy_rate
from raygan.metrics.memorization import (
    METRIC_KEYS,
    closer_to_training_share,
    dcr,
    exact_copy_rate_arrays,
    memorization_metrics,
    memorization_score,
    nearest_distances,
    quantize,
)

LEVELS = 17  # sklearn digits: values 0..16


@pytest.fixture(scope="module")
def digits():
    """Every digit in [0, 1], (n, 1, 8, 8), split at random into three equal-size sets of
    real samples: what a generator trained on, a held-out baseline, and fresh ones that
    stand for a generator that learned the distribution without copying."""
    from sklearn.datasets import load_digits

    x = (load_digits().images / 16.0)[:, None].astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[:599]], x[order[599:1198]], x[order[1198:]]


def test_exact_copy_rate_for_strings_is_unchanged():
    assert exact_copy_rate(["a", "b", "a", "c"], ["a", "x"]) == 0.5
    assert exact_copy_rate([], ["a"]) == 0.0


def test_quantize_round_trips_grey_levels(digits):
    train, _, _ = digits
    codes = quantize(train, LEVELS)
    assert codes.dtype == np.uint8 and codes.shape == train.shape
    assert np.array_equal(codes / (LEVELS - 1), train)  # digits sit exactly on the grid
    all_codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(quantize(all_codes / 255.0, 256), all_codes)


def test_quantize_rounds_to_nearest_and_clips():
    x = np.array([-0.2, 0.0, 0.03, 0.04, 0.5, 0.97, 1.0, 1.3])
    assert quantize(x, LEVELS).tolist() == [0, 0, 0, 1, 8, 16, 16, 16]


@pytest.mark.parametrize("levels", [1, 257, 2.5, True])
def test_quantize_rejects_bad_levels(levels):
    with pytest.raises(ValueError, match="levels: .* must be an integer in 2..256"):
        quantize(np.zeros(3), levels)


def test_non_finite_samples_are_an_error(digits):
    train, holdout, _ = digits
    bad = train[:5].copy()
    bad[2, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="synthetic: 1 samples hold NaN or inf"):
        memorization_metrics(bad, train, holdout, levels=LEVELS)


def test_exact_copy_counts_repeats_and_only_whole_images(digits):
    train, holdout, _ = digits
    assert exact_copy_rate_arrays(np.repeat(train[:1], 7, axis=0), train, levels=LEVELS) == 1.0
    mixed = np.concatenate([train[:10], holdout[:30]])
    assert exact_copy_rate_arrays(mixed, train, levels=LEVELS) == 0.25
    one_pixel_off = train[:10].copy()
    one_pixel_off[:, 0, 3, 3] = np.where(one_pixel_off[:, 0, 3, 3] < 0.5, 0.75, 0.25)
    assert exact_copy_rate_arrays(one_pixel_off, train, levels=LEVELS) == 0.0


def test_nearest_distances_match_brute_force_across_chunks():
    rng = np.random.default_rng(1)
    # 700 rows of a: more than one of scikit-learn's query chunks (256 rows)
    a, b = rng.random((700, 2, 5)), rng.random((23, 10))
    brute = np.sqrt(((a.reshape(700, 1, 10) - b[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distances(a, b), brute, rtol=1e-12)
    assert np.array_equal(nearest_distances(b, b), np.zeros(len(b)))  # nothing excluded
    assert nearest_distances(np.empty((0, 10)), b).shape == (0,)


def test_nearest_distances_reject_mismatched_or_empty_references():
    with pytest.raises(ValueError, match="b: samples of 9 values, but the synthetic ones have 10"):
        nearest_distances(np.zeros((2, 10)), np.zeros((2, 9)))
    with pytest.raises(ValueError, match="b: no samples"):
        nearest_distances(np.zeros((2, 10)), np.zeros((0, 10)))


def test_a_generator_that_returns_training_samples(digits):
    train, holdout, _ = digits
    copies = train[np.random.default_rng(2).integers(0, len(train), 500)]
    m = memorization_metrics(copies, train, holdout, levels=LEVELS)
    assert set(m) == set(METRIC_KEYS) and all(type(v) is float for v in m.values())
    assert m["exact_copy"] == 1.0
    assert m["dcr_synthetic"] == 0.0 and m["dcr_ratio"] == 0.0
    assert m["dcr_holdout"] > 0.5  # new real digits sit ~1 away from their nearest training one
    assert m["closer_to_training"] == 1.0
    assert m["memorization"] == 1.0


def test_new_real_samples_are_not_memorization(digits):
    train, holdout, fresh = digits
    m = memorization_metrics(fresh, train, holdout, levels=LEVELS)
    assert m["exact_copy"] == 0.0
    assert m["dcr_ratio"] == pytest.approx(1.0, abs=0.1)
    assert m["closer_to_training"] == pytest.approx(0.5, abs=0.06)
    assert m["memorization"] < 0.12


def test_noise_is_not_memorization(digits):
    train, holdout, _ = digits
    noise = np.clip(np.random.default_rng(3).normal(0.3, 0.3, (500, 1, 8, 8)), 0, 1)
    m = memorization_metrics(noise, train, holdout, levels=LEVELS)
    assert m["exact_copy"] == 0.0
    assert m["dcr_ratio"] > 1.5  # farther from training than real digits are
    # far from every digit, noise finds its nearest neighbours among a few "hub" digits, so
    # this share hinges on which set those fall in: near 0.5, not at it
    assert m["closer_to_training"] == pytest.approx(0.5, abs=0.15)
    assert m["memorization"] < 0.12


def test_jittered_copies_are_memorized_but_not_exact(digits):
    train, holdout, _ = digits
    rng = np.random.default_rng(4)
    jittered = train[:400] + rng.normal(0, 0.05, (400, 1, 8, 8))  # ~0.8 of a grey level
    m = memorization_metrics(jittered, train, holdout, levels=LEVELS)
    assert m["exact_copy"] == 0.0  # some of the 64 pixels always rounds to another level
    assert m["dcr_ratio"] < 0.5
    assert m["closer_to_training"] > 0.95
    assert m["memorization"] > 0.9


def test_jitter_below_half_a_grey_level_is_an_exact_copy(digits):
    train, _, _ = digits
    jittered = train[:100] + np.random.default_rng(5).uniform(-0.02, 0.02, (100, 1, 8, 8))
    assert exact_copy_rate_arrays(jittered, train, levels=LEVELS) == 1.0  # step 1/16, half 0.031
    assert exact_copy_rate_arrays(jittered, train, levels=256) == 0.0  # step 1/255: visible


def test_memorization_estimates_the_share_of_copies(digits):
    train, holdout, fresh = digits
    half = np.concatenate([train[:300], fresh[:300]])
    assert memorization_score(half, train, holdout) == pytest.approx(0.5, abs=0.08)
    assert exact_copy_rate_arrays(half, train, levels=LEVELS) == 0.5


def test_memorization_is_not_diluted_when_training_outnumbers_holdout(digits):
    """closer_to_training subsamples training to the holdout's size: most copies then miss
    the subsample and look new. memorization uses every sample and still reads 1."""
    train, holdout, _ = digits
    small_holdout = holdout[:60]
    copies = train[:500]
    assert closer_to_training_share(copies, train, small_holdout) < 0.7
    assert memorization_score(copies, train, small_holdout) == 1.0
    # the paper's setting the other way round: ~10 minority samples trained on, ~120 cut away
    few = train[:10]
    assert closer_to_training_share(np.repeat(few, 20, axis=0), few, holdout[:120]) == 1.0
    assert memorization_score(np.repeat(few, 20, axis=0), few, holdout[:120]) == 1.0
    assert memorization_score(fresh_like := holdout[120:300], few, holdout[:120]) < 0.12
    assert exact_copy_rate_arrays(fresh_like, few, levels=LEVELS) == 0.0


def test_closer_to_training_is_seeded(digits):
    train, holdout, fresh = digits
    share = closer_to_training_share(fresh, train, holdout[:100], seed=7)
    assert share == closer_to_training_share(fresh, train, holdout[:100], seed=7)


def test_dcr_baseline_of_zero_gives_ratio_one(digits):
    train, _, fresh = digits
    d = dcr(fresh, train, train[:50])  # "held-out" samples that are training samples
    assert d["dcr_holdout"] == 0.0 and d["dcr_ratio"] == 1.0
    assert d["dcr_synthetic"] > 0


def test_no_synthetic_samples_score_zero_never_nan(digits):
    train, holdout, _ = digits
    empty = np.empty((0, 1, 8, 8), dtype=np.float32)
    m = memorization_metrics(empty, train, holdout, levels=LEVELS)
    assert m == dict.fromkeys(METRIC_KEYS, 0.0)
    assert not any(math.isnan(v) for v in m.values())
    assert closer_to_training_share(empty, train, holdout) == 0.0
    assert memorization_score(empty, train, holdout) == 0.0
    assert exact_copy_rate_arrays(empty, train, levels=LEVELS) == 0.0


def test_empty_reference_sets_are_an_error(digits):
    train, holdout, fresh = digits
    with pytest.raises(ValueError, match="holdout: no samples"):
        memorization_metrics(fresh, train, holdout[:0], levels=LEVELS)
    with pytest.raises(ValueError, match="training: no samples"):
        memorization_metrics(fresh, train[:0], holdout, levels=LEVELS)
