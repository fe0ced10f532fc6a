"""distinct-n and top share on hand-computed cases."""

import pytest

from raygan.metrics.diversity import distinct_n, top_share


@pytest.mark.parametrize(
    "samples, n, expected",
    [
        (["abab"], 2, 2 / 3),  # ab, ba, ab
        (["ab", "ab"], 2, 1 / 2),  # repeats count in the total
        (["ab", "ba"], 2, 1.0),
        (["abc", "bcd"], 2, 3 / 4),  # ab, bc | bc, cd
        (["ab", "b"], 2, 1.0),  # "b" has no bigram
        (["ab" + "c"], 3, 1.0),
        (["aaaa"], 1, 1 / 4),  # distinct-1: characters
        (["ab"] * 1000, 2, 1 / 1000),
        (["（＾＿＾）"], 2, 1.0),  # characters as generated, full-width ones too
        (["a", "b", ""], 2, 0.0),  # no bigrams at all
        ([], 2, 0.0),
    ],
)
def test_distinct_n(samples, n, expected):
    assert distinct_n(samples, n=n) == pytest.approx(expected, rel=1e-12)


def test_bigrams_do_not_span_samples():
    assert distinct_n(["ab", "cd"], n=2) == 1.0  # "bc" is not a bigram of these samples
    assert distinct_n(["ab", "cd"], n=3) == 0.0


@pytest.mark.parametrize("n", [0, -1, 2.0, True])
def test_distinct_n_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n: .* must be an integer >= 1"):
        distinct_n(["abc"], n=n)


def test_top_share():
    assert top_share(["a", "b", "a", "c"]) == 0.5
    assert top_share(["a"] * 376 + ["b"] * 339 + ["c"] * 285) == 0.376
    assert top_share(["x"]) == 1.0
    assert top_share([]) == 0.0
