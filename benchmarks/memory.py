"""Memory over a long study: the driver's resident memory as trials finish, and the peak
memory of each trial worker.

    python benchmarks/memory.py [--trials 200] [--study seqgan_tradeoff] [--profile smoke]
    python benchmarks/memory.py --compare     # also as Tune keeps it, side by side
    python benchmarks/memory.py --compare --set search.rounds.low=8 --set search.rounds.high=8

Runs the study through the engine in this process (this process is the driver), on a
local Ray with 2 concurrent trials. After every finished trial it reads this process's
resident memory (/proc/self/status, Linux). Prints the driver's memory at a few points,
its growth per 100 trials once warm (from the first quarter of the trials to the last),
and the workers' peak memory from the `peak_rss_mb` column of trials.parquet.

--compare runs the study twice, each in a fresh process with its own Ray: first with
raygan's trimming of Tune's per-trial state switched off (what a plain Tune run keeps:
running statistics, windowed means, Ray's log_once keys, glibc's freed heap, every
finished trial in Tune's controller and snapshot), then as shipped.
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import ray

from raygan import load_spec
from raygan.engine import compat, run_study

# the two modes --compare runs: raygan's trimming of Tune's per-trial state off, then on
KEPT, SHIPPED = "as Tune keeps it", "as shipped"


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--study", default="seqgan_tradeoff")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="as in raygan.study"
    )
    ap.add_argument("--compare", action="store_true", help="also as Tune keeps it")
    ap.add_argument("--as-tune-keeps-it", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.compare:  # one fresh process per mode: a second study in the same process
        growth = {}  # would start in a heap the first one grew and freed
        for mode in (KEPT, SHIPPED):
            argv = [sys.executable, __file__, "--study", args.study, "--profile", args.profile]
            argv += ["--trials", str(args.trials)] + [f"--set={item}" for item in args.set]
            argv += ["--as-tune-keeps-it"] if mode == KEPT else []
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            print(out, end="")
            found = re.search(r"once warm: ([-+0-9.]+) MiB", out)
            if found is None:
                sys.exit(f"no 'once warm' growth in the {mode} run's output")
            growth[mode] = float(found.group(1))
        kept, shipped = growth[KEPT], growth[SHIPPED]
        print(
            f"\ndriver growth per 100 trials: {kept:+.1f} MiB {KEPT} vs "
            f"{shipped:+.1f} MiB {SHIPPED} ({kept / max(shipped, 0.1):.1f}x)"
        )
        return

    spec = load_spec(
        args.study,
        profile=args.profile,
        overrides=[
            f"budget.num_samples={args.trials}",
            "sampler=random",
            "budget.max_concurrent=2",
            *args.set,
        ],
    )
    mode = SHIPPED
    if args.as_tune_keeps_it:
        mode = KEPT
        for name in ("skip_windowed_means", "release_finished_trial"):
            setattr(compat, name, lambda trial: None)
        compat.forget_encoded_objects = lambda: None
        compat.drop_finished_trials = lambda tune_controller, trial_ids: set()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    measure(spec, mode)
    ray.shutdown()


def measure(spec, mode: str) -> None:
    before = rss_mb()
    samples: list[float] = []

    def echo(line: str) -> None:  # called once per finished trial, on the driver
        if line.startswith("[raygan] trial "):
            samples.append(rss_mb())

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as storage:
        run_study(spec, storage=storage, name="memory", verbose=0, echo=echo)
        after = rss_mb()
        trials = pd.read_parquet(f"{storage}/memory/trials.parquet")
    wall = time.perf_counter() - start

    n = len(samples)
    print(
        f"\n[{mode}] study {spec.name}, profile {spec.profile}: {n} trials "
        f"({(trials.status == 'completed').sum()} completed) in {wall:.0f} s, 2 concurrent"
    )
    print(f"driver resident memory (MiB): at the start {before:.0f}")
    for k in sorted({1, n // 4, n // 2, 3 * n // 4, n} - {0}):
        print(f"  after trial {k:4d}: {samples[k - 1]:7.0f}")
    print(f"  after the final tables and report: {after:.0f}")
    q = max(1, n // 4)
    growth = (np.mean(samples[-q:]) - np.mean(samples[:q])) / max(1, n - q) * 100
    print(f"driver growth once warm: {growth:+.1f} MiB per 100 trials")
    peak = trials.peak_rss_mb
    print(
        f"trial workers' peak resident memory (MiB): median {peak.median():.0f}, "
        f"max {peak.max():.0f} over {peak.count()} trials"
    )


if __name__ == "__main__":
    main()
