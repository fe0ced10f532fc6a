"""One HTML page per run: ``python -m raygan.report RUN_DIR [--out DIR]``.

Reads a run directory (trials.parquet, history.parquet, validation.parquet,
baselines.parquet, samples.parquet, study.toml, run.json; while a study runs, the part
files; never Ray or an experiment) and writes next to it (or into --out) report.html and
its figures: the run (run, parts, samples), the figures (figures), the samples' views
(text_samples, image_samples, sample_sections), the HTML pieces (markup), the page (page),
the command line (cli).
"""

from raygan.report.cli import main
from raygan.report.figures import Plot, plot_history, plot_param, plot_pareto
from raygan.report.page import RELOAD_S, front_table, running_banner, summary, write_report
from raygan.report.run import ReportError, Run, load_run, objective_label
from raygan.report.sample_sections import samples_sections

__all__ = [
    "RELOAD_S",
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
    "running_banner",
    "samples_sections",
    "summary",
    "write_report",
]
