"""The samples of one text (kaomoji) configuration as the page shows them: its most
frequent strings with counts (a collapsed generator shows at a glance), a random draw of
its distinct new valid emoticons, and its near copies beside the training face each is
closest to. Judgements are the stored ones (samples.parquet), never recomputed here."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from raygan.report.markup import table
from raygan.results import plural
from raygan.results.front import known

TOP = 10  # most frequent strings listed
DRAW = 12  # new valid emoticons drawn
NEAR = 8  # near copies listed
DRAW_SEED = 0  # the same run draws the same emoticons: same run in, same page out


def _flag(value: Any) -> bool:
    return known(value) and bool(value)


def _share(rows: pd.DataFrame, column: str) -> str:
    """The share of samples judged ``column`` (over those with a judgement), or '-'."""
    values = rows[column].dropna()
    return f"{values.astype(bool).mean():.1%}" if len(values) else "-"


def _distance(value: Any) -> str:
    return f"{value:.3f}" if known(value) else "-"


def distinct(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct text, with its count ``n``, most frequent first (ties by text); the
    judgements are the first sample's (they depend on the text alone)."""
    texts = rows.dropna(subset=["text"])
    counts = texts["text"].value_counts()
    first = texts.drop_duplicates("text").set_index("text")
    out = first.loc[counts.index].assign(n=counts.to_numpy()).reset_index()
    return out.sort_values(["n", "text"], ascending=[False, True], kind="stable")


def verdict(row: Any) -> str:
    """'exact copy', 'near copy', 'new valid' (and whether it is a held-out real face),
    'valid' or 'invalid': how the run judged a sample."""
    if _flag(row.exact_copy):
        text = "exact copy"
    elif _flag(row.near_copy):
        text = "near copy"
    elif _flag(row.novel_valid):
        # new to the generator, yet a real face: the evidence that a rule cannot fake
        held_out = ", a held-out real face" if _flag(row.heldout_hit) else ""
        return "new valid" + held_out
    elif _flag(row.valid):
        text = "valid"
    else:
        text = "invalid" if known(row.valid) else "-"
    return text


def draw(faces: list[str], k: int = DRAW) -> list[str]:
    """Up to ``k`` of ``faces`` drawn at random with the fixed DRAW_SEED (from the sorted
    faces, so the draw depends on the set only)."""
    faces = sorted(faces)
    picks = np.random.default_rng(DRAW_SEED).choice(
        len(faces), size=min(k, len(faces)), replace=False
    )
    return [faces[i] for i in picks]


def _frequent(rows: pd.DataFrame, faces: pd.DataFrame) -> str:
    top = faces.head(TOP)
    cover = top["n"].sum() / len(rows)
    lines = [
        [i + 1, r.text, int(r.n), f"{r.n / len(rows):.1%}", verdict(r)]
        for i, r in enumerate(top.itertuples())
    ]
    return (
        f"<div><h4>Most frequent: the top {len(top)} of {plural(len(faces), 'distinct string')} "
        f"cover {cover:.1%} of the {len(rows)} samples</h4>"
        + table(["#", "sample", "count", "share", "judged"], lines, text_columns=(1,), left=(4,))
        + "</div>"
    )


def _drawn(faces: pd.DataFrame) -> str:
    novel = [r.text for r in faces.itertuples() if _flag(r.novel_valid)]
    if not novel:
        return "<div><h4>New valid emoticons</h4><p>None among these samples.</p></div>"
    chosen = draw(novel)
    spans = "".join(f"<span class='k'>{html.escape(t)}</span>" for t in chosen)
    return (
        f"<div><h4>New valid emoticons: {len(chosen)} drawn at random (seed {DRAW_SEED}) "
        f"of its {len(novel)} distinct ones</h4><p class='draw'>{spans}</p></div>"
    )


def _near(faces: pd.DataFrame) -> str:
    near = faces[
        [_flag(a) and not _flag(b) for a, b in zip(faces.near_copy, faces.exact_copy, strict=True)]
    ]
    exact = int(faces.loc[[_flag(v) for v in faces.exact_copy], "n"].sum())
    head = (
        f"<h4>Near copies: {plural(len(near), 'distinct string')} whose face is a training face's "
        f"(exact copies, {exact} samples, left out)</h4>"
    )
    if near.empty:
        return f"<div>{head}<p>None.</p></div>"
    near = near.sort_values(["n", "distance", "text"], ascending=[False, True, True]).head(NEAR)
    lines = [[r.text, int(r.n), r.nearest, _distance(r.distance)] for r in near.itertuples()]
    header = ["sample", "count", "nearest training face", "distance"]
    return f"<div>{head}{table(header, lines, text_columns=(0, 2))}</div>"


def text_samples(rows: pd.DataFrame) -> str:
    """The HTML of one configuration's text samples ``rows`` (sample columns of
    samples.parquet, one row per sample, pooled): a line of shares, then the three
    views side by side. Every string is HTML-escaped."""
    faces = distinct(rows)
    shares = ", ".join(
        f"{name} {_share(rows, column)}"
        for name, column in (
            ("valid", "valid"),
            ("new valid", "novel_valid"),
            ("exact copies", "exact_copy"),
            ("near copies", "near_copy"),
            ("held-out faces", "heldout_hit"),
        )
    )
    return (
        f"<p>{plural(len(faces), 'distinct string')}; {html.escape(shares)} of the samples.</p>"
        f"<div class='samples'>{_frequent(rows, faces)}{_drawn(faces)}{_near(faces)}</div>"
    )
