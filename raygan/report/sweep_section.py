"""The sweep's part of the page: the Pareto front over (configuration, sweep point) pairs,
from sweep.parquet (absent for a study without [sweep])."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from raygan.report.markup import fmt, table
from raygan.results import SWEEP_FILE, plural
from raygan.spec import StudySpec


def sweep_section(run_dir: Path, spec: StudySpec) -> str:
    """An <h2> and a table of the front pairs, best first by the first objective; '' when
    the run has no sweep.parquet."""
    path = run_dir / SWEEP_FILE
    if not spec.sweep or not path.is_file():
        return ""
    sweep = pd.read_parquet(path)
    front = sweep[sweep.pareto.fillna(False).astype(bool)]
    first = spec.objectives[0]
    front = front.sort_values(first.metric, ascending=first.mode == "min", kind="stable")
    values = "; ".join(f"{name} = {', '.join(map(fmt, v))}" for name, v in spec.sweep.items())
    header = ["trial", *spec.sweep, *(o.metric for o in spec.objectives)]
    rows = [
        [int(r["trial_index"]), *(r[f"sweep_{n}"] for n in spec.sweep)]
        + [_mean_std(r, o.metric) for o in spec.objectives]
        for _, r in front.iterrows()
    ]
    intro = (
        f"<p>Every trained model evaluated at each sweep point ({html.escape(values)}): "
        f"{plural(len(sweep), 'pair')}, of which {plural(len(front), 'pair')} on the Pareto "
        "front below; no model was trained per sweep point.</p>"
    )
    title = f"<h2>Sweep: Pareto front over (configuration, sweep point) ({len(front)})</h2>"
    return title + intro + table(header, [[fmt(c) for c in row] for row in rows])


def _mean_std(row: pd.Series, metric: str) -> str:
    std = row.get(f"{metric}_std")
    mean = fmt(row[metric])
    return mean if std is None or pd.isna(std) else f"{mean} ± {fmt(std)}"
