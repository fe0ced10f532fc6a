"""The figures of a run's report, each a PNG of its own::

    pareto.png                   first objective vs second, the Pareto front as a step line
    objective_vs_<param>.png     every objective against one searched parameter
    history.png                  every objective per round, per trial

Drawn with matplotlib's Agg canvas and no pyplot (no global state, no display); written
without the matplotlib version in their metadata, so the bytes depend on the data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from raygan.report.run import Run, objective_label
from raygan.results import plural
from raygan.spec import Param

DPI = 110
FRONT_COLOR, OTHER_COLOR, PAPER_COLOR = "#d62728", "#1f77b4", "black"
VALIDATED_COLOR = "#2ca02c"
# Past these, a front of hundreds of trials (three objectives, a long study) buries the
# figure under its labels: the history legend names this many (one colour each of the
# ten), the Pareto plot labels about this many points, spread along the front.
LEGEND_TRIALS, FRONT_LABELS = 10, 24
PNG_METADATA = {"Software": None}  # no matplotlib version: the bytes depend on the data only


@dataclass
class Plot:
    file: str
    title: str
    caption: str
    legend: list[str] = field(default_factory=list)  # entries of the figure's legends


def save_figure(fig: Figure, path: Path) -> None:
    """``fig`` as a PNG at ``path``, at the report's DPI, without a version in its metadata."""
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
    # neighbours alternate above and below; past FRONT_LABELS points, every k-th point.
    at: dict[tuple, list[str]] = {}
    for i, a, b in zip(indices, xs, ys, strict=True):
        at.setdefault((a, b), []).append(str(i))
    points = sorted(at.items())
    points = points[:: -(-len(points) // FRONT_LABELS) or 1]
    for k, ((a, b), names) in enumerate(points):
        text = ",".join(names[:6]) + (f" +{len(names) - 6}" if len(names) > 6 else "")
        offset = (5, 5) if k % 2 == 0 else (5, -12)
        # over the markers, on a pale ground: a dense front's points would hide them
        ax.annotate(
            text,
            (a, b),
            textcoords="offset points",
            xytext=offset,
            fontsize=8,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
        )


def plot_pareto(run: Run, out: Path) -> Plot:
    """out/pareto.png: the first objective against the second (with one objective, against
    the trial index), the front as a step line, validated means where there are some."""
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
        ax.set_ylabel(objective_label(obj))
        fx, fy = front.trial_index, front[obj.metric]
    else:
        ox, oy = objectives[0], objectives[1]
        x, y = done[ox.metric], done[oy.metric]
        fx, fy = front[ox.metric], front[oy.metric]
        # The line bounds what the front dominates: between neighbours it turns at the corner
        # worse in both objectives, which is the left point's x when x is maximised.
        order = np.argsort(fx.to_numpy(), kind="stable")
        where: Literal["pre", "post"] = "pre" if ox.mode == "max" else "post"
        ax.step(fx.iloc[order], fy.iloc[order], where=where, color=FRONT_COLOR, lw=1.2)
        ax.set_xlabel(objective_label(ox))
        ax.set_ylabel(objective_label(oy))
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
    save_figure(fig, out / "pareto.png")
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
        f"({run.count('failed')} failed, {run.count('stopped')} stopped)."
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
    # as the search front's line turns
    where: Literal["pre", "post"] = "pre" if ox.mode == "max" else "post"
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
    """out/objective_vs_<param>.png: each objective against one searched setting, with the
    study file's [paper] points where they are drawn over this setting."""
    objectives, done, front = run.spec.objectives, run.completed, run.front
    column = f"param_{param.name}"
    paper = run.spec.paper if run.spec.paper and run.spec.paper.param == param.name else None
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
        if paper and obj.metric in paper.points:
            px, py = zip(*paper.points[obj.metric], strict=True)
            ax.scatter(px, py, s=140, marker="*", color=PAPER_COLOR, label=paper.label, zorder=3)
            # :g, as a TOML 1 may arrive as 1.0
            values = ", ".join(
                f"{paper.symbol}={a:g}: {b:.2f}" for a, b in zip(px, py, strict=True)
            )
            notes.append(f"{obj.metric}: {paper.label} at {values}")
        if paper and obj.metric in paper.trend_only:
            # a legend line without a marker: the legend finds room, a free text may not
            ax.plot([], [], ls="none", label=f"{paper.label}: trend only")
            notes.append(f"{obj.metric}: {paper.trend_only[obj.metric]}, no values")
        paper_x = tuple(a for pts in paper.points.values() for a, _ in pts) if paper else ()
        _param_axis(ax, param, paper_x)
        _fraction_limits(ax)
        ax.set_xlabel(param.name)
        ax.set_ylabel(objective_label(obj))
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="best", fontsize=8)
        legend += [label for label in labels if label not in legend]
    fig.suptitle(f"objectives vs {param.name} ({param.type})", fontsize=11)
    name = f"objective_vs_{param.name}.png"
    save_figure(fig, out / name)
    caption = f"Each objective against {param.name}; completed trials, the front in red."
    if notes:
        caption += " Paper reference: " + "; ".join(notes) + "."
    return Plot(name, f"objectives vs {param.name}", caption, legend)


def _spread(front: pd.DataFrame, metric: str, most: int) -> set:
    """The trial indices of ``front``: all, or ``most`` of them evenly spread over
    ``metric`` (its lowest and its highest among them)."""
    if len(front) <= most:
        return set(front.trial_index)
    ordered = front.sort_values([metric, "trial_index"]).trial_index.to_numpy()
    return {ordered[i] for i in np.linspace(0, len(ordered) - 1, most).round().astype(int)}


def plot_history(run: Run, out: Path) -> Plot:
    """out/history.png: each objective after every round, per trial. A front of more than
    LEGEND_TRIALS trials: that many, spread over the front by the first objective, are
    named in colour; the others are thin red lines; the legend's title says
    how many are named."""
    objectives, history = run.spec.objectives, run.history
    front = set(run.front.trial_index)
    named = _spread(run.front, objectives[0].metric, LEGEND_TRIALS)
    fig = Figure(figsize=(4.6 * len(objectives), 3.9), layout="constrained")
    axes = fig.subplots(1, len(objectives), squeeze=False)[0]
    legend: list[str] = []
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
                elif index not in named:
                    ax.plot(rows.step, rows[obj.metric], color=FRONT_COLOR, lw=0.6, alpha=0.35)
                else:
                    style = dict(color=f"C{k % 10}", lw=1.8, marker="o", ms=3, zorder=3)
                    ax.plot(rows.step, rows[obj.metric], label=f"trial {index}", **style)
                    k += 1
            handles, labels = ax.get_legend_handles_labels()
            if labels:
                ncol = 1 if len(labels) <= 8 else 2
                many = len(front) > len(named)
                title = f"front ({len(labels)} of {len(front)} named)" if many else "front"
                ax.legend(
                    handles,
                    labels,
                    loc="best",
                    fontsize=7,
                    ncol=ncol,
                    title=title,
                    title_fontsize=8,
                )
                legend = [title, *labels]
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _fraction_limits(ax)
        ax.set_xlabel("round (step 0: after pre-training)")
        ax.set_ylabel(objective_label(obj))
        ax.grid(alpha=0.3)
    fig.suptitle("objectives per round", fontsize=11)
    save_figure(fig, out / "history.png")
    caption = (
        "Every trial's objectives after each round (grey, thin); the Pareto front's trials "
        "in colour. Failed and stopped trials end where they stopped."
    )
    return Plot("history.png", "history", caption, legend)
