"""The rows of a Pareto front table: which trials, best first, with their scores, their gains
over a baseline and their validated means. The text summary and the HTML report render the
same rows, each in its own format."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    from raygan.spec import Objective, StudySpec

# (mean, std) of one objective; std None or NaN where no spread is known (one replicate)
Score = tuple[Any, Any]
VERDICTS = ("stays", "falls off", "not validated")


@dataclass(frozen=True)
class FrontRow:
    """One front configuration. ``scores``: per objective, the search's (mean, std);
    ``gains``: per gained objective, (mean - baseline value, std); ``validated`` and
    ``validated_gains``: the same of the validated means, None where this configuration
    was not validated; ``verdict``: one of VERDICTS, None when the study validated
    nothing; ``row``: the trial's row as given (step, params, seed)."""

    trial_index: int
    scores: tuple[Score, ...]
    gains: tuple[Score, ...]
    validated: tuple[Score, ...] | None
    validated_gains: tuple[Score, ...] | None
    verdict: str | None
    row: dict


@dataclass(frozen=True)
class FrontTable:
    """``gained``: the objectives the gain baseline (named ``baseline``) has a value for;
    ``validated``: whether validated means were given; ``rows``: best first in the first
    objective, then by trial index."""

    objectives: tuple[Objective, ...]
    gained: tuple[Objective, ...]
    baseline: str | None
    validated: bool
    rows: tuple[FrontRow, ...]


def known(value: Any) -> bool:
    """Neither None nor NaN: a pyarrow row has None where a pandas row has NaN."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def front_rows(
    spec: StudySpec,
    front: Sequence[dict],
    *,
    validated: dict[str, list] | None = None,
    gain_from: dict | None = None,
) -> FrontTable:
    """The front table of ``front`` (rows of trials.parquet on the front, as dicts).

    ``validated``: results.validated_means of the study's validation runs, or None when
    the study validated nothing; ``gain_from``: the baseline row gains are measured from
    (its ``baseline`` names it), or None.
    """
    objectives = tuple(spec.objectives)
    reference = gain_from or {}
    gained = tuple(o for o in objectives if known(reference.get(o.metric)))

    def best_first(r: dict) -> tuple:
        first = objectives[0]
        return (-r[first.metric] if first.mode == "max" else r[first.metric], r["trial_index"])

    ordered = sorted(front, key=best_first)
    at = {tid: i for i, tid in enumerate(validated["trial_id"])} if validated is not None else {}

    def gains(values: dict) -> tuple[Score, ...]:
        return tuple(
            (values[o.metric] - reference[o.metric], values.get(f"{o.metric}_std")) for o in gained
        )

    rows = []
    for r in ordered:
        scores = tuple((r[o.metric], r.get(f"{o.metric}_std")) for o in objectives)
        means: tuple[Score, ...] | None = None
        means_gained: tuple[Score, ...] | None = None
        verdict = None
        if validated is not None:
            i = at.get(r["trial_id"])
            if i is None:
                verdict = "not validated"
            else:
                own = {k: v[i] for k, v in validated.items()}
                means = tuple((own[o.metric], own[f"{o.metric}_std"]) for o in objectives)
                means_gained = gains(own)
                verdict = "stays" if own["validated_front"] else "falls off"
        rows.append(
            FrontRow(
                trial_index=r["trial_index"],
                scores=scores,
                gains=gains(r),
                validated=means,
                validated_gains=means_gained,
                verdict=verdict,
                row=dict(r),
            )
        )
    return FrontTable(
        objectives=objectives,
        gained=gained,
        baseline=reference.get("baseline"),
        validated=validated is not None,
        rows=tuple(rows),
    )
