"""What the engine costs: the same trials through Ray Tune + Optuna vs a plain loop.

    python benchmarks/engine_overhead.py [--study seqgan_tradeoff] [--profile smoke] [--trials 8]

1. Runs the study through the engine on a local Ray (random sampler, --trials trials).
2. Re-runs the very same trials (same params, same seeds) one after another in this
   process, with the same torch threads per trial.
Prints both wall times, the engine's efficiency (sum of in-trial compute / (wall x
concurrent slots)), and the engine's overhead per trial in seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from raygan import load_spec
from raygan.engine import run_study
from raygan.trial import make_experiment, set_threads


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--study", default="seqgan_tradeoff")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--trials", type=int, default=8)
    args = ap.parse_args()

    spec = load_spec(
        args.study,
        profile=args.profile,
        overrides=[f"budget.num_samples={args.trials}", "sampler=random"],
    )
    slots = spec.max_concurrent
    with tempfile.TemporaryDirectory() as storage:
        start = time.perf_counter()
        run_study(spec, storage=storage, name="overhead", verbose=0, echo=lambda s: None)
        engine_wall = time.perf_counter() - start
        trials = pd.read_parquet(f"{storage}/overhead/trials.parquet")
    in_trial = trials.wall_time_s.sum()  # step() time measured inside each trial

    set_threads(spec.cpus)
    plain = []
    for _, t in trials.iterrows():
        params = {p.name: t[f"param_{p.name}"] for p in spec.search}
        params = {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}
        begin = time.perf_counter()
        experiment = make_experiment(spec, params, seed=int(t.seed))
        while experiment.steps_done < experiment.num_steps:
            experiment.step()
        plain.append(time.perf_counter() - begin)
    plain_total = sum(plain)

    print(
        f"study {spec.name}, profile {spec.profile}: {len(trials)} trials, {slots} concurrent slots, "
        f"{spec.cpus:g} CPU each"
    )
    print(f"engine wall (ray.init + Tune + Parquet): {engine_wall:8.1f} s")
    print(
        f"plain loop, sequential               : {plain_total:8.1f} s  ({plain_total / slots:.1f} s if perfectly split over {slots} slots)"
    )
    print(
        f"engine efficiency  sum(in-trial) / (wall x slots) = {in_trial:.1f} / ({engine_wall:.1f} x {slots}) = "
        f"{in_trial / (engine_wall * slots):.2f}"
    )
    print(
        f"engine overhead per trial (wall x slots - plain) / trials = "
        f"{(engine_wall * slots - plain_total) / len(trials):.2f} s"
    )


if __name__ == "__main__":
    main()
