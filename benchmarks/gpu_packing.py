"""Trials per hour on one GPU when trials share it: fractions 1, 0.5, 0.25 and 0.125 of a
GPU per trial (1, 2, 4 and 8 trials at once), the default seqgan_tradeoff trial.

    python benchmarks/gpu_packing.py [--fractions 1,0.5,0.25,0.125] [--waves 2]

Each fraction is one study through the real engine on a local Ray that sees this
machine's GPU: ``--gpus-per-trial f`` with 1/f trials at a time and ``waves``/f trials in
all (the same number of waves of full packing for every fraction), random search over
the default profile's space with the same seed, one replicate, no validation. Trials per
hour = trials / study wall time; the ratio is against the first fraction (1 by default:
one trial per GPU).
The rows also say how many trials ran on the GPU (``device``) and their peak host memory.
Fractions run one after another in one process, alternating nothing: a GPU benchmark
wants the machine to itself.

Exits with status 1 and one line where torch sees no CUDA GPU: there is nothing to pack.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--fractions", default="1,0.5,0.25,0.125")
    ap.add_argument("--waves", type=int, default=2, help="rounds of full packing per fraction")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad:
        print(f"gpu_packing: --fractions: {bad} must be in (0, 1]", file=sys.stderr)
        return 2

    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_packing: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
            "nothing measured",
            file=sys.stderr,
        )
        return 1

    import pandas as pd
    import ray

    from raygan import load_spec
    from raygan.engine import run_study

    name = torch.cuda.get_device_name(0)
    ray.init(address="local", num_gpus=1, include_dashboard=False, logging_level="WARNING")
    rows = []
    with tempfile.TemporaryDirectory() as storage:
        for f in fractions:
            concurrent = max(1, round(1 / f))
            trials = args.waves * concurrent
            spec = load_spec(
                "seqgan_tradeoff",
                overrides=[
                    "sampler=random",
                    "start=[]",
                    f"seed={args.seed}",
                    f"budget.num_samples={trials}",
                    f"budget.max_concurrent={concurrent}",
                    "budget.replicates=1",
                    "result.validate=0",
                    "sweep={}",
                ],
            )
            run = f"gpu-{f:g}".replace(".", "_")
            t0 = time.perf_counter()
            run_study(
                spec, storage=storage, name=run, gpus_per_trial=f, verbose=0, echo=lambda s: None
            )
            wall = time.perf_counter() - t0
            table = pd.read_parquet(f"{storage}/{run}/trials.parquet")
            rows.append(
                {
                    "fraction": f,
                    "at once": concurrent,
                    "trials": len(table),
                    "on GPU": int((table.device == "cuda").sum()),
                    "wall s": wall,
                    "trials/hour": len(table) / wall * 3600,
                    "mean trial s": table.wall_time_s.mean(),
                    "peak host MiB": table.peak_rss_mb.max(),
                }
            )
            print(
                f"fraction {f:g}: {len(table)} trials, {concurrent} at once, {wall:.0f} s",
                flush=True,
            )
    ray.shutdown()
    out = pd.DataFrame(rows)
    out["vs first"] = out["trials/hour"] / out["trials/hour"].iloc[0]
    print(f"\n{name}, seqgan_tradeoff default trial, {args.waves} waves per fraction")
    print(out.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
