"""report.html: one self-contained page per run (PNGs inlined as base64, inline CSS, no JS).

Same run in, same bytes out: no timestamps of our own (the date shown is the run's), except
on the page of a study still running, which says when it was written and reloads itself.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from raygan.report.figures import plot_history, plot_param, plot_pareto
from raygan.report.markup import figure, table
from raygan.report.run import Run, load_run, objective_label
from raygan.report.sample_sections import samples_sections
from raygan.report.sweep_section import sweep_section
from raygan.results import front_rows, mean_std, plural, signed

RELOAD_S = 10  # a running study's page reloads this often
# kaomoji mix Latin, CJK, Kana and symbol glyphs: fonts that have them, in order of
# coverage, before the browser's own fallback
KAOMOJI_FONTS = (
    '"Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", "Meiryo", "MS Gothic", '
    '"Noto Sans", "Noto Sans Symbols 2", "Noto Sans Symbols", "Segoe UI Symbol", "Symbola", '
    '"DejaVu Sans", sans-serif'
)
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd }
table { border-collapse: collapse; font-size: 0.9em } th { background: #f3f3f3 }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em } dd { margin: 0 }
img { max-width: 100%; height: auto } figcaption { font-size: 0.9em; color: #444 }
h3 { font-size: 1.05em; margin-top: 1.5em } h4 { font-size: 0.95em; margin: 0.6em 0 0.4em }
.wide { max-width: 100%; overflow-x: auto } .l { text-align: left }
.running { background: #fff4d6; border: 1px solid #e3b341; padding: 0.5em 0.8em }
.samples { display: flex; flex-wrap: wrap; gap: 0.5em 2em; align-items: flex-start }
.samples > div { max-width: 100% }
.k { font-family: KAOMOJI; white-space: pre-wrap; overflow-wrap: anywhere; text-align: left }
td.k { max-width: 18em }
.draw { max-width: 26em } .draw .k { display: inline-block; margin: 0.15em;
  padding: 0.1em 0.45em; border: 1px solid #ccc; border-radius: 3px; background: #fafafa }
""".replace("KAOMOJI", KAOMOJI_FONTS)


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
    return table(header, rows)


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
    shown = [
        s for s in ("completed", "pruned", "failed", "stopped") if s != "pruned" or run.count(s)
    ]
    counts = ", ".join(f"{run.count(s)} {s}" for s in shown)
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


def running_banner(run: Run, now: datetime) -> str:
    """The line a running study's page opens with: trials finished so far, as of ``now``."""
    finished = plural(len(run.trials), "trial")
    return (
        f"<p class='running'>This study is still running: {finished} finished so far "
        f"(at {now.astimezone(UTC):%H:%M:%S} UTC); this page reloads every {RELOAD_S} s.</p>"
    )


def write_report(
    run_dir: str | Path, out: str | Path | None = None, *, running: bool = False
) -> Path:
    """Figures and report.html of one run directory, written into ``out`` (default: the
    run directory); returns the path of report.html. ``running``: the study is still
    running (its tables may be part files only): the page says so, with the number of
    trials finished and the time, and reloads itself every RELOAD_S seconds. Raises
    ReportError for a run directory it cannot read, OSError where ``out`` cannot be
    written."""
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.dir
    out.mkdir(parents=True, exist_ok=True)
    plots = [plot_pareto(run, out)]
    plots += [plot_param(run, p, out) for p in run.spec.search]
    plots.append(plot_history(run, out))
    title = f"raygan report: {run.meta.get('run', run.dir.name)}"
    description = html.escape(run.spec.description)
    reload = f'<meta http-equiv="refresh" content="{RELOAD_S}">' if running else ""
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{reload}"
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        running_banner(run, datetime.now(UTC)) if running else "",
        f"<p>{description}</p>",
        summary(run),
        f"<h2>Pareto front ({plural(len(run.front), 'trial')})</h2>",
        front_table(run),
        sweep_section(run.dir, run.spec),
        *(figure(out, p) for p in plots),
        samples_sections(run, out),
        "</body></html>\n",
    ]
    path = out / "report.html"
    # a browser reloading the page mid-write must get the old page or the new, never half
    tmp = out / ".report.html.tmp"
    tmp.write_text("\n".join(p for p in parts if p), encoding="utf-8")
    os.replace(tmp, path)
    return path
