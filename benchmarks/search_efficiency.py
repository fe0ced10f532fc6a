"""Hypervolume against trial compute: the sampler rule (auto), NSGA-II and random search,
each with and without MO-ASHA early stopping, on seqgan_tradeoff at a reduced fidelity.

    python benchmarks/search_efficiency.py [--seeds 5] [--trials 24] [--validate 2]

Every search is the study through the real engine (one local Ray for all, 2 trials at a
time), from scratch (no start points), with the same seeds and budget; only the sampler
and the scheduler differ. Per search and seed:
  - the search's hypervolume (novel_valid_distinct up, memorization down, reference
    (0, 1)) of the trials ended so far, against their compute: the sum of their
    CPU-seconds (``cpu_time_s``, pruned trials' included), in the order they ended;
  - its final front validated: each front configuration re-trained with ``--validate``
    fresh seeds at its kept step (the seeds and rule of ``--validate-front``, run here as
    Ray tasks), and the hypervolume of the validated means;
  - for the two auto searches, the same validation of the front they had when their
    compute reached half of random search's mean total compute (the goal's point).
Prints per search the mean and a 95% t-interval over seeds at points of the compute axis,
the final validated hypervolumes, how close trials asked in parallel were to each other,
how many proposals repeated a configuration, and the goal: auto + mo-asha at half of
random's compute vs random's final validated hypervolume.

The reduced fidelity (smaller networks and evaluation sample, 4 rollouts, 1 replicate)
keeps a trial at ~4 CPU-seconds so that the default benchmark runs in under an hour on
2 cores; the search space and the objectives are the study's own.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time

import numpy as np
import optuna
import pandas as pd
import ray
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from scipy import stats

from raygan import load_spec
from raygan.engine import run_study
from raygan.results import hypervolume, pareto_mask
from raygan.trial import run_trial, validation_seeds

STUDY = "seqgan_tradeoff"
OBJECTIVES = ["novel_valid_distinct", "memorization"]
MODES = ["max", "min"]
REFERENCE = (0.0, 1.0)
REDUCED = [
    "fixed.eval_samples=200",
    "fixed.rollouts=4",
    "fixed.hidden_dim=32",
    "fixed.emb_dim=16",
    "budget.replicates=1",
    "budget.max_concurrent=2",
    "budget.max_failures=0",
    "result.validate=0",  # validated here, the same way for every search
    "start=[]",
]
SEARCHES = {
    "auto": ["sampler=auto"],
    "auto+mo-asha": ["sampler=auto", "scheduler=mo-asha"],
    "nsga2": ["sampler=nsga2"],
    "nsga2+mo-asha": ["sampler=nsga2", "scheduler=mo-asha"],
    "random": ["sampler=random"],
    "random+mo-asha": ["sampler=random", "scheduler=mo-asha"],
}


def front_hv(rows: pd.DataFrame) -> float:
    ok = rows[rows.status.isin(["completed", "pruned"])]
    return hypervolume(ok[OBJECTIVES].to_numpy(dtype=float), MODES, REFERENCE)


def compute_curve(trials: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative CPU-seconds, hypervolume) after each trial, in the order they ended."""
    trials = trials.sort_values("finished_at").reset_index(drop=True)
    compute = trials.cpu_time_s.fillna(0).cumsum().to_numpy()
    hv = np.array([front_hv(trials.iloc[: k + 1]) for k in range(len(trials))])
    return compute, hv


def at(compute: np.ndarray, hv: np.ndarray, budget: float) -> float:
    """Hypervolume once ``budget`` CPU-seconds were spent (0 before the first trial)."""
    done = np.flatnonzero(compute <= budget)
    return float(hv[done[-1]]) if len(done) else 0.0


def front_rows(trials: pd.DataFrame, budget: float | None = None) -> pd.DataFrame:
    trials = trials.sort_values("finished_at")
    if budget is not None:
        trials = trials[trials.cpu_time_s.fillna(0).cumsum() <= budget]
    ok = trials[trials.status.isin(["completed", "pruned"])]
    mask = pareto_mask(ok[OBJECTIVES].to_numpy(dtype=float), MODES)
    return ok[mask]


@ray.remote(num_cpus=1)
def _retrain(params: dict, seed: int, overrides: list[str]) -> list[float]:
    metrics = run_trial(STUDY, params, seed=seed, overrides=overrides)
    return [metrics[m] for m in OBJECTIVES]


def validated_hv(front: pd.DataFrame, spec, used: set[int], k: int, overrides: list[str]) -> float:
    """Re-train each front configuration with k fresh seeds, scored at its kept step (its
    rounds cut there, the last round scored, as a validation run does); the hypervolume
    of the configurations' means."""
    names = [p.name for p in spec.search]
    jobs = []
    for row in front.itertuples():
        params = {n: getattr(row, f"param_{n}") for n in names}
        params["rounds"] = int(row.kept_step)  # step s is after s rounds
        for seed in validation_seeds(spec.seed, int(row.trial_index), k, exclude=used):
            jobs.append((row.trial_id, _retrain.remote(params, seed, overrides)))
    means: dict[str, list] = {}
    for trial_id, ref in jobs:
        means.setdefault(trial_id, []).append(ray.get(ref))
    points = np.array([np.mean(v, axis=0) for v in means.values()]).reshape(-1, 2)
    return hypervolume(points, MODES, REFERENCE)


def parallel_distance(trials: pd.DataFrame, spec) -> list[float]:
    """For each pair of trials that ran at the same time: the largest difference of any
    searched setting, as a share of its range (0: the same configuration)."""
    spans = {p.name: (float(p.low), float(p.high)) for p in spec.search}
    out = []
    rows = trials.dropna(subset=["started_at", "finished_at"]).to_dict("records")
    for a, b in itertools.combinations(rows, 2):
        if a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]:
            d = [
                abs(a[f"param_{n}"] - b[f"param_{n}"]) / (hi - lo) for n, (lo, hi) in spans.items()
            ]
            out.append(max(d))
    return out


def repeats(run_dir: str, name: str) -> int:
    storage = JournalStorage(JournalFileBackend(f"{run_dir}/optuna.journal"))
    study = optuna.load_study(study_name=name, storage=storage)
    return sum("raygan_repeat_of" in t.user_attrs for t in study.trials)


def interval(values) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), math.nan
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean()), float(half)


def fmt(values) -> str:
    mean, half = interval(values)
    return f"{mean:.4f} ± {half:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--validate", type=int, default=2, help="fresh seeds per front configuration")
    ap.add_argument("--searches", nargs="*", default=list(SEARCHES), choices=list(SEARCHES))
    args = ap.parse_args()
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, logging_level="WARNING")
    runs: dict[str, list[dict]] = {s: [] for s in args.searches}
    with tempfile.TemporaryDirectory() as storage:
        for seed in range(args.seeds):
            for search in args.searches:  # interleaved: load drift hits every search alike
                overrides = [*REDUCED, f"seed={seed}", f"budget.num_samples={args.trials}"]
                spec = load_spec(STUDY, overrides=[*overrides, *SEARCHES[search]])
                name = f"{search.replace('+', '_')}-{seed}"
                t0 = time.perf_counter()
                run_study(spec, storage=storage, name=name, verbose=0, echo=lambda s: None)
                trials = pd.read_parquet(f"{storage}/{name}/trials.parquet")
                compute, hv = compute_curve(trials)
                used = {int(s) for s in trials.seed.dropna()}
                final = validated_hv(front_rows(trials), spec, used, args.validate, REDUCED)
                runs[search].append(
                    {
                        "trials": trials,
                        "spec": spec,
                        "used": used,
                        "compute": compute,
                        "hv": hv,
                        "validated": final,
                        "distances": parallel_distance(trials, spec),
                        "repeats": repeats(f"{storage}/{name}", name),
                        "pruned": int((trials.status == "pruned").sum()),
                    }
                )
                print(
                    f"seed {seed} {search:>15}: {len(trials)} trials "
                    f"({runs[search][-1]['pruned']} pruned) in {time.perf_counter() - t0:4.0f} s, "
                    f"compute {compute[-1]:5.0f} CPU-s, search hypervolume {hv[-1]:.4f}, "
                    f"validated {final:.4f}",
                    flush=True,
                )
        # the goal's point: half of random search's mean total compute
        half = 0.5 * np.mean([r["compute"][-1] for r in runs.get("random", [])] or [math.nan])
        for search in [s for s in ("auto", "auto+mo-asha") if s in runs]:
            for r in runs[search]:
                front = front_rows(r["trials"], half)
                r["validated_half"] = (
                    validated_hv(front, r["spec"], r["used"], args.validate, REDUCED)
                    if len(front)
                    else 0.0
                )
    ray.shutdown()

    print(
        f"\n{args.seeds} seeds x {args.trials} trials per search; mean ± 95% t-interval over "
        f"seeds; {time.perf_counter() - start:.0f} s in all"
    )
    top = max(r["compute"][-1] for rs in runs.values() for r in rs)
    grid = np.linspace(0, top, 9)[1:]
    print("\nsearch hypervolume after C CPU-seconds of trials:")
    print(f"{'C':>16} " + " ".join(f"{c:>15.0f}" for c in grid))
    for search, rs in runs.items():
        cells = [fmt([at(r["compute"], r["hv"], c) for r in rs]) for c in grid]
        print(f"{search:>16} " + " ".join(f"{c:>15}" for c in cells))
    print("\nsearch hypervolume after k trials (in the order they ended):")
    ks = sorted({4, 8, 12, 16, 20, args.trials} & set(range(1, args.trials + 1)))
    print(f"{'k':>16} " + " ".join(f"{k:>15}" for k in ks))
    for search, rs in runs.items():
        cells = [fmt([r["hv"][min(k, len(r["hv"])) - 1] for r in rs]) for k in ks]
        print(f"{search:>16} " + " ".join(f"{c:>15}" for c in cells))
    print("\nper search: total compute, final search and validated hypervolume, pruned trials,")
    print("repeated proposals, parallel pairs: median largest setting gap, share under 5%")
    for search, rs in runs.items():
        gaps = [d for r in rs for d in r["distances"]]
        close = np.mean([d < 0.05 for d in gaps]) if gaps else math.nan
        print(
            f"{search:>16}: compute {fmt([r['compute'][-1] for r in rs])} CPU-s, "
            f"search {fmt([r['hv'][-1] for r in rs])}, validated {fmt([r['validated'] for r in rs])}, "
            f"pruned {np.mean([r['pruned'] for r in rs]):.1f}, repeats "
            f"{sum(r['repeats'] for r in rs)}, parallel gap median "
            f"{np.median(gaps) if gaps else math.nan:.3f}, under 5% {close:.0%}"
        )
    if "random" in runs and "auto+mo-asha" in runs:
        target = [r["validated"] for r in runs["random"]]
        reached = [r["validated_half"] for r in runs["auto+mo-asha"]]
        (tm, th), (rm, rh) = interval(target), interval(reached)
        print(
            f"\ngoal: at half of random's compute ({half:.0f} CPU-s), auto+mo-asha's validated "
            f"front {rm:.4f} ± {rh:.4f} vs random's final validated {tm:.4f} ± {th:.4f}: "
            + (
                "met (higher, intervals apart)"
                if rm - rh > tm + th
                else "mean reached, intervals overlap"
                if rm >= tm
                else "not reached"
            )
        )
        if "auto" in runs:
            plain = [r["validated_half"] for r in runs["auto"]]
            print(f"      auto (no mo-asha) at the same compute: {fmt(plain)}")


if __name__ == "__main__":
    main()
