"""What the driver prints about each trial as it ends, and a failed trial's error line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from raygan.results import FRONT_STATUSES, pareto_mask, plural
from raygan.spec import StudySpec


def _number(value, std=None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if std is None else f"{value:.3f}±{std:.3f}"


def trial_line(spec: StudySpec, row: dict, *, front: int) -> str:
    """'[raygan] trial 3 completed: validity=0.412, ...; Pareto front: 2 trials'."""
    if row["status"] == "failed":
        what = f"failed: {row['error']}"
    else:
        scores = ", ".join(
            f"{o.metric}={_number(row[o.metric], row.get(f'{o.metric}_std'))}"
            for o in spec.objectives
        )
        notes = []
        if (row.get("n_replicates") or 1) > 1:
            notes.append(f"mean ± std of {row['n_replicates']} replicates")
        if row.get("kept_step") is not None and row["kept_step"] != row["steps"] - 1:
            notes.append(f"from step {row['kept_step']}, its best of {row['steps']}")
        what = f"{row['status']}: {scores}" + (f" ({'; '.join(notes)})" if notes else "")
    return f"[raygan] trial {row['trial_index']} {what}; Pareto front: {plural(front, 'trial')}"


def error_line(trial) -> str:
    """The exception's own line ('TrialDiverged: step 3: non-finite ...'), not Ray's wrapper."""
    text = ""
    if trial.error_file and Path(trial.error_file).exists():
        text = Path(trial.error_file).read_text(errors="replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Diverged|Interrupt)\b.*:", line) or line.startswith(
            ("raygan.", "RuntimeError", "ValueError")
        ):
            return line.split(".")[-1] if line.startswith("raygan.") and ": " not in line else line
    return lines[-1] if lines else "unknown error"


class FrontSize:
    """How many trials stand on the Pareto front so far: the count each trial's line ends with.
    ``rows``: the trials already ended (rows with status and objective metrics)."""

    def __init__(self, spec: StudySpec, rows: list[dict]):
        self.spec = spec
        self.points = [self._point(r) for r in rows if r["status"] in FRONT_STATUSES]

    def _point(self, row: dict) -> list[float]:
        return [self.spec.objective_value(o, row) for o in self.spec.objectives]

    def add(self, row: dict) -> int:
        """Count ``row`` in (if it may stand on the front); returns the front's size."""
        objectives = self.spec.objectives
        if row["status"] in FRONT_STATUSES:
            self.points.append(self._point(row))
        points = np.asarray(self.points, dtype=float).reshape(-1, len(objectives))
        return int(pareto_mask(points, [o.mode for o in objectives]).sum())
