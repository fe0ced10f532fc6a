"""Trials per hour on one node: raygan's torch-thread setting vs torch's defaults.

    python benchmarks/throughput.py [--sizes smoke,default] [--concurrency 1,2,4]

N trial processes run side by side on this machine, as N concurrent trials of a study do
on one node. Each runs the same seqgan_tradeoff trial (fixed parameters and seed):
  - raygan: torch threads = the trial's CPUs = max(1, cores // N), what the engine sets;
  - torch defaults: threads left alone (one per core in every process: oversubscribed
    as soon as N > 1).
The processes start, import torch and load the data first, then all begin at once; the
clock covers the trials only. Modes alternate at every N so that drift in machine load
hits both. Prints trials per hour for each and the ratio raygan / defaults.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

STUDY = "seqgan_tradeoff"
SIZES = {
    # profile, parameters, trials per process
    "smoke": ("smoke", {"duplication": 2, "rounds": 2}, 4),
    "default": ("default", {"duplication": 5, "rounds": 1}, 1),
}


def worker(profile, params, repeats, threads, barrier, out) -> None:
    import torch

    from raygan import load_spec
    from raygan.trial import make_experiment

    if threads:
        torch.set_num_threads(threads)
    spec = load_spec(STUDY, profile=profile)
    make_experiment(spec, params, seed=0)  # warm: data parsed and cached, kernels loaded
    barrier.wait()
    for i in range(repeats):
        experiment = make_experiment(spec, params, seed=i)
        while experiment.steps_done < experiment.num_steps:
            experiment.step()
    out.put((time.time(), torch.get_num_threads()))


def measure(size: str, n: int, threads: int | None, repeats: int | None) -> tuple[float, int]:
    """Trials per hour of n processes side by side; threads None = torch's default."""
    profile, params, default_repeats = SIZES[size]
    repeats = repeats or default_repeats
    ctx = mp.get_context("spawn")  # a fresh interpreter each, like a Ray worker
    barrier, out = ctx.Barrier(n + 1), ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(profile, params, repeats, threads, barrier, out))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.time()
    ends = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = max(end for end, _ in ends) - start
    return n * repeats / wall * 3600, ends[0][1]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="smoke,default")
    ap.add_argument("--concurrency", default="1,2,4", help="N: trials side by side")
    ap.add_argument("--repeats", type=int, help="trials per process (default: per size)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; one process per concurrent trial; trials per hour (higher is better)")
    print(
        f"{'size':>8} {'N':>3} {'cpus/trial':>10} {'raygan':>16} {'torch defaults':>18} {'ratio':>6}"
    )
    for size in args.sizes.split(","):
        for n in (int(x) for x in args.concurrency.split(",")):
            ours_threads = max(1, cores // n)
            ours, t_ours = measure(size, n, ours_threads, args.repeats)
            theirs, t_theirs = measure(size, n, None, args.repeats)
            print(
                f"{size:>8} {n:3d} {cores / n:10.2g} {ours:9.0f} ({t_ours} thr) "
                f"{theirs:11.0f} ({t_theirs} thr) {ours / theirs:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
