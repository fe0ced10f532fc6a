"""Samples of a trained generator from a finished run, with their judgements.

    python -m raygan.sample RUN_DIR --trial N [-n 1000] [--seed S] [--replicate R]
        [--temperature T] [--set name=value ...] [--only novel-valid] [--catalogue]
        [--out FILE]

Loads the kept checkpoint of trial N (the checkpoint of the round its row holds: the
last round, or the best where the study keeps each trial's best), rebuilds its
generator, draws ``n`` fresh samples with a seed of their own and judges each as the
study's metrics do (valid, exact and near copy, nearest training item and distance).

Output: text families print one sample a line (``--catalogue``: the distinct samples,
most frequent first, each with its count and nearest training face); ``--out`` writes
``.txt``, ``.parquet`` (every judgement, the columns of samples.parquet) or, for images,
``.png`` (a grid). The same as ``raygan.sample(run_dir, trial=N, ...)`` in Python.
Bad input (no run, no such trial, a failed trial, no checkpoint, an unknown sampling
setting) is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from raygan.data.text import drawn_texts
from raygan.results import SAMPLE_COLUMNS, param_value
from raygan.spec.files import parse_value

EXIT_OK, EXIT_BAD_INPUT = 0, 2
ONLY = ("novel-valid", "valid", "copies")


class SampleError(ValueError):
    """Bad input to ``raygan.sample``: one line naming what and why."""


def generate_samples(
    run_dir: str | Path,
    *,
    trial: int,
    n: int = 1000,
    seed: int = 0,
    replicate: int | None = None,
    only: str | None = None,
    **sampling,
) -> list[dict]:
    """``n`` fresh samples of trial ``trial``'s kept model, judged: dicts with the sample
    columns of samples.parquet (raygan.results.SAMPLE_COLUMNS), in the order drawn.

    ``replicate``: which replicate's model (default: the one with the best score at the
    kept round); ``sampling``: values of the experiment's ``sampling_settings``
    (``temperature=0.7``); ``only``: keep "novel-valid", "valid" or "copies" (near copies).
    Raises SampleError (one line) on bad input."""
    from raygan.report.run import ReportError, load_run

    if n < 1:
        raise SampleError(f"-n: {n} must be >= 1")
    if only is not None and only not in ONLY:
        raise SampleError(f"--only: {only!r} must be one of {', '.join(ONLY)}")
    try:
        run = load_run(run_dir)
    except ReportError as e:
        raise SampleError(str(e)) from None
    row = _trial_row(run, trial)
    chosen = _replicate(run, row, replicate)
    checkpoint = _kept_checkpoint(run.dir, row["trial_id"], row["kept_step"])
    experiment = _load_model(run, row, chosen, checkpoint)
    unknown = sorted(set(sampling) - set(experiment.sampling_settings))
    if unknown:
        allowed = ", ".join(experiment.sampling_settings) or "none"
        raise SampleError(
            f"sampling setting {unknown[0]!r} is not one of {run.spec.experiment}'s: {allowed}"
        )
    return _kept(experiment.generate(n, seed=seed, **sampling), only)


def _kept(samples: list[dict], only: str | None) -> list[dict]:
    """The samples ``only`` keeps ("novel-valid", "valid", "copies"; None: all)."""
    key = {"novel-valid": "novel_valid", "valid": "valid", "copies": "near_copy"}.get(only or "")
    return [s for s in samples if s.get(key)] if key else samples


def _ranges(numbers: list[int]) -> str:
    """Sorted trial indices as runs: [0, 1, 2, 4] -> '0..2, 4' (a search may skip some)."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in spans)


def _trial_row(run, trial: int) -> dict:
    rows = run.trials[run.trials["trial_index"] == trial]
    if rows.empty:
        known = sorted(int(i) for i in run.trials["trial_index"])
        raise SampleError(
            f"--trial: {trial} is not a trial of {run.dir}; it has trials {_ranges(known)}"
            if known
            else f"--trial: {run.dir} has no trials"
        )
    row = rows.iloc[0].to_dict()
    if row["status"] == "failed":
        raise SampleError(f"--trial: trial {trial} failed ({row.get('error')}); it has no model")
    return row


def _replicate(run, row: dict, replicate: int | None) -> tuple[int, int]:
    """(replicate, its seed): the one asked for, or the one with the best score."""
    from raygan.trial import round_score

    path = run.dir / "replicates.parquet"
    table = pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=["trial_id"])
    reps = table[table["trial_id"] == row["trial_id"]]
    if reps.empty:  # a study of one seed per configuration
        if replicate not in (None, 0):
            raise SampleError(f"--replicate: {replicate}; trial {row['trial_index']} has only 0")
        return 0, int(row["seed"])
    if replicate is not None:
        found = reps[reps["replicate"] == replicate]
        if found.empty:
            have = ", ".join(str(int(r)) for r in reps["replicate"])
            raise SampleError(f"--replicate: {replicate} is not one of {have}")
        return replicate, int(found.iloc[0]["seed"])
    scores = [round_score(run.spec, r) for r in reps.to_dict("records")]
    best = reps.iloc[max(range(len(scores)), key=lambda i: scores[i])]
    return int(best["replicate"]), int(best["seed"])


def _kept_checkpoint(run_dir: Path, trial_id: str, kept_step) -> Path:
    """The folder holding the trial's kept round: in the newest checkpoint that knows
    that round, the checkpoint itself (the round is its latest) or its kept/ folder."""
    from raygan.trial import KEPT_STATE  # raygan.trial imports the experiments

    tune_dir = run_dir / "tune"  # engine.runs.TUNE_DIR, whose package would import Ray
    trial_dirs = [d for d in tune_dir.glob(f"*_{trial_id}_*") if d.is_dir()]
    if not trial_dirs:
        raise SampleError(f"--trial: no checkpoint of trial {trial_id} under {tune_dir}")
    if len(trial_dirs) > 1:
        raise SampleError(f"--trial: {len(trial_dirs)} folders under {tune_dir} hold {trial_id}")
    checkpoints = sorted(
        p for p in trial_dirs[0].glob("checkpoint_*") if (p / "raygan.json").is_file()
    )
    if not checkpoints:
        raise SampleError(
            f"--trial: trial {trial_id} left no checkpoint in {trial_dirs[0]} (a trial that "
            "budget.time_budget_s stopped before its first checkpoint has none)"
        )
    for checkpoint in reversed(checkpoints):
        state = json.loads((checkpoint / "raygan.json").read_text())
        if state["last"].get("step") == kept_step:
            return checkpoint
        kept = state.get("kept") or {}
        if kept.get("step") == kept_step and (checkpoint / KEPT_STATE).is_dir():
            return checkpoint / KEPT_STATE
    raise SampleError(
        f"--trial: no checkpoint of trial {trial_id} holds its kept step {kept_step} "
        f"(Tune kept {', '.join(p.name for p in checkpoints)}; a trial stopped between two "
        "checkpoints has no checkpoint of the round its row holds)"
    )


def _load_model(run, row: dict, chosen: tuple[int, int], checkpoint: Path):
    from raygan.trial import make_experiment

    replicate, seed = chosen
    params = {p.name: param_value(p, row[f"param_{p.name}"]) for p in run.spec.search}
    experiment = make_experiment(run.spec, params, seed=seed)
    several = (checkpoint / "replicate-0").is_dir()
    experiment.load(str(checkpoint / f"replicate-{replicate}" if several else checkpoint))
    return experiment


# ---- output --------------------------------------------------------------------------
def catalogue(samples: list[dict]) -> list[str]:
    """Distinct text samples, most frequent first: 'count<TAB>sample<TAB>nearest<TAB>distance'.
    Distinct as the metrics count them: as drawn (raygan.data.text.drawn_text), so a face
    and the same face with a zero-width character are one line, shown as drawn. A sample
    that would not read as itself (empty, a space at either end, a no-break or wide
    space) shows as a Python string literal: ``''``, ``'(^^)\\u3000'``."""
    drawn = drawn_texts(s["text"] for s in samples)
    counts = collections.Counter(drawn)
    first: dict[str, dict] = {}
    for text, s in zip(drawn, samples, strict=True):
        first.setdefault(text, s)
    return [
        f"{count}\t{_shown(text)}\t{_shown(first[text].get('nearest'))}"
        f"\t{first[text].get('distance', 0):.3f}"
        for text, count in counts.most_common()
    ]


def _shown(text: str | None) -> str:
    if text is None:  # a judgement with no nearest training item
        return ""
    # one that starts or ends with a quote would read as a literal: it is quoted too
    reads_as_itself = text.strip() == text != "" and text.isprintable()
    if reads_as_itself and text[0] not in "'\"" and text[-1] not in "'\"":
        return text
    return repr(text)


def write_samples(samples: list[dict], out: Path, *, catalogue_lines: bool = False) -> None:
    """``out`` by its suffix: .txt (one sample a line), .parquet (every judgement), .png."""
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        schema = pa.schema(SAMPLE_COLUMNS)
        rows = [{name: s.get(name) for name, _ in SAMPLE_COLUMNS} for s in samples]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)
    elif suffix == ".png":
        _image_grid(samples, out)
    else:
        lines = _lines(samples, catalogue_lines)
        out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _lines(samples: list[dict], catalogue_lines: bool) -> list[str]:
    if samples and samples[0]["kind"] != "text":
        raise SampleError(
            "image samples do not print as lines: give --out with .png or .parquet"
            + (" (--catalogue is for text)" if catalogue_lines else "")
        )
    return catalogue(samples) if catalogue_lines else [s["text"] for s in samples]


def _image_grid(samples: list[dict], out: Path) -> None:
    import io

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    if not samples or samples[0]["kind"] != "image":
        raise SampleError("--out: a .png grid needs image samples; use .txt or .parquet")
    cols = min(16, len(samples))
    rows = -(-len(samples) // cols)
    fig = Figure(figsize=(cols * 0.6, rows * 0.6))
    FigureCanvasAgg(fig)
    for i, s in enumerate(samples):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(np.asarray(Image.open(io.BytesIO(s["image"]))), cmap="gray", vmin=0, vmax=255)
        ax.set_axis_off()
    fig.savefig(out, dpi=100)


def _summary(samples: list[dict], trial: int) -> str:
    """The footer: what the whole draw held (before --only)."""
    n = len(samples)
    if not n:
        return f"trial {trial}: no samples"
    counts = {
        k: sum(bool(s.get(k)) for s in samples) for k in ("valid", "novel_valid", "near_copy")
    }
    if samples[0]["kind"] == "text":
        distinct = len({s["text"] for s in samples})
        novel = len({s["text"] for s in samples if s.get("novel_valid")})
        return (
            f"trial {trial}: {n} samples, {distinct} distinct; valid {counts['valid']}, "
            f"near copies {counts['near_copy']}, {novel} distinct new valid"
        )
    copies = sum(bool(s.get("exact_copy")) for s in samples)
    return f"trial {trial}: {n} samples, {copies} exact copies of training images"


# ---- command line --------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"raygan.sample: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m raygan.sample", description=__doc__.split("\n\n")[1])
    p.add_argument("run_dir", help="a run directory (raygan_runs/<name>)")
    p.add_argument("--trial", type=int, required=True, help="trial index (the summary's 'trial N')")
    p.add_argument("-n", type=int, default=1000, help="samples to draw (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    p.add_argument("--replicate", type=int, help="which replicate's model (default: the best)")
    p.add_argument("--temperature", type=float, help="sampling temperature (text families)")
    p.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a sampling setting"
    )
    p.add_argument("--only", choices=ONLY, help="keep only these samples")
    p.add_argument("--catalogue", action="store_true", help="distinct samples with counts")
    p.add_argument("--out", type=Path, help=".txt, .parquet or .png (images)")
    return p


OUT_SUFFIXES = (".txt", ".parquet", ".png")


def _check_out(out: Path | None, catalogue_lines: bool) -> None:
    """Before anything is drawn: the files --out can write, and --catalogue is text."""
    if out is None:
        return
    suffix = out.suffix.lower()
    if suffix not in OUT_SUFFIXES:
        ending = f"ends in {out.suffix!r}" if out.suffix else "has no suffix"
        raise SampleError(f"--out: {str(out)!r} {ending}; allowed: {', '.join(OUT_SUFFIXES)}")
    if out.is_dir() or not out.parent.is_dir():
        where = "is a directory" if out.is_dir() else f"has no directory {str(out.parent)!r}"
        raise SampleError(f"--out: {str(out)!r} {where}; name a file in an existing directory")
    if catalogue_lines and suffix != ".txt":
        raise SampleError(
            f"--catalogue: lines of text, not {out.suffix}; use --out with .txt, or leave "
            "--catalogue out for every sample with its judgements"
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sampling = {}
    try:
        _check_out(args.out, args.catalogue)
        for item in args.set:
            name, eq, text = item.partition("=")
            if not eq:
                raise SampleError(f"--set {item!r} must be NAME=VALUE")
            sampling[name.strip()] = parse_value(item, text)
        if args.temperature is not None:
            sampling["temperature"] = args.temperature
        drawn = generate_samples(
            args.run_dir,
            trial=args.trial,
            n=args.n,
            seed=args.seed,
            replicate=args.replicate,
            **sampling,
        )
        samples = _kept(drawn, args.only)
        if args.out is not None:
            write_samples(samples, args.out, catalogue_lines=args.catalogue)
        elif lines := _lines(samples, args.catalogue):  # none kept: no line, not an empty one
            print("\n".join(lines))
    except (SampleError, ValueError, OSError) as e:  # SpecError is a ValueError
        message = str(e)
        for name in sampling:  # the experiment names the setting, not the flag that gave it
            flag = (
                "--temperature"
                if name == "temperature" and args.temperature is not None
                else f"--set {name}"
            )
            message = message.replace(f"sampling.{name}:", f"{flag}:", 1)
        print(f"raygan.sample: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    footer = _summary(drawn, args.trial)
    if args.only:
        footer += f"; {len(samples)} kept by --only {args.only}"
    print(footer, file=sys.stderr)
    return EXIT_OK


class _CallableModule(ModuleType):
    """``raygan.sample(...)`` calls generate_samples while ``python -m raygan.sample`` runs
    this module: one name for the command and the function, as the docs promise."""

    def __call__(self, run_dir, **options):
        return generate_samples(run_dir, **options)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
