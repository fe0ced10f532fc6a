"""``python -m raygan.report RUN_DIR [--out DIR] [--running]``: exit 0 and the page's path, or exit 2
and one line on stderr."""

from __future__ import annotations

import argparse
import sys

from raygan.report.page import write_report
from raygan.report.run import ReportError


def main(argv: list[str] | None = None) -> int:
    """Writes report.html and the figures of the run directory in ``argv``; returns the
    exit status (2: the run directory or --out could not be used)."""
    parser = argparse.ArgumentParser(
        prog="python -m raygan.report", description="Write report.html and figures of a run."
    )
    parser.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="a run directory (trials.parquet, or parts/ while the study runs)",
    )
    parser.add_argument("--out", metavar="DIR", help="where to write (default: RUN_DIR)")
    parser.add_argument(
        "--running",
        action="store_true",
        help="the study is still running: the page says so and reloads itself",
    )
    args = parser.parse_args(argv)
    try:
        path = write_report(args.run_dir, args.out, running=args.running)
    except (ReportError, OSError) as e:  # OSError: --out not writable
        print(f"raygan.report: error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0
