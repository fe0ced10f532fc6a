"""What sweeping the sampling temperature buys at equal training compute.

    python benchmarks/sweep_value.py [--seeds 3] [--trials 12]

Two searches of seqgan_tradeoff per seed, through the real engine, same sampler, seed,
trial budget and (reduced) fidelity, one replicate per configuration:
  - "searched": temperature is one more searched setting (0.6..1.5), each trial one model
    sampled at its own temperature (the study as it was before [sweep]);
  - "swept": temperature is not searched; each trial's model is evaluated at the study's
    [sweep] temperatures (0.7, 1.0, 1.3) after training.
Both train the same number of models of the same cost. Hypervolume (novel_valid_distinct
up, memorization down, reference (0, 1)) of each search's final front: "searched" over
its trials, "swept" over its (trial, temperature) pairs, and "swept @1.0", the same
swept models seen at temperature 1.0 only (what they give without the sweep). Each
line gives the search's trial compute (the sum of its trials' wall times, the sweep's
evaluations included): the two searches train as many models, but not the same ones, so
their compute differs by what their sampler proposed (rounds, pre-training epochs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
import ray

from raygan import load_spec
from raygan.engine import run_study
from raygan.results import hypervolume

STUDY = "seqgan_tradeoff"
REFERENCE = (0.0, 1.0)
MODES = ["max", "min"]
OBJECTIVES = ["novel_valid_distinct", "memorization"]
# a trial of ~10 s on one core: shorter pre-training and adversarial training, fewer
# samples and rollouts; the model, data and objectives are the study's own
REDUCED = [
    "search.mle_epochs.low=4",
    "search.mle_epochs.high=10",
    "search.rounds.high=4",
    "fixed.eval_samples=400",
    "fixed.rollouts=8",
]
COMMON = ["budget.replicates=1", "result.validate=0", "budget.max_failures=0"]
SEARCHED = ["sweep={}", 'search.temperature={type = "float", low = 0.6, high = 1.5}']


def front_hypervolume(points: pd.DataFrame) -> float:
    return hypervolume(points[OBJECTIVES].to_numpy(dtype=float), MODES, REFERENCE)


def run(arm: str, seed: int, trials: int, storage: str) -> dict:
    overrides = [*REDUCED, *COMMON, f"seed={seed}", f"budget.num_samples={trials}"]
    spec = load_spec(STUDY, overrides=overrides + (SEARCHED if arm == "searched" else []))
    name = f"{arm}-{seed}"
    start = time.perf_counter()
    run_study(spec, storage=storage, name=name, verbose=0, echo=lambda s: None)
    wall = time.perf_counter() - start
    trials_df = pd.read_parquet(f"{storage}/{name}/trials.parquet")
    done = trials_df[trials_df.status == "completed"]
    out = {"wall": wall, "compute": float(trials_df.wall_time_s.sum()), "n": len(done)}
    if arm == "searched":
        out["hv"] = front_hypervolume(done)
        return out
    sweep = pd.read_parquet(f"{storage}/{name}/sweep.parquet")
    out["hv"] = front_hypervolume(sweep)
    out["hv_at_1"] = front_hypervolume(sweep[sweep.sweep_temperature == 1.0])
    out["front_temperatures"] = sorted(sweep[sweep.pareto].sweep_temperature.tolist())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=12)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    ray.init(address="local", include_dashboard=False, logging_level="WARNING")
    results: dict[str, list[dict]] = {"searched": [], "swept": []}
    with tempfile.TemporaryDirectory() as storage:
        for seed in range(args.seeds):
            for arm in ("searched", "swept"):  # interleaved: load drift hits both alike
                r = run(arm, seed, args.trials, storage)
                results[arm].append(r)
                extra = (
                    f", at temperature 1.0 only {r['hv_at_1']:.3f}; front temperatures "
                    f"{r['front_temperatures']}"
                    if arm == "swept"
                    else ""
                )
                print(
                    f"seed {seed} {arm:>8}: {r['n']} trials, wall {r['wall']:.0f} s, trial "
                    f"compute {r['compute']:.0f} s, hypervolume {r['hv']:.3f}{extra}",
                    flush=True,
                )
    ray.shutdown()

    def stat(values: list[float]) -> str:
        a = np.asarray(values, dtype=float)
        return f"{a.mean():.3f} ± {a.std(ddof=1) if len(a) > 1 else 0:.3f}"

    searched, swept = results["searched"], results["swept"]
    print(f"\nover {args.seeds} seeds, {args.trials} trials each (mean ± std):")
    print(f"  searched temperature:  hypervolume {stat([r['hv'] for r in searched])}")
    print(f"  swept (3 temperatures): hypervolume {stat([r['hv'] for r in swept])}")
    print(f"  swept, at 1.0 only:     hypervolume {stat([r['hv_at_1'] for r in swept])}")
    gain = [b["hv"] - a["hv"] for a, b in zip(searched, swept, strict=True)]
    print(f"  swept - searched, per seed: {' '.join(f'{g:+.3f}' for g in gain)}")
    ratio = [b["compute"] / a["compute"] for a, b in zip(searched, swept, strict=True)]
    print(f"  trial compute swept / searched, per seed: {' '.join(f'{x:.2f}' for x in ratio)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
