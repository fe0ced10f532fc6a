"""The Pareto maths of a study: which rows are on the front, the area they dominate, and
the validated configurations' means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import moocore
import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    from raygan.spec import StudySpec


def _check_modes(modes: Sequence[str]) -> None:
    bad = [m for m in modes if m not in ("max", "min")]
    if bad:
        raise ValueError(f"modes {bad} must be 'max' or 'min'")


def pareto_mask(values: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """True for rows no other row dominates (at least as good everywhere, better somewhere).

    ``values``: (rows, objectives), any numbers; ``modes``: "max" or "min" per objective.
    Returns a bool array of shape (rows,). A row with a NaN is never on the front and
    dominates nothing; exact ties both stay. Raises ValueError for a shape that does not fit
    ``modes`` or a mode other than "max" and "min".
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(modes):
        raise ValueError(f"values of shape {values.shape} need 2 dims and {len(modes)} columns")
    _check_modes(modes)
    valid = ~np.isnan(values).any(axis=1)
    mask = np.zeros(len(values), dtype=bool)
    if not modes:  # no objective: nothing is better than anything, every row stays
        mask[valid] = True
        return mask
    # Each objective's values replaced by their ranks: dominance only compares values within
    # an objective, so the front is the same, and moocore (0.3) crashes on an infinite value.
    ranks = [np.unique(column, return_inverse=True)[1] for column in values[valid].T]
    # keep_weakly: a duplicate of a front point is on the front too (moocore keeps the first)
    mask[valid] = moocore.is_nondominated(
        np.column_stack(ranks).astype(np.float64),
        maximise=[m == "max" for m in modes],
        keep_weakly=True,
    )
    return mask


def hypervolume(values: np.ndarray, modes: Sequence[str], reference: Sequence[float]) -> float:
    """Area of objective space the points dominate, bounded by ``reference`` (2 objectives).

    ``values``: (points, 2); ``modes``: "max" or "min" per objective; ``reference``: the
    worst value of each objective that still counts. For validity "max" and memorization
    "min" with reference (0, 1): the area of the union of the boxes [0, validity] x
    [memorization, 1]. Larger is better; a search that finds a point better in both
    objectives always gains. Rows with a NaN, and points no better than the reference in
    both objectives, add nothing. Raises ValueError for other than 2 objectives.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(modes))
    if len(modes) != 2 or len(reference) != 2:
        raise ValueError(f"hypervolume takes 2 objectives, not {len(modes)}")
    _check_modes(modes)
    points = values[~np.isnan(values).any(axis=1)]
    if not len(points):
        return 0.0
    maximise = [m == "max" for m in modes]
    return float(moocore.hypervolume(points, ref=reference, maximise=maximise))


def objective_values(spec: StudySpec, table: pa.Table) -> np.ndarray:
    """(rows, objectives) float64: what the Pareto front sees of each row (its
    ``spec.objective_value``, the aggregate over replicates); nulls become NaN."""
    columns = []
    for o in spec.objectives:
        value = table[o.metric].to_numpy(zero_copy_only=False).astype(np.float64)
        if spec.aggregate == "pessimistic":
            std = table[f"{o.metric}_std"].to_numpy(zero_copy_only=False).astype(np.float64)
            std = np.nan_to_num(std)  # one replicate: no spread known
            value = value - std if o.mode == "max" else value + std
        columns.append(value)
    return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))


def validated_means(spec: StudySpec, validation: pa.Table) -> dict[str, list]:
    """Per validated configuration (completed validation runs only): ``trial_id``,
    ``trial_index``, ``runs``, ``<objective>`` means and ``<objective>_std`` (sample std,
    ddof 1; NaN with one run), and ``validated_front``: not dominated by another validated
    configuration's means (the aggregate the study uses, as in the search)."""
    rows = [r for r in validation.to_pylist() if r["status"] == "completed"]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["trial_id"], []).append(r)
    out: dict[str, list] = {"trial_id": [], "trial_index": [], "runs": [], "validated_front": []}
    for o in spec.objectives:
        out[o.metric], out[f"{o.metric}_std"] = [], []
    points = []
    for tid, runs in groups.items():
        out["trial_id"].append(tid)
        out["trial_index"].append(runs[0]["trial_index"])
        out["runs"].append(len(runs))
        point = []
        for o in spec.objectives:
            values = np.array([r[o.metric] for r in runs], dtype=np.float64)
            mean = float(values.mean())
            std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            out[o.metric].append(mean)
            out[f"{o.metric}_std"].append(std)
            point.append(
                spec.objective_value(
                    o, {o.metric: mean, f"{o.metric}_std": std if len(values) > 1 else None}
                )
            )
        points.append(point)
    mask = pareto_mask(
        np.asarray(points, dtype=np.float64).reshape(-1, len(spec.objectives)),
        [o.mode for o in spec.objectives],
    )
    out["validated_front"] = [bool(m) for m in mask]
    return out


def promotion_order(values: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """Row indices, best first, as MO-ASHA promotes at a rung (Schmucker et al. 2021, with
    its NSGA-II selection rule, Deb et al. 2002): by non-dominated rank (moocore's
    ``pareto_rank``), within one rank by crowding distance (the ends of a rank first, then
    the most isolated), then earlier rows first.

    ``values``: (rows, objectives); ``modes``: "max" or "min" per objective. Returns an
    int array of shape (rows,). Rows with a NaN come last. Raises ValueError as
    :func:`pareto_mask` does.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(modes):
        raise ValueError(f"values of shape {values.shape} need 2 dims and {len(modes)} columns")
    _check_modes(modes)
    rows = len(values)
    valid = ~np.isnan(values).any(axis=1)
    rank = np.full(rows, rows, dtype=np.int64)  # NaN rows: behind every real rank
    crowding = np.zeros(rows)
    if valid.any() and modes:
        # ranks of values, not the values: dominance is the same and moocore takes no inf
        points = np.column_stack(
            [np.unique(c, return_inverse=True)[1] for c in values[valid].T]
        ).astype(np.float64)
        rank[valid] = moocore.pareto_rank(points, maximise=[m == "max" for m in modes])
        index = np.flatnonzero(valid)
        for r in np.unique(rank[valid]):
            members = index[rank[index] == r]
            crowding[members] = _crowding_distance(values[members])
    # lexsort sorts by its last key first: rank, then crowding (larger first), then row
    return np.lexsort((np.arange(rows), -crowding, rank))


def _crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of mutually non-dominated points (rows): per objective,
    the gap between each point's neighbours over the objective's span, summed; the ends
    get infinity. Kept here: moocore has no crowding distance."""
    n = len(points)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in points.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
    return distance
