"""A finished run directory as the report reads it: run.json, study.toml and the Parquet
tables. Nothing here imports Ray or an experiment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from raygan.results import validated_means
from raygan.spec import Objective, SpecError, StudySpec, load_spec


class ReportError(Exception):
    """A run directory the report cannot be made from: one line for the user."""


def objective_label(objective: Objective) -> str:
    """'validity (max)': an objective's metric and mode, as axes and headers show it."""
    return f"{objective.metric} ({objective.mode})"


@dataclass
class Run:
    dir: Path
    meta: dict  # run.json
    spec: StudySpec  # of study.toml: the study as run, profile and overrides applied
    trials: pd.DataFrame
    history: pd.DataFrame
    validation: pd.DataFrame  # validation.parquet; empty when the front was not validated
    baselines: pd.DataFrame  # baselines.parquet; empty when the experiment has none

    @property
    def completed(self) -> pd.DataFrame:
        done = self.trials[self.trials.status == "completed"]
        return done.dropna(subset=[o.metric for o in self.spec.objectives])

    @property
    def front(self) -> pd.DataFrame:
        return self.completed[self.completed.pareto.fillna(False).astype(bool)]

    def count(self, status: str) -> int:
        """How many trials ended with ``status`` (completed, failed, stopped)."""
        return int((self.trials.status == status).sum())

    def gain_from(self) -> dict | None:
        """The baseline row gains are measured from (run.json's gain_baseline), or None."""
        name = self.meta.get("gain_baseline")
        if not name or self.baselines.empty:
            return None
        rows = self.baselines[self.baselines.baseline == name]
        return rows.iloc[0].to_dict() if len(rows) else None

    def validated_means(self) -> dict[str, list] | None:
        """results.validated_means of the validation runs; None when no validation run
        completed (or the front was not validated)."""
        if self.validation.empty:
            return None
        table = pa.Table.from_pandas(self.validation, preserve_index=False)
        means = validated_means(self.spec, table)
        return means if means["trial_id"] else None

    def validated(self) -> pd.DataFrame:
        """Per validated configuration: trial_index, runs, each objective's validated mean
        and ``<metric>_std``, and ``validated_front``; empty when none was validated."""
        means = self.validated_means()
        return pd.DataFrame() if means is None else pd.DataFrame(means)


def load_run(run_dir: Path) -> Run:
    """The run directory ``run_dir`` as a Run. Raises ReportError (one line) when it is
    missing, unfinished (no trials.parquet, study.toml or run.json) or unreadable."""
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run directory")
    for name in ("trials.parquet", "study.toml", "run.json"):
        if not (run_dir / name).is_file():
            raise ReportError(f"{run_dir}: no {name} (has the study finished?)")

    def optional(name: str) -> pd.DataFrame:
        path = run_dir / name
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()

    try:
        spec = load_spec(run_dir / "study.toml")
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        trials = pd.read_parquet(run_dir / "trials.parquet")
        history = optional("history.parquet")
        validation = optional("validation.parquet")
        baselines = optional("baselines.parquet")
    except (SpecError, OSError, ValueError) as e:  # unreadable file: ArrowInvalid, JSON errors
        raise ReportError(f"{run_dir}: {e}") from None
    trials = trials.sort_values("trial_index", kind="stable").reset_index(drop=True)
    return Run(run_dir, meta, spec, trials, history, validation, baselines)
