"""One HTML page per run: ``python -m raygan.report RUN_DIR [--out DIR]``.

Reads a finished run directory (trials.parquet, history.parquet, study.toml, run.json)
and writes next to it (or into --out)::

    report.html                  self-contained: PNGs inlined as base64, inline CSS, no JS
    pareto.png                   first objective vs second, the Pareto front as a step line
    objective_vs_<param>.png     every objective against one searched parameter
    history.png                  every objective per round, per trial

Same run in, same bytes out: no timestamps of our own (the date shown is the run's), and
the PNGs are written without the matplotlib version in their metadata.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from raygan.results import plural, signed, validated_means

if TYPE_CHECKING:  # only for annotations: the spec module imports the experiments (torch)
    from raygan.spec import Param, StudySpec

# What the SeqGAN paper's text gives in numbers (its figures 5 and 6 are not in the text):
# Table 2: no valid emoticon at N = 1; Table 3: about 70% valid at N = 10. Figure 6 (exact
# copies) gives only the trend, so there are no memorization points: none are invented.
PAPER = {
    "study": "seqgan_tradeoff",
    "param": "duplication",
    "label": "paper (DATA 2021)",
    "points": {"validity": [(1, 0.0), (10, 0.70)]},
    # figure 6 is the share of exact copies ("regenerated"): the paper profile's exact_copy
    "trend_only": {"exact_copy": "the paper's figure 6 gives only the rising trend with N"},
}
DPI = 110
FRONT_COLOR, OTHER_COLOR, PAPER_COLOR = "#d62728", "#1f77b4", "black"
VALIDATED_COLOR = "#2ca02c"
PNG_METADATA = {"Software": None}  # no matplotlib version: the bytes depend on the data only


class ReportError(Exception):
    """A run directory the report cannot be made from: one line for the user."""


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

    def gain_from(self) -> dict | None:
        """The baseline row gains are measured from (run.json's gain_baseline), or None."""
        name = self.meta.get("gain_baseline")
        if not name or self.baselines.empty:
            return None
        rows = self.baselines[self.baselines.baseline == name]
        return rows.iloc[0].to_dict() if len(rows) else None

    def validated(self) -> pd.DataFrame:
        """Per validated configuration: trial_index, runs, each objective's validated mean
        and ``<metric>_std``, and ``validated_front`` (see results.validated_means)."""
        if self.validation.empty:
            return pd.DataFrame()
        table = pa.Table.from_pandas(self.validation, preserve_index=False)
        return pd.DataFrame(validated_means(self.spec, table))


@dataclass
class Plot:
    file: str
    title: str
    caption: str
    legend: list[str] = field(default_factory=list)  # entries of the figure's legends


# -----------------------------------------------------------------------------
# reading the run


def load_run(run_dir: Path) -> Run:
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run directory")
    for name in ("trials.parquet", "study.toml", "run.json"):
        if not (run_dir / name).is_file():
            raise ReportError(f"{run_dir}: no {name} (has the study finished?)")
    from raygan.spec import SpecError, load_spec  # imports the experiment (torch): not before

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


def _label(objective) -> str:
    return f"{objective.metric} ({objective.mode})"


def _count(run: Run, status: str) -> int:
    return int((run.trials.status == status).sum())


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)  # Agg explicitly, and no pyplot: no global state, no display
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA)


def _fraction_limits(ax, axis: str = "y") -> None:
    """A metric in [0, 1] starts at 0: all-zero data otherwise gets a -0.05..0.05 axis."""
    lo, hi = getattr(ax.dataLim, f"interval{axis}")
    if 0 <= lo and hi <= 1:
        top = min(max(hi * 1.08, 0.05), 1.05)
        getattr(ax, f"set_{axis}lim")(-0.03 * top, top)


def _param_axis(ax, param: Param, extra: tuple = ()) -> None:
    """The x-axis spans the searched range, so every subplot of a param shares it."""
    if param.type == "categorical":
        names = [str(c) for c in param.choices]
        ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.5, len(names) - 0.5)
        return
    low, high = min((param.low, *extra)), max((param.high, *extra))
    if param.type == "logfloat":
        ax.set_xscale("log")
        pad = (high / low) ** 0.04
        ax.set_xlim(low / pad, high * pad)
        # 1-2-5 ticks written plainly: the default minor labels of a short log range collide
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        return
    pad = max(0.04 * (high - low), 0.5 if param.type == "int" else 0.05)
    ax.set_xlim(low - pad, high + pad)
    if param.type == "int":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _annotate_front(ax, indices, xs, ys) -> None:
    # Trials at one point share a label (else their numbers print on top of each other);
    # neighbours alternate above and below.
    at: dict[tuple, list[str]] = {}
    for i, a, b in zip(indices, xs, ys, strict=True):
        at.setdefault((a, b), []).append(str(i))
    for k, ((a, b), names) in enumerate(sorted(at.items())):
        text = ",".join(names[:6]) + (f" +{len(names) - 6}" if len(names) > 6 else "")
        offset = (5, 5) if k % 2 == 0 else (5, -12)
        ax.annotate(text, (a, b), textcoords="offset points", xytext=offset, fontsize=8)


# -----------------------------------------------------------------------------
# figures


def plot_pareto(run: Run, out: Path) -> Plot:
    objectives, done, front = run.spec.objectives, run.completed, run.front
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    if len(objectives) == 1:
        # one objective: no trade-off to draw, so show it over trial index with the best so far
        obj = objectives[0]
        x, y = done.trial_index, done[obj.metric]
        best = y.cummax() if obj.mode == "max" else y.cummin()
        ax.step(x, best, where="post", color=FRONT_COLOR, lw=1.2, label="best so far")
        ax.set_xlabel("trial index")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(_label(obj))
        fx, fy = front.trial_index, front[obj.metric]
    else:
        ox, oy = objectives[0], objectives[1]
        x, y = done[ox.metric], done[oy.metric]
        fx, fy = front[ox.metric], front[oy.metric]
        # The line bounds what the front dominates: between neighbours it turns at the corner
        # worse in both objectives, which is the left point's x when x is maximised.
        order = np.argsort(fx.to_numpy(), kind="stable")
        where = "pre" if ox.mode == "max" else "post"
        ax.step(fx.iloc[order], fy.iloc[order], where=where, color=FRONT_COLOR, lw=1.2)
        ax.set_xlabel(_label(ox))
        ax.set_ylabel(_label(oy))
    ax.scatter(x, y, s=28, color=OTHER_COLOR, alpha=0.6, label=f"completed ({len(done)})")
    ax.scatter(fx, fy, s=70, color=FRONT_COLOR, edgecolor="black", label=f"front ({len(front)})")
    if len(objectives) > 1:
        _error_bars(ax, done, objectives[:2], OTHER_COLOR, alpha=0.35)
        _error_bars(ax, front, objectives[:2], FRONT_COLOR, alpha=0.8)
        _validated_points(ax, run, objectives[:2])
    _annotate_front(ax, front.trial_index, fx, fy)
    if done.empty:
        ax.text(0.5, 0.5, "no completed trial", ha="center", transform=ax.transAxes)
    # after every point and bar is drawn, so the validated diamonds and their bars fit too
    if len(objectives) > 1:
        _fraction_limits(ax, "x")
    _fraction_limits(ax, "y")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    ax.set_title(f"{run.meta.get('study', run.spec.name)}: Pareto front", fontsize=11)
    _save(fig, out / "pareto.png")
    caption = (
        f"{len(done)} completed trials (blue), the {len(front)} on the Pareto front in red, "
        f"labelled by trial index."
    )
    if run.spec.replicates > 1:
        caption += (
            f" Each point is the mean of {run.spec.replicates} replicates (seeds); "
            "bars: ± one standard deviation."
        )
    if run.spec.aggregate == "pessimistic":
        caption += (
            " The front is ranked pessimistically: by mean - std where an objective is "
            "maximized, mean + std where it is minimized."
        )
    if not run.validation.empty:
        caption += (
            f" Hollow diamonds: each front configuration re-trained with "
            f"{plural(run.spec.validate, 'fresh seed')} (mean ± std), joined to its search point; "
            "grey ones fall off the front on validation; the dashed green line is the "
            "validated front."
        )
    caption += (
        f" Not plotted: {plural(len(run.trials) - len(done), 'trial')} "
        f"({_count(run, 'failed')} failed, {_count(run, 'stopped')} stopped)."
    )
    return Plot("pareto.png", "Pareto front", caption)


def _std(rows: pd.DataFrame, metric: str):
    column = f"{metric}_std"
    return rows[column].fillna(0.0).to_numpy() if column in rows else None


def _error_bars(ax, rows: pd.DataFrame, objectives, color: str, *, alpha: float) -> None:
    """± one standard deviation over replicates, where the rows have one."""
    ox, oy = objectives
    xerr, yerr = _std(rows, ox.metric), _std(rows, oy.metric)
    if rows.empty or (not np.any(xerr) and not np.any(yerr)):
        return
    ax.errorbar(
        rows[ox.metric],
        rows[oy.metric],
        xerr=xerr,
        yerr=yerr,
        fmt="none",
        ecolor=color,
        elinewidth=0.9,
        alpha=alpha,
        zorder=1,
    )


def _validated_points(ax, run: Run, objectives) -> None:
    """Each validated configuration at its validated mean ± std, joined to its search point."""
    validated = run.validated()
    if validated.empty:
        return
    ox, oy = objectives
    search = run.front.set_index("trial_index")
    kept = validated[validated.validated_front].sort_values(ox.metric)
    where = "pre" if ox.mode == "max" else "post"  # as the search front's line turns
    ax.step(kept[ox.metric], kept[oy.metric], where=where, color=VALIDATED_COLOR, lw=1.2, ls="--")
    for stays in (True, False):
        rows = validated[validated.validated_front == stays]
        if rows.empty:
            continue
        color = VALIDATED_COLOR if stays else "0.55"
        label = "validated, stays on front" if stays else "validated, falls off"
        for _, r in rows.iterrows():
            if r.trial_index in search.index:
                s = search.loc[r.trial_index]
                ax.plot(
                    [s[ox.metric], r[ox.metric]],
                    [s[oy.metric], r[oy.metric]],
                    ls=":",
                    color=color,
                    lw=1,
                )
        ax.errorbar(
            rows[ox.metric],
            rows[oy.metric],
            xerr=rows[f"{ox.metric}_std"].fillna(0.0),
            yerr=rows[f"{oy.metric}_std"].fillna(0.0),
            fmt="D",
            ms=8,
            mfc="white",
            mec=color,
            ecolor=color,
            elinewidth=1,
            capsize=2,
            label=f"{label} ({len(rows)})",
            zorder=4,
        )


def plot_param(run: Run, param: Param, out: Path) -> Plot:
    objectives, done, front = run.spec.objectives, run.completed, run.front
    column = f"param_{param.name}"
    paper = run.meta.get("study") == PAPER["study"] and param.name == PAPER["param"]
    fig = Figure(figsize=(4.6 * len(objectives), 3.9), layout="constrained")
    axes = fig.subplots(1, len(objectives), squeeze=False)[0]
    legend: list[str] = []
    notes: list[str] = []
    for ax, obj in zip(axes, objectives, strict=True):
        x, fx = done[column], front[column]
        if param.type == "categorical":  # categories at 0..n-1, in the study's order
            position = {str(c): i for i, c in enumerate(param.choices)}
            x, fx = (s.astype(str).map(position) for s in (x, fx))
        ax.scatter(x, done[obj.metric], s=28, color=OTHER_COLOR, alpha=0.6, label="trials")
        ax.scatter(fx, front[obj.metric], s=60, color=FRONT_COLOR, edgecolor="black", label="front")
        if paper and obj.metric in PAPER["points"]:
            px, py = zip(*PAPER["points"][obj.metric], strict=True)
            ax.scatter(px, py, s=140, marker="*", color=PAPER_COLOR, label=PAPER["label"], zorder=3)
            values = ", ".join(f"N={a}: {b:.2f}" for a, b in zip(px, py, strict=True))
            notes.append(f"{obj.metric}: {PAPER['label']} at {values}")
        if paper and obj.metric in PAPER["trend_only"]:
            # a legend line without a marker: the legend finds room, a free text may not
            ax.plot([], [], ls="none", label="paper: rising trend only")
            notes.append(f"{obj.metric}: {PAPER['trend_only'][obj.metric]}, no values")
        paper_x = tuple(a for pts in PAPER["points"].values() for a, _ in pts) if paper else ()
        _param_axis(ax, param, paper_x)
        _fraction_limits(ax)
        ax.set_xlabel(param.name)
        ax.set_ylabel(_label(obj))
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="best", fontsize=8)
        legend += [label for label in labels if label not in legend]
    fig.suptitle(f"objectives vs {param.name} ({param.type})", fontsize=11)
    name = f"objective_vs_{param.name}.png"
    _save(fig, out / name)
    caption = f"Each objective against {param.name}; completed trials, the front in red."
    if notes:
        caption += " Paper reference: " + "; ".join(notes) + "."
    return Plot(name, f"objectives vs {param.name}", caption, legend)


def plot_history(run: Run, out: Path) -> Plot:
    objectives, history = run.spec.objectives, run.history
    front = set(run.front.trial_index)
    fig = Figure(figsize=(4.6 * len(objectives), 3.9), layout="constrained")
    axes = fig.subplots(1, len(objectives), squeeze=False)[0]
    for ax, obj in zip(axes, objectives, strict=True):
        if history.empty:
            ax.text(0.5, 0.5, "no history.parquet", ha="center", transform=ax.transAxes)
        else:
            # grey first, then the front on top, each in its own colour
            groups = sorted(history.groupby("trial_index"), key=lambda g: (g[0] in front, g[0]))
            k = 0
            for index, rows in groups:
                rows = rows.sort_values("step")
                if index not in front:
                    ax.plot(rows.step, rows[obj.metric], color="0.6", lw=0.7, alpha=0.7)
                    continue
                style = dict(color=f"C{k % 10}", lw=1.8, marker="o", ms=3)
                ax.plot(rows.step, rows[obj.metric], label=f"trial {index}", **style)
                k += 1
            handles, labels = ax.get_legend_handles_labels()
            if labels:
                ncol = 1 if len(labels) <= 8 else 2
                ax.legend(handles, labels, fontsize=7, ncol=ncol, title="front", title_fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _fraction_limits(ax)
        ax.set_xlabel("round (step 0: after pre-training)")
        ax.set_ylabel(_label(obj))
        ax.grid(alpha=0.3)
    fig.suptitle("objectives per round", fontsize=11)
    _save(fig, out / "history.png")
    caption = (
        "Every trial's objectives after each round (grey, thin); the Pareto front's trials "
        "in colour. Failed and stopped trials end where they stopped."
    )
    return Plot("history.png", "history", caption)


# -----------------------------------------------------------------------------
# the page

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd }
table { border-collapse: collapse; font-size: 0.9em } th { background: #f3f3f3 }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em } dd { margin: 0 }
img { max-width: 100%; height: auto } figcaption { font-size: 0.9em; color: #444 }
"""


def _fmt(value) -> str:
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


def _metric(mean, std=None) -> str:
    """A metric cell: three decimals, ``± std`` where a spread is known."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and np.isnan(std)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def _nan_none(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def front_table(run: Run) -> str:
    """The front, best first in the first objective: each objective (mean ± std over the
    replicates) and its gain over the experiment's gain baseline (where it has one), its
    validated mean ± std and whether it stays on the front (when validated), the kept
    step, the parameters and the seed."""
    objectives, params = run.spec.objectives, run.spec.search
    first = objectives[0]
    front = run.front.sort_values(
        [first.metric, "trial_index"], ascending=[first.mode == "min", True]
    )
    validated = run.validated()
    by_index = validated.set_index("trial_index") if not validated.empty else None
    reference = run.gain_from() or {}
    gained = [o for o in objectives if pd.notna(reference.get(o.metric))]

    def gain(values, o) -> str:
        std = _nan_none(values.get(f"{o.metric}_std"))
        return signed(values[o.metric] - reference[o.metric], std)

    header = ["trial"] + [_label(o) for o in objectives]
    header += [f"{o.metric} gain over {reference['baseline']}" for o in gained]
    if by_index is not None:
        header += [f"{o.metric} validated" for o in objectives]
        header += [f"{o.metric} validated gain" for o in gained] + ["on validation"]
    seed = "seed (replicate 0)" if run.spec.replicates > 1 else "seed"
    header += ["step"] + [p.name for p in params] + [seed]
    rows = []
    for _, r in front.iterrows():
        cells = [r["trial_index"]]
        cells += [_metric(r[o.metric], r.get(f"{o.metric}_std")) for o in objectives]
        cells += [gain(r, o) for o in gained]
        if by_index is not None:
            v = by_index.loc[r.trial_index] if r.trial_index in by_index.index else None
            cells += [
                "-" if v is None else _metric(v[o.metric], v[f"{o.metric}_std"]) for o in objectives
            ]
            cells += ["-" if v is None else gain(v, o) for o in gained]
            cells.append(
                "not validated" if v is None else "stays" if v.validated_front else "falls off"
            )
        cells += [r.get("kept_step")] + [r[f"param_{p.name}"] for p in params] + [r["seed"]]
        rows.append(cells)
    return _table(header, rows)


def _date(created: str | None) -> str:
    try:
        return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except (TypeError, ValueError):
        return str(created or "?")


def summary(run: Run) -> str:
    versions = sorted({str(v) for v in run.trials.get("raygan_version", pd.Series()).dropna()})
    version = ", ".join(versions) or run.meta.get("raygan_version", "?")
    counts = ", ".join(f"{_count(run, s)} {s}" for s in ("completed", "failed", "stopped"))
    facts = [
        ("study", run.meta.get("study", run.spec.name)),
        ("profile", run.meta.get("profile", "?")),
        ("run", run.meta.get("run", run.dir.name)),
        ("experiment", f"{run.spec.experiment}, sampler {run.spec.sampler}"),
        ("objectives", ", ".join(_label(o) for o in run.spec.objectives)),
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
    """Figures and report.html of one run directory; returns the path of report.html."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m raygan.report", description="Write report.html and figures of a run."
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds trials.parquet)")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: RUN_DIR)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.run_dir, args.out)
    except (ReportError, OSError) as e:  # OSError: --out not writable
        print(f"raygan.report: error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
