"""How much room augmentation has: the raw classifier against the full-data ceiling.

    python benchmarks/augment_gap.py [--minority 5 8] [--counts 2 3 5 10] [--seeds 0 1 2]

For each minority class and kept count, trains the study's fixed CNN on the raw split (the
minority cut to COUNT samples) and on the full split (the cut samples restored), over data
seeds (which samples are kept) that are also the classifier's seeds, and prints the mean
and standard deviation of balanced accuracy and minority recall of each, and the gap.
Augmentation can only show a gain where the raw score leaves room below the full one.
No generator is trained: this is the study's ``raw`` and ``full data`` baselines.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from raygan.data.digits import load_study_split
from raygan.metrics.utility import ClassifierSettings, utility_scores


def scores(x, y, split, seed: int, epochs: int) -> dict:
    return utility_scores(
        x,
        y,
        split.x_test,
        split.y_test,
        minority=split.minority,
        num_classes=split.num_classes,
        settings=ClassifierSettings(epochs=epochs, seed=seed),
    )


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f}±{spread:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minority", type=int, nargs="+", default=[5])
    ap.add_argument("--counts", type=int, nargs="+", default=[2, 3, 5, 10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=30, help="the study's classifier_epochs")
    args = ap.parse_args()

    print(f"digits 8x8, CNN {args.epochs} epochs, seeds {args.seeds} (data and classifier)")
    head = ["class", "kept", "raw bal.acc", "full bal.acc", "gap", "raw recall", "full recall"]
    print("  ".join(f"{h:>13}" for h in head), " s")
    for minority in args.minority:
        for count in args.counts:
            start = time.perf_counter()
            raw_b, full_b, raw_r, full_r, gaps = [], [], [], [], []
            for seed in args.seeds:
                split = load_study_split(
                    source="digits",
                    kind="mnist",
                    minority=minority,
                    minority_count=count,
                    seed=seed,
                )
                raw = scores(split.x_train, split.y_train, split, seed, args.epochs)
                full_x = np.concatenate([split.x_train, split.x_removed])
                full_y = np.concatenate([split.y_train, split.y_removed])
                full = scores(full_x, full_y, split, seed, args.epochs)
                raw_b.append(raw["balanced_accuracy"])
                full_b.append(full["balanced_accuracy"])
                raw_r.append(raw["minority_recall"])
                full_r.append(full["minority_recall"])
                gaps.append(full["balanced_accuracy"] - raw["balanced_accuracy"])
            cells = [str(minority), str(count), mean_std(raw_b), mean_std(full_b)]
            cells += [mean_std(gaps), mean_std(raw_r), mean_std(full_r)]
            print("  ".join(f"{c:>13}" for c in cells), f"{time.perf_counter() - start:3.0f}")


if __name__ == "__main__":
    main()
