"""The stored samples of a run's front configurations (samples.parquet, or its part files
while the study runs; schema: raygan.results.sample_schema) and how the report pools them:
one configuration's search replicates together, each at the trial's kept round."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raygan.report.parts import read_parts
from raygan.results import SAMPLES_FILE, sample_schema
from raygan.results.front import known

# one stored round per (trial, replicate, validation run): what the engine keeps of each
ROUND_KEYS = ["trial_id", "replicate", "validation_run"]


def _kept_rounds(samples: pd.DataFrame, kept_step: dict) -> pd.DataFrame:
    """Per trial replicate (and validation run): its rows of the trial's kept step where it
    has some, else of its last step (parts of a running trial may hold an earlier round)."""
    keep = []
    for (tid, _, _), rows in samples.groupby(ROUND_KEYS, dropna=False, sort=False):
        steps = rows["step"]
        if steps.isna().all():
            keep.append(rows)
            continue
        target = kept_step.get(tid)
        if not known(target) or not (steps == target).any():
            target = steps.max()
        keep.append(rows[steps == target])
    return pd.concat(keep, ignore_index=True)


def load_samples(run_dir: Path, front: pd.DataFrame, *, run: str | None) -> pd.DataFrame:
    """The samples of the trials in ``front`` (rows of trials.parquet), search replicates
    and validation runs, one round each; from samples.parquet, or the sample parts where
    the run has no samples.parquet yet. Empty (no columns) when none is stored (a run of
    an earlier raygan, or a family that makes no samples). Raises OSError or ValueError
    for an unreadable file, PartsError for unreadable parts."""
    ids = sorted(set(front["trial_id"])) if "trial_id" in front else []
    if not ids:
        return pd.DataFrame()
    path = run_dir / SAMPLES_FILE
    if path.is_file():
        # only the front's rows: a long study's file holds every trial's samples
        table = pq.read_table(path, filters=[("trial_id", "in", ids)])
        if run is not None and "run" in table.column_names:
            table = table.filter(pc.equal(table["run"], run))
    else:
        table = read_parts(run_dir, "samples", sample_schema(), run=run)
        table = table.filter(pc.is_in(table["trial_id"], pa.array(ids, type=pa.string())))
    if not table.num_rows:
        return pd.DataFrame()
    samples = table.to_pandas()
    for name in sample_schema().names:  # a column a writer of another version left out
        if name not in samples:
            samples[name] = None
    steps = front["kept_step"] if "kept_step" in front else [None] * len(front)
    kept = dict(zip(front["trial_id"], steps, strict=True))
    samples = _kept_rounds(samples, kept)
    order = ["trial_index", "trial_id", "validation_run", "replicate", "sample_index"]
    return samples.sort_values(order, kind="stable", na_position="first").reset_index(drop=True)


def search_samples(samples: pd.DataFrame, trial_id: str) -> pd.DataFrame:
    """The samples of trial ``trial_id``'s search replicates (not its validation runs),
    pooled; empty when it has none."""
    if samples.empty:
        return samples
    mine = samples[(samples["trial_id"] == trial_id) & samples["validation_run"].isna()]
    return mine.reset_index(drop=True)


def pooling(rows: pd.DataFrame) -> str:
    """'1000 samples of its one seed at step 4' or '2000 samples of its 2 replicates
    (seeds), pooled, at step 4': what a section's samples are."""
    replicates = rows["replicate"].nunique()
    steps = sorted({int(s) for s in rows["step"].dropna()})
    at = f" at step {steps[0]}" if len(steps) == 1 else ""
    if len(steps) > 1:
        at = " at steps " + ", ".join(map(str, steps))
    if replicates <= 1:
        return f"{len(rows)} samples of its one seed{at}"
    return f"{len(rows)} samples of its {replicates} replicates (seeds), pooled,{at}"
