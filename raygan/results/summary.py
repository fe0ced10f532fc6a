"""The few lines a person reads at the end of a study: counts, the front, the validated
front, failures, files; and the baselines as a small table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
from tabulate import tabulate

from raygan.results.front import FrontTable, front_rows, known
from raygan.results.location import join_location
from raygan.results.pareto import validated_means
from raygan.results.schema import SAMPLES_FILE, SWEEP_FILE, TRIAL_STATUSES
from raygan.results.store import RESULT_FILES, VALIDATION_FILE, StudyTables

if TYPE_CHECKING:  # only for annotations: results must stay importable without experiments
    from raygan.spec import StudySpec


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def plural(n: int, word: str) -> str:
    """'1 trial', '2 trials': ``n`` and ``word``, with an s unless ``n`` is 1."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def mean_std(mean: Any, std: Any = None) -> str:
    """A metric: three decimals, ``± std`` where a spread is known; '-' for no value."""
    if not known(mean):
        return "-"
    if not known(std):  # no spread known (one replicate or run)
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def signed(value: Any, std: Any = None) -> str:
    """A difference with its sign, three decimals, ``± std`` where a spread is known."""
    text = mean_std(value, std)
    return text if text.startswith("-") else "+" + text


def gain_reference(baselines: pa.Table | None, name: str | None) -> dict | None:
    """The baseline row named ``name`` (the experiment's ``gain_baseline``), or None."""
    if baselines is None or name is None:
        return None
    return next((r for r in baselines.to_pylist() if r["baseline"] == name), None)


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """Right-aligned columns two spaces apart, indented by two."""
    # the header as a row: tabulate pads a header of its own wider than its column
    text = tabulate([header, *rows], tablefmt="plain", stralign="right", disable_numparse=True)
    return ["  " + line for line in text.splitlines()]


def format_summary(
    tables: StudyTables,
    spec: StudySpec,
    *,
    location: str,
    wall_s: float | None = None,
    resumed: bool = False,
    validation_s: float | None = None,
    gain_from: dict | None = None,
) -> str:
    """A few lines a person reads at the end of a study: counts, the front (means and
    spreads over replicates, and with ``gain_from``, a baseline row, each objective's gain
    over that baseline), the validated front, failures, files. ``wall_s``: the search's
    wall time in seconds, since the resume where ``resumed`` (the interrupted part is not
    counted); ``validation_s``: the front validation's, after it."""
    rows = tables.trials.to_pylist()
    counts = {s: sum(r["status"] == s for r in rows) for s in TRIAL_STATUSES}
    # fewer rows than asked for: the search space was used up, or the time budget ran out
    asked = f"{len(rows)} of {spec.num_samples} trials" if len(rows) < spec.num_samples else ""
    head = f"{spec.name} (profile {spec.profile}): {asked or plural(len(rows), 'trial')}: "
    shown = [s for s in ("completed", "pruned", "failed", "stopped") if s != "pruned" or counts[s]]
    head += ", ".join(f"{counts[s]} {s}" for s in shown)
    if wall_s is not None:
        head += f" in {_duration(wall_s)}"
        if resumed:
            head += " since the resume"
    if validation_s is not None:
        head += f", then {_duration(validation_s)} of validation"
    lines = [head]

    objectives = ", ".join(f"{o.metric} {o.mode}" for o in spec.objectives)
    best = spec.result_round == "best"
    notes = ["each trial at its best step"] * best
    if spec.replicates > 1:
        notes.append(f"mean ± std over {spec.replicates} replicates")
    if spec.aggregate == "pessimistic":
        notes.append("the front ranked by mean - std (max) and mean + std (min)")
    each = "".join(f", {n}" for n in notes)
    lines.append(f"Pareto front ({plural(tables.pareto.num_rows, 'trial')}{each}): {objectives}")
    validated = None if tables.validation is None else validated_means(spec, tables.validation)
    front = front_rows(spec, tables.pareto.to_pylist(), validated=validated, gain_from=gain_from)
    if front.rows:
        lines += _front_lines(front, spec, best=best)
    if tables.validation is not None:
        failed_runs = sum(s == "failed" for s in tables.validation["status"].to_pylist())
        lines += _validated_lines(front, spec, failed_runs=failed_runs)
    if tables.sweep is not None:
        lines += _sweep_lines(tables.sweep, spec)

    failed = sorted((r for r in rows if r["status"] == "failed"), key=lambda r: r["trial_index"])
    for r in failed[:5]:
        error = (r["error"] or "").strip().splitlines()
        reason = error[0] if error else "(no error message)"
        if len(reason) > 100:
            reason = reason[:97] + "..."
        lines.append(f"failed: trial {r['trial_index']}: {reason}")
    if len(failed) > 5:
        lines.append(f"... {len(failed) - 5} more")

    files = list(RESULT_FILES) + [VALIDATION_FILE] * (tables.validation is not None)
    files += [SAMPLES_FILE] * (tables.samples is not None)
    files += [SWEEP_FILE] * (tables.sweep is not None)
    lines += [f"results: {join_location(location, '')}", f"  {', '.join(files)}"]
    return "\n".join(lines)


def _sweep_lines(sweep: pa.Table, spec: StudySpec) -> list[str]:
    """The front over (configuration, sweep point) pairs: each pair's trial, sweep values
    and objectives, best first by the first objective."""
    values = ", ".join(f"{name} = {list(v)}" for name, v in spec.sweep.items())
    rows = [r for r in sweep.to_pylist() if r["pareto"]]
    first = spec.objectives[0]
    rows.sort(
        key=lambda r: -(r[first.metric] or 0) if first.mode == "max" else r[first.metric] or 0
    )
    lines = [
        f"sweep ({values}): {plural(sweep.num_rows, 'pair')}; Pareto front over "
        f"(configuration, sweep point): {plural(len(rows), 'pair')}"
    ]
    header = ["trial", *spec.sweep, *(o.metric for o in spec.objectives)]
    table = [
        [
            str(r["trial_index"]),
            *(_cell(r[f"sweep_{name}"]) for name in spec.sweep),
            *(mean_std(r[o.metric], r.get(f"{o.metric}_std")) for o in spec.objectives),
        ]
        for r in rows
    ]
    return lines + (_aligned(header, table) if table else [])


def _front_lines(front: FrontTable, spec: StudySpec, *, best: bool) -> list[str]:
    """The front: scores, gains over the baseline, the kept step (when the study keeps each
    trial's best step) and the parameters."""
    header = ["trial"] + [o.metric for o in front.objectives]
    header += [f"gain over {front.baseline}" for _ in front.gained]
    header += ["step"] * best + [p.name for p in spec.search]
    table = []
    for r in front.rows:
        cells = [str(r.trial_index)]
        cells += [mean_std(*score) for score in r.scores]
        cells += [signed(*gain) for gain in r.gains]
        cells += [_cell(r.row["kept_step"])] * best
        cells += [_cell(r.row[f"param_{p.name}"]) for p in spec.search]
        table.append(cells)
    return _aligned(header, table)


def _validated_lines(front: FrontTable, spec: StudySpec, *, failed_runs: int) -> list[str]:
    """The front configurations' search scores beside their validated means and spreads
    (and the validated gain over the baseline, where it has the metric)."""
    head = (
        f"Validated front ({plural(spec.validate, 'fresh seed')} per configuration, "
        "none used in the search, each scored at its kept step"
    )
    head += f"; {plural(failed_runs, 'run')} failed):" if failed_runs else "):"
    header = ["trial"]
    for o in front.objectives:
        header += [f"{o.metric} search", "validated"]
    header += [f"validated gain over {front.baseline}" for _ in front.gained] + ["front"]
    table = []
    for r in front.rows:
        cells = [str(r.trial_index)]
        for k, score in enumerate(r.scores):
            cells.append(mean_std(*score))
            cells.append("-" if r.validated is None else mean_std(*r.validated[k]))
        if r.validated_gains is None:
            cells += ["-"] * len(front.gained)
        else:
            cells += [signed(*gain) for gain in r.validated_gains]
        cells.append(r.verdict or "not validated")
        table.append(cells)
    return [head, *_aligned(header, table)]


def format_baselines(table: pa.Table, spec: StudySpec, *, max_columns: int = 6) -> str:
    """The baselines as a small aligned table: objectives first, then other scalar metrics
    any baseline has, at most `max_columns` of them."""
    rows = table.to_pylist()
    objectives = [o.metric for o in spec.objectives]
    skip = {"study", "run", "baseline"}
    scalars = [
        f.name
        for f in table.schema
        if f.name not in skip
        and f.type == pa.float64()
        and any(r[f.name] is not None for r in rows)
    ]
    columns = (
        [m for m in objectives if m in scalars] + [m for m in scalars if m not in objectives]
    )[:max_columns]
    cells = [[r["baseline"]] + [mean_std(r[c]) for c in columns] for r in rows]
    text = tabulate(
        [["baseline", *columns], *cells],
        tablefmt="plain",
        colalign=("left", *("right" for _ in columns)),
        disable_numparse=True,
    )
    return "\n".join(["baselines (no generator):", *("  " + line for line in text.splitlines())])
