"""Emoticon metrics of a text generator's samples: validity by the kaomoji paper's rule
(``raygan.metrics.emoticon_rules``), novelty, diversity and copies of training faces.

Sources: the rule and the "regenerated" (exact copy) ratio are the kaomoji paper's (DATA
2021, Sec. 4); distinct-n is Li et al. 2016; DCR is SDMetrics' / syntheval's; near copies,
the chance-corrected memorization and distinct new valid faces are raygan's, on copy keys
(docs/metrics.md).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from raygan.data.text import drawn_texts
from raygan.metrics.copies import exact_copy_rate
from raygan.metrics.diversity import distinct_n, top_share
from raygan.metrics.emoticon_rules import (
    EmoticonRules,
    copy_key,
)
from raygan.metrics.keys import EMOTICON_METRIC_KEYS
from raygan.metrics.text_memorization import (
    TextReference,
    near_copy_rate,
    text_memorization_evaluation,
    text_memorization_score,
)


def _rules(training: Iterable[str] | EmoticonRules) -> EmoticonRules:
    return (
        training
        if isinstance(training, EmoticonRules)
        else EmoticonRules.from_training(drawn_texts(training))
    )


def is_emoticon(text: str, training: Iterable[str] | EmoticonRules = ()) -> bool:
    """The paper's definition; ``training`` (faces or prebuilt rules) feeds rule II(b)."""
    return _rules(training).is_emoticon(text)


def _valid_flags(samples: Sequence[str], rules: EmoticonRules) -> list[bool]:
    # Generators repeat themselves a lot, so check each distinct string once.
    verdict = {s: rules.is_emoticon(s) for s in set(samples)}
    return [verdict[s] for s in samples]


def validity(samples: Sequence[str], training: Iterable[str] | EmoticonRules) -> float:
    """Share of ``samples`` that are emoticons (0.0 for none)."""
    if not samples:
        return 0.0
    return sum(_valid_flags(drawn_texts(samples), _rules(training))) / len(samples)


# --- Copies, novelty, diversity ---------------------------------------------------------
#
# Copies are judged on a string's copy key (``copy_key``): the skeleton of its face (the
# first outline that passes the rule, reduced to its innermost eyes and what lies between
# them) or, for a string with no face, of the whole string. A face trimmed, padded, given
# cheeks, arms, flanks or another bracket, or wrapped in junk is still a copy of the face;
# and one new face with varied junk after it is one new face.
# Every function taking ``training`` accepts the training faces or a prebuilt
# ``emoticon_reference`` (then give no ``heldout`` beside it: it is in the reference).
# Empty ``samples``: every metric is 0.0, never NaN. Empty training: ValueError.


@functools.lru_cache(maxsize=8)
def _cached_reference(training: tuple[str, ...], heldout: tuple[str, ...]) -> TextReference:
    rules = EmoticonRules.from_training(training)
    return TextReference.build(training, heldout, key=functools.partial(copy_key, rules=rules))


def emoticon_reference(training: Iterable[str], heldout: Iterable[str] = ()) -> TextReference:
    """What the copy metrics need of the training and held-out faces, built once: their
    copy keys (``copy_key``, with the rules the training faces vouch for), the
    memorization reference, the DCR baseline. Cached: the trials a worker process runs on
    one corpus share it. Raises ValueError when ``training`` is empty."""
    return _cached_reference(tuple(drawn_texts(training)), tuple(drawn_texts(heldout)))


def _reference(training: Iterable[str] | TextReference, heldout: Iterable[str]) -> TextReference:
    if isinstance(training, TextReference):
        if tuple(heldout):
            raise ValueError(
                "heldout: a TextReference holds its held-out faces already; "
                "pass them to emoticon_reference instead"
            )
        return training
    return emoticon_reference(training, heldout)


def exact_copy(samples: Sequence[str], training: Iterable[str] | TextReference) -> float:
    """Share of ``samples`` identical to a training face: the paper's "regenerated" ratio
    (identical as drawn: NFC, without the characters that draw nothing,
    ``raygan.data.text.drawn_text``)."""
    return exact_copy_rate(drawn_texts(samples), _reference(training, ()).training)


def near_copy(samples: Sequence[str], training: Iterable[str] | TextReference) -> float:
    """Share of ``samples`` whose copy key (``copy_key``: the skeleton of its face) is a
    training face's (exact copies included): "（＾＿＿＿＾）" counts as a copy of
    "（＾＿＿＿＿＿＿＿＿＿＿＿＾）", and so does "（＾＿＾）=(ì_" or "ヽ（＾＿＾）ノ"."""
    return near_copy_rate(drawn_texts(samples), _reference(training, ()))


def memorization(
    samples: Sequence[str], training: Iterable[str] | TextReference, heldout: Iterable[str] = ()
) -> float:
    """Chance-corrected share of (near) copies, in [0, 1]: ``text_memorization_score`` on
    copy keys (``copy_key``: faces), with the unseen real kaomoji ``heldout`` as the
    chance baseline.

    0: samples sit no closer to the training faces than unseen real kaomoji do; 1: every
    sample is a near copy. Without a held-out set (a user's file) this is ``near_copy``.
    What real faces score, measured on the embedded corpus (the 95 laughing faces of the
    default draw trained on; each set of faces scored with itself left out of the
    held-out reference): the 22 unseen core-tier laughing faces 0.358 (8 of them share
    their eyes and mouth with a training face); 1000 random other held-out faces 0.119
    (121 share a face); the training faces 1.0.
    """
    return text_memorization_score(drawn_texts(samples), _reference(training, heldout))


def novel_validity(samples: Sequence[str], training: Iterable[str] | TextReference) -> float:
    """Share of ``samples`` that are emoticons and not near copies of a training face.

    Near copies, not only exact ones (as this metric first counted): a trimmed training
    face is no more novel than the face itself. Repeats count; see ``novel_valid_distinct``.
    """
    samples, reference = drawn_texts(samples), _reference(training, ())
    flags = _valid_flags(samples, EmoticonRules.from_training(reference.training))
    return _novelty(samples, flags, reference)[0]


def novel_valid_distinct(samples: Sequence[str], training: Iterable[str] | TextReference) -> float:
    """Distinct new valid faces per sample, in [0, 1]: the number of distinct faces
    (``copy_key``) among the ``samples`` that are emoticons and not near copies of a
    training face, over the number of samples.

    Repeats do not count: 1000 copies of one new valid face score 0.001, 1000 samples
    cycling over 3 of them 0.003, 1000 different ones 1.0. Distinct means distinct faces:
    padding variants of one new face ("(^o^)", "(^oo^)", "( ^o^ )") count once, and so do
    that face with arms or junk around it ("(^o^)v", "(^o^)=(ì_"); a training face with new
    arms or junk is a near copy and counts not at all.
    """
    samples, reference = drawn_texts(samples), _reference(training, ())
    flags = _valid_flags(samples, EmoticonRules.from_training(reference.training))
    return _novelty(samples, flags, reference)[1]


def _novelty(
    samples: Sequence[str],
    flags: list[bool],
    reference: TextReference,
    keys: Sequence[str] | None = None,
) -> tuple[float, float]:
    """(novel_validity, novel_valid_distinct) from the validity ``flags`` of ``samples``
    (and their copy ``keys``, where known)."""
    if not samples:
        return 0.0, 0.0
    keys = reference.keys(samples) if keys is None else keys
    novel = [k for k, ok in zip(keys, flags, strict=True) if ok and k not in reference.train_keys]
    return len(novel) / len(samples), len(set(novel)) / len(samples)


def uniqueness(samples: Sequence[str]) -> float:
    """Distinct samples (as drawn: ``raygan.data.text.drawn_text``) over generated samples
    (0.0 for none)."""
    return len(set(drawn_texts(samples))) / len(samples) if samples else 0.0


def heldout_hits(samples: Sequence[str], heldout: Iterable[str]) -> float:
    """Share of ``samples`` that are real kaomoji from the held-out set: validity rules can't fake."""
    return exact_copy_rate(drawn_texts(samples), drawn_texts(heldout))


def emoticon_metrics(
    samples: Sequence[str],
    training: Sequence[str] | TextReference,
    heldout: Iterable[str] = (),
    *,
    rules: EmoticonRules | None = None,
) -> dict[str, float]:
    """Every emoticon metric in one pass, keyed in ``EMOTICON_METRIC_KEYS`` order; floats,
    never NaN (all 0.0 for no samples). Pass a prebuilt ``emoticon_reference`` as
    ``training`` and ``rules`` to skip rebuilding what depends on the training faces only.

      validity: share of samples that are emoticons (the paper's rule, ``EmoticonRules``).
      memorization: chance-corrected share of near copies (``memorization``).
      novel_valid_distinct: distinct new valid faces per sample (``novel_valid_distinct``).
      exact_copy: share identical to a training face (the paper's "regenerated" ratio).
      near_copy: share whose skeleton is a training face's (``near_copy``).
      novel_validity: share valid and not a near copy (``novel_validity``).
      uniqueness: distinct strings per sample (``uniqueness``).
      distinct_2: distinct character bigrams per bigram (``diversity.distinct_n``, Li et
        al. 2016).
      top_share: share of samples equal to the most frequent one (``diversity.top_share``).
      heldout_hits: share identical to a held-out real kaomoji (``heldout_hits``).
      dcr_synthetic, dcr_holdout, dcr_ratio: distance to closest record (SDMetrics /
        syntheval) on skeletons with the normalized Levenshtein distance (``text_dcr``):
        median distance of a sample, and of a held-out face, to its nearest training
        skeleton, and their ratio (1.0 without a baseline).
    """
    return emoticon_evaluation(samples, training, heldout, rules=rules)[0]


def emoticon_judgements(
    samples: Sequence[str],
    training: Sequence[str] | TextReference,
    heldout: Iterable[str] = (),
    *,
    rules: EmoticonRules | None = None,
) -> list[dict]:
    """Each sample judged as ``emoticon_metrics`` judges it, one dict per sample, in order:

      kind: "text"; text: the sample as compared (``drawn_text``);
      valid: an emoticon by the paper's rule;              mean == ``validity``
      novel_valid: valid and no near copy;                 mean == ``novel_validity``
      exact_copy: identical to a training face;            mean == ``exact_copy`` (the
        paper's "regenerated" ratio: a share of all samples, not of the valid ones)
      near_copy: its copy key is a training face's;        mean == ``near_copy``
      heldout_hit: identical to a held-out real kaomoji;   mean == ``heldout_hits``
      nearest, nearest_index: the training face as compared (``drawn_text``), and its
        index in the training faces as given, whose copy key is nearest to the sample's;
        of faces sharing that key, the one nearest to the sample itself, so an exact copy
        names the face it copies;
      distance: normalized Levenshtein distance between the two copy keys, in [0, 1]:
        median == ``dcr_synthetic``.

    ``novel_valid_distinct`` is the number of distinct copy keys among the samples with
    ``novel_valid`` over the number of samples. Empty ``samples``: []."""
    return emoticon_evaluation(samples, training, heldout, rules=rules)[1]


def emoticon_evaluation(
    samples: Sequence[str],
    training: Sequence[str] | TextReference,
    heldout: Iterable[str] = (),
    *,
    rules: EmoticonRules | None = None,
) -> tuple[dict[str, float], list[dict]]:
    """``emoticon_metrics`` and ``emoticon_judgements`` from one pass over the samples."""
    samples, reference = drawn_texts(samples), _reference(training, heldout)
    rules = rules if rules is not None else EmoticonRules.from_training(reference.training)
    n = len(samples)
    flags = _valid_flags(samples, rules)
    keys = reference.keys(samples)
    novel_share, novel_distinct = _novelty(samples, flags, reference, keys)
    copies, nearest = text_memorization_evaluation(samples, reference, keys=keys)
    out = {
        "validity": sum(flags) / n if n else 0.0,
        "novel_valid_distinct": novel_distinct,
        "novel_validity": novel_share,
        "uniqueness": uniqueness(samples),
        "distinct_2": distinct_n(samples, n=2),
        "top_share": top_share(samples),
        "heldout_hits": heldout_hits(samples, reference.heldout),
        **copies,
    }
    judged = []
    for i, (text, valid, key) in enumerate(zip(samples, flags, keys, strict=True)):
        near = key in reference.train_keys
        index = int(nearest.index[i])
        judged.append(
            {
                "kind": "text",
                "text": text,
                "valid": valid,
                "novel_valid": valid and not near,
                "exact_copy": text in reference.training,
                "near_copy": near,
                "heldout_hit": text in reference.heldout,
                "nearest": reference.train_items[index],
                "nearest_index": index,
                "distance": float(nearest.distance[i]),
            }
        )
    return {k: out[k] for k in EMOTICON_METRIC_KEYS}, judged
