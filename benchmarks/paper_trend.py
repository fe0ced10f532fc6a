"""The paper's trend: validity and memorization against duplication magnification N.

    python benchmarks/paper_trend.py [--profile default] [--n 1 2 5 10] [--seeds 0 1]

Runs one trial per (N, seed) in this process (no Ray): the paper's set-up at laptop cost
(N duplicates pre-training too, 20 MLE epochs, 10 rounds, no copy penalty, temperature 1,
the rest at the profile's values), and prints validity, exact copies (the paper's
"regenerated" ratio) and the other text metrics per N (mean over seeds), each trial
scored where its training ends, as in the paper (not at its best round). The paper
(DATA 2021): both rise with N; about 70% valid at N = 10, none at N = 1.
"""

from __future__ import annotations

import argparse
import statistics
import time

import raygan


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--study", default="seqgan_tradeoff")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--n", type=int, nargs="+", default=[1, 2, 5, 10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args()

    keys = ("validity", "exact_copy", "memorization", "novel_valid_distinct", "uniqueness")
    # the paper's set-up at laptop cost: N duplicates pre-training too, 20 MLE epochs, 10
    # rounds, no copy penalty, plain sampling at temperature 1
    fixed = {"mle_epochs": 20, "rounds": 10, "copy_penalty": 0.0, "temperature": 1.0, "top_p": 1.0}
    print(f"study {args.study}, profile {args.profile}, seeds {args.seeds}")
    print(f"{'N':>3} " + " ".join(f"{k:>14}" for k in keys) + f" {'s/trial':>8}")
    for n in args.n:
        rows, start = [], time.perf_counter()
        for seed in args.seeds:
            rows.append(
                raygan.run_trial(
                    args.study,
                    {"duplication": n, **fixed},
                    profile=args.profile,
                    seed=seed,
                    overrides=["result.round=last", "fixed.mle_duplicate=true"],
                )
            )
        per = (time.perf_counter() - start) / len(args.seeds)
        cells = []
        for k in keys:
            values = [r[k] for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):7.3f}±{spread:5.3f} ")
        print(f"{n:>3} " + " ".join(f"{c:>14}" for c in cells) + f" {per:8.1f}", flush=True)


if __name__ == "__main__":
    main()
