"""report.html: one self-contained page per run (PNGs inlined as base64, inline CSS, no JS).

Same run in, same bytes out: no timestamps of our own (the date shown is the run's).
"""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raygan.report.figures import Plot, plot_history, plot_param, plot_pareto
from raygan.report.run import Run, load_run, objective_label
from raygan.results import front_rows, mean_std, plural, signed

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd }
table { border-collapse: collapse; font-size: 0.9em } th { background: #f3f3f3 }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em } dd { margin: 0 }
img { max-width: 100%; height: auto } figcaption { font-size: 0.9em; color: #444 }
"""


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def front_table(run: Run) -> str:
    """The front, best first in the first objective: each objective (mean ± std over the
    replicates) and its gain over the experiment's gain baseline (where it has one), its
    validated mean ± std and whether it stays on the front (when validated), the kept
    step, the parameters and the seed."""
    front = front_rows(
        run.spec,
        run.front.to_dict("records"),
        validated=run.validated_means(),
        gain_from=run.gain_from(),
    )
    objectives, params = front.objectives, run.spec.search
    header = ["trial"] + [objective_label(o) for o in objectives]
    header += [f"{o.metric} gain over {front.baseline}" for o in front.gained]
    if front.validated:
        header += [f"{o.metric} validated" for o in objectives]
        header += [f"{o.metric} validated gain" for o in front.gained] + ["on validation"]
    seed = "seed (replicate 0)" if run.spec.replicates > 1 else "seed"
    header += ["step"] + [p.name for p in params] + [seed]
    rows = []
    for r in front.rows:
        cells: list[Any] = [r.trial_index]
        cells += [mean_std(*score) for score in r.scores]
        cells += [signed(*gain) for gain in r.gains]
        if front.validated:
            if r.validated is None or r.validated_gains is None:
                cells += ["-"] * (len(objectives) + len(front.gained))
            else:
                cells += [mean_std(*score) for score in r.validated]
                cells += [signed(*gain) for gain in r.validated_gains]
            cells.append(r.verdict)
        cells += [r.row.get("kept_step")] + [r.row[f"param_{p.name}"] for p in params]
        rows.append([*cells, r.row["seed"]])
    return _table(header, rows)


def _date(created: str | None) -> str:
    if created is None:
        return "?"
    try:
        return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except (TypeError, ValueError):  # TypeError: a run.json with a number there
        return str(created or "?")


def summary(run: Run) -> str:
    """The run's facts as a definition list: study, profile, run, experiment, objectives,
    trial counts, raygan version, date."""
    versions = sorted({str(v) for v in run.trials.get("raygan_version", pd.Series()).dropna()})
    version = ", ".join(versions) or run.meta.get("raygan_version", "?")
    counts = ", ".join(f"{run.count(s)} {s}" for s in ("completed", "failed", "stopped"))
    facts = [
        ("study", run.meta.get("study", run.spec.name)),
        ("profile", run.meta.get("profile", "?")),
        ("run", run.meta.get("run", run.dir.name)),
        ("experiment", f"{run.spec.experiment}, sampler {run.spec.sampler}"),
        ("objectives", ", ".join(objective_label(o) for o in run.spec.objectives)),
        ("trials", f"{len(run.trials)}: {counts}"),
        ("raygan version", version),
        ("date", _date(run.meta.get("created"))),
    ]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts)
    return f"<dl>{items}</dl>"


def _figure(out: Path, plot: Plot) -> str:
    data = base64.b64encode((out / plot.file).read_bytes()).decode("ascii")
    return (
        f"<h2>{html.escape(plot.title)}</h2><figure>"
        f'<img alt="{html.escape(plot.file)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(plot.file)}: {html.escape(plot.caption)}</figcaption></figure>"
    )


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Figures and report.html of one run directory, written into ``out`` (default: the
    run directory); returns the path of report.html. Raises ReportError for a run
    directory it cannot read, OSError where ``out`` cannot be written."""
    run = load_run(Path(run_dir))
    out = Path(out) if out is not None else run.dir
    out.mkdir(parents=True, exist_ok=True)
    plots = [plot_pareto(run, out)]
    plots += [plot_param(run, p, out) for p in run.spec.search]
    plots.append(plot_history(run, out))
    title = f"raygan report: {run.meta.get('run', run.dir.name)}"
    description = html.escape(run.spec.description)
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{description}</p>",
        summary(run),
        f"<h2>Pareto front ({plural(len(run.front), 'trial')})</h2>",
        front_table(run),
        *(_figure(out, p) for p in plots),
        "</body></html>\n",
    ]
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
