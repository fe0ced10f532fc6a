"""What the engine costs: the same trials through Ray Tune + Optuna vs a plain loop.

    python benchmarks/engine_overhead.py [--study seqgan_tradeoff] [--profile smoke] [--trials 8]
    python benchmarks/engine_overhead.py --profile default --no-plain
    python benchmarks/engine_overhead.py --trials 8 --replicates 2   # k seeds inside each trial

1. Starts a local Ray (timed on its own), then runs the study through the engine on it
   (random sampler, --trials trials).
2. Unless --no-plain: re-runs the very same trials (same params, same seeds) one after
   another in this process, with the same torch threads per trial.
Prints the wall times, the engine's efficiency (sum of in-trial compute / (wall x
concurrent slots)), with and without starting Ray, and the overhead per trial in seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd
import ray

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
    ap.add_argument("--replicates", type=int, default=1, help="seeds per trial (budget.replicates)")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain loop (long trials)")
    args = ap.parse_args()

    spec = load_spec(
        args.study,
        profile=args.profile,
        # random picks, no start points: the trials the recorded numbers were measured on
        # no validation: the search's trials only
        overrides=[
            f"budget.num_samples={args.trials}",
            f"budget.replicates={args.replicates}",
            "sampler=random",
            "start=[]",
            "result.validate=0",
        ],
    )
    slots = spec.max_concurrent
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, logging_level="WARNING")
    ray_start = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as storage:
        begin = time.perf_counter()
        run_study(spec, storage=storage, name="overhead", verbose=0, echo=lambda s: None)
        study_wall = time.perf_counter() - begin
        trials = pd.read_parquet(f"{storage}/overhead/trials.parquet")
        replicates = pd.read_parquet(f"{storage}/overhead/replicates.parquet")
    ray.shutdown()
    engine_wall = ray_start + study_wall
    in_trial = trials.wall_time_s.sum()  # step() time measured inside each trial

    print(
        f"study {spec.name}, profile {spec.profile}: {len(trials)} trials x {spec.replicates} "
        f"replicates, {slots} concurrent slots, {spec.cpus:g} CPU each; trials "
        f"{trials.wall_time_s.median():.1f} s (median)"
    )
    print(f"starting Ray                           : {ray_start:8.1f} s")
    print(f"study on that Ray (Tune + Parquet)     : {study_wall:8.1f} s")
    print(
        f"engine efficiency  sum(in-trial) / (wall x slots) = {in_trial:.1f} / ({engine_wall:.1f} x {slots}) = "
        f"{in_trial / (engine_wall * slots):.2f}  ({in_trial / (study_wall * slots):.2f} once Ray runs)"
    )
    if args.no_plain:
        return
    set_threads(spec.cpus)
    plain = []
    for _, t in trials.iterrows():
        params = {p.name: t[f"param_{p.name}"] for p in spec.search}
        params = {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}
        begin = time.perf_counter()
        for seed in replicates[replicates.trial_id == t.trial_id].seed:
            experiment = make_experiment(spec, params, seed=int(seed))
            while experiment.steps_done < experiment.num_steps:
                experiment.step()
        plain.append(time.perf_counter() - begin)
    plain_total = sum(plain)
    print(
        f"plain loop, sequential                 : {plain_total:8.1f} s  ({plain_total / slots:.1f} s if perfectly split over {slots} slots)"
    )
    print(
        f"engine overhead per trial (wall x slots - plain) / trials = "
        f"{(engine_wall * slots - plain_total) / len(trials):.2f} s"
    )


if __name__ == "__main__":
    main()
