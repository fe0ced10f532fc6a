"""One HTML page per run: ``python -m raygan.report RUN_DIR [--out DIR]``.

Reads a finished run directory (trials.parquet, history.parquet, validation.parquet,
baselines.parquet, study.toml, run.json; never Ray or an experiment) and writes next to
it (or into --out) report.html and its figures: the run (run), the figures (figures), the
page (page), the command line (cli).
"""

from raygan.report.cli import main
from raygan.report.figures import Plot, plot_history, plot_param, plot_pareto
from raygan.report.page import front_table, summary, write_report
from raygan.report.run import ReportError, Run, load_run, objective_label

__all__ = [
    "Plot",
    "ReportError",
    "Run",
    "front_table",
    "load_run",
    "main",
    "objective_label",
    "plot_history",
    "plot_param",
    "plot_pareto",
    "summary",
    "write_report",
]
