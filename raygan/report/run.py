"""A run directory as the report reads it: run.json, study.toml and the Parquet tables;
a table not consolidated yet (the study still running) read from its part files. Nothing
here imports Ray or an experiment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pyarrow as pa

from raygan.report.parts import (
    PartsError,
    has_parts,
    history_from_parts,
    trials_from_parts,
    validation_from_parts,
)
from raygan.report.samples import load_samples
from raygan.results import BASELINES_FILE, FRONT_STATUSES, validated_means
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
    # the front configurations' stored samples (raygan.report.samples); empty when none
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def completed(self) -> pd.DataFrame:
        done = self.trials[self.trials.status.isin(FRONT_STATUSES)]
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


def run_path(run_dir: str | Path) -> Path:
    """``run_dir`` as a local path: a path, or a ``file://`` URI (the form a study with
    ``--storage file://...`` was given). Raises ReportError for any other URI: the run is
    read from this machine's disk."""
    if isinstance(run_dir, Path) or "://" not in run_dir:
        return Path(run_dir)
    parts = urlsplit(run_dir)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(unquote(parts.path))
    # without user, password, query or fragment: they may hold credentials
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    raise ReportError(
        f"{shown!r} is a URI; give a run directory on this machine: copy the run down "
        "first (with aws s3 sync, gcloud storage rsync or your storage's own tool)"
    )


def load_run(run_dir: str | Path) -> Run:
    """The run directory ``run_dir`` (a path, or a ``file://`` URI) as a Run: its
    consolidated tables, or while they are not written yet (a running study), the part
    files. Raises ReportError (one line) when it is another URI, missing, holds neither
    trials.parquet nor parts/, lacks study.toml or run.json, or is unreadable."""
    run_dir = run_path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run directory")
    if not (run_dir / "trials.parquet").is_file() and not has_parts(run_dir):
        raise ReportError(f"{run_dir}: no trials.parquet (has the study finished?)")
    for name in ("study.toml", "run.json"):
        if not (run_dir / name).is_file():
            raise ReportError(f"{run_dir}: no {name} (has the study started?)")

    def table(name: str, from_parts) -> pd.DataFrame:
        path = run_dir / name
        if path.is_file():
            return pd.read_parquet(path)
        return from_parts(run_dir, spec, run=run) if from_parts else pd.DataFrame()

    try:
        spec = load_spec(run_dir / "study.toml")
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ReportError(f"{run_dir}: run.json holds {type(meta).__name__}, not an object")
        run = meta.get("run")
        trials = table("trials.parquet", trials_from_parts)
        history = table("history.parquet", history_from_parts)
        validation = table("validation.parquet", validation_from_parts)
        baselines = table(BASELINES_FILE, None)
        front = trials[
            trials.status.isin(FRONT_STATUSES) & trials.pareto.fillna(False).astype(bool)
        ]
        samples = load_samples(run_dir, front, run=run)
    except (SpecError, OSError, ValueError, PartsError) as e:
        # ValueError: unreadable files (ArrowInvalid, JSON errors)
        raise ReportError(f"{run_dir}: {e}") from None
    trials = trials.sort_values("trial_index", kind="stable").reset_index(drop=True)
    return Run(run_dir, meta, spec, trials, history, validation, baselines, samples)
