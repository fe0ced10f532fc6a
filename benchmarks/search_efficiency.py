"""How fast each sampler approaches the best trade-off: hypervolume of the Pareto front
after k trials, the study's sampler vs random search vs the paper's grid over N = 1..10.

    python benchmarks/search_efficiency.py [--seeds 3] [--trials 10]

Every study is seqgan_tradeoff through the real engine (one local Ray for all), with the
same fixed settings and the same trial budget; only the search differs:
  - the study's own search: its sampler (NSGA-II) over the default profile's search
    space, starting from the study's [[start]] points,
  - "scratch": the same sampler without the start points (when the study has some),
  - random search over the same space, from scratch,
  (these three score each trial at its best round: the study's [result] round = "best")
  - the paper's grid: N = 1..10 (the paper profile, trained as long as the others),
    each trial scored at its last round as in the paper; and "grid-best", the same grid
    trials scored at their best round, as the study scores its own (read from the grid's
    history: a grid's trials do not depend on their scores, so this is exact).
Hypervolume: validity up, memorization down, reference point (0, 1); trials counted in the
order they were asked for (trial_index). Prints mean hypervolume vs trials over the seeds,
and for each seed how many trials each search needed to reach each grid's final
hypervolume (goal: at most half the grid's). Each study's line also gives its trial
compute (the sum of its trials' wall times), since a searched trial may cost more than a
grid trial.

The fixed settings are a reduced-cost version of the default profile (fewer pre-training
epochs, rounds and samples) so that 3 seeds x 4 searches x 10 trials fit in minutes on a
laptop; --fidelity default runs the default profile's own settings.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
import ray

from raygan import load_spec
from raygan.engine import run_study
from raygan.results import hypervolume
from raygan.trial import kept_round

STUDY = "seqgan_tradeoff"
REFERENCE = (0.0, 1.0)  # (validity, memorization): the worst possible trade-off
MODES = ["max", "min"]
# a trial of ~10 s on one core instead of ~60 s: what shrinks is training length and the
# evaluation sample; the model, data and objectives are the study's own
REDUCED = [
    "fixed.mle_epochs=8",
    "fixed.eval_samples=400",
    "fixed.rollouts=8",
]


def hypervolume_curve(trials: pd.DataFrame, k_max: int) -> list[float]:
    """Hypervolume of the completed trials among the first k asked for, k = 1..k_max."""
    trials = trials.sort_values("trial_index")
    done = trials.status == "completed"
    points = trials[["validity", "memorization"]].to_numpy(dtype=float)
    return [
        hypervolume(points[:k][done.to_numpy()[:k]], MODES, REFERENCE) for k in range(1, k_max + 1)
    ]


def best_round_curve(trials: pd.DataFrame, history: pd.DataFrame, spec, k_max: int) -> list[float]:
    """hypervolume_curve with each completed trial scored at its best round (the study's
    [result] rule) instead of its last, from the rounds in history."""
    trials = trials.copy()
    for i, row in trials.iterrows():
        rounds = history[history.trial_id == row.trial_id].sort_values("step")
        kept = kept_round(spec, rounds.to_dict("records"))
        if kept is not None:
            trials.loc[i, ["validity", "memorization"]] = kept["validity"], kept["memorization"]
    return hypervolume_curve(trials, k_max)


def run(search: str, seed: int, trials: int, fidelity: list[str], storage: str) -> pd.DataFrame:
    common = [*fidelity, f"seed={seed}", f"budget.num_samples={trials}", "budget.max_failures=0"]
    searched = load_spec(STUDY, overrides=common)
    if search == "grid":
        # the paper profile (N = 1..10 on a grid, its learning rates) trained as long as the
        # searched studies' trials: the same pre-training, and 5 rounds, the middle of the
        # 0..10 the others search (the paper's own 50 epochs and 20 rounds cost far more)
        mle_epochs = searched.trial_config({})["mle_epochs"]
        same_cost = [f"fixed.mle_epochs={mle_epochs}", "fixed.rounds=5"]
        spec = load_spec(STUDY, profile="paper", overrides=[*common, *same_cost])
    elif search == "random":
        spec = load_spec(STUDY, overrides=[*common, "sampler=random", "start=[]"])
    elif search == "scratch":
        spec = load_spec(STUDY, overrides=[*common, "start=[]"])
    else:  # the study's own search
        spec = searched
    name = f"{search}-{seed}"
    run_study(spec, storage=storage, name=name, verbose=0, echo=lambda s: None)
    history = pd.read_parquet(f"{storage}/{name}/history.parquet")
    return pd.read_parquet(f"{storage}/{name}/trials.parquet"), history


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=10, help="budget of every study (grid: 10)")
    ap.add_argument("--fidelity", choices=("reduced", "default"), default="reduced")
    args = ap.parse_args()
    fidelity = REDUCED if args.fidelity == "reduced" else []
    study = load_spec(STUDY)
    # "scratch" is the study's own search unless the study has start points
    searched = [study.sampler, *(["scratch"] if study.start else []), "random"]
    grids = ["grid", "grid-best"]
    samplers = [*searched, *grids]

    ray.init(address="local", include_dashboard=False, logging_level="WARNING")
    curves: dict[str, list[list[float]]] = {s: [] for s in samplers}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as storage:
        for seed in range(args.seeds):
            for sampler in [*searched, "grid"]:  # interleaved: load drift hits all alike
                t0 = time.perf_counter()
                trials, history = run(sampler, seed, args.trials, fidelity, storage)
                curves[sampler].append(hypervolume_curve(trials, args.trials))
                lines = [(sampler, curves[sampler][-1])]
                if sampler == "grid":
                    curves["grid-best"].append(
                        best_round_curve(trials, history, study, args.trials)
                    )
                    lines.append(("grid-best", curves["grid-best"][-1]))
                for name, curve in lines:
                    print(
                        f"seed {seed} {name:>9}: {len(trials)} trials in {time.perf_counter() - t0:4.0f} s "
                        f"(trial compute {trials.wall_time_s.sum():4.0f} s), hypervolume after k trials: "
                        f"{' '.join(f'{v:.3f}' for v in curve)}",
                        flush=True,
                    )
    ray.shutdown()

    print(f"\nhypervolume (validity up, memorization down, reference {REFERENCE}) after k trials,")
    print(
        f"mean over {args.seeds} seeds; fidelity {args.fidelity}; {time.perf_counter() - start:.0f} s in all"
    )
    print("   k  " + "  ".join(f"{s:>9}" for s in samplers))
    for k in range(args.trials):
        row = [np.mean([c[k] for c in curves[s]]) for s in samplers]
        print(f"  {k + 1:2d}  " + "  ".join(f"{v:9.3f}" for v in row))

    half = args.trials // 2
    for grid in grids:
        print(f"\ntrials needed to reach the {grid} final hypervolume (same seed); '-' = never")
        print("seed  final  " + "  ".join(f"{s:>8}" for s in searched))
        reached = {s: [] for s in searched}
        for i in range(args.seeds):
            target = curves[grid][i][-1]
            cells = []
            for s in searched:
                k = next((k + 1 for k, v in enumerate(curves[s][i]) if v >= target), None)
                reached[s].append(k)
                cells.append(f"{k if k else '-':>8}")
            print(f"  {i}   {target:.3f}  " + "  ".join(cells))
        for s in searched:
            ok = sum(k is not None and k <= half for k in reached[s])
            print(
                f"{s}: reached the {grid} final within {half} trials (half the grid's) "
                f"for {ok} of {args.seeds} seeds"
            )


if __name__ == "__main__":
    main()
