"""Run a study on a fresh local Ray that serves its dashboard on a given port.

    python dashboard_study.py STUDY_FILE STORAGE NAME DASHBOARD_PORT

A process of its own: the test session's Ray runs without a dashboard, and Ray allows
one session per process. raygan's engine joins the Ray started here. Prints the study's
summary; exits as the study does (0 when it ran).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import ray

from raygan import load_spec, register_experiment
from raygan.engine import run_study

SUPPORT = Path(__file__).parent


def main(argv: list[str]) -> int:
    study_file, storage, name, port = argv
    register_experiment("gated", "gated_experiment:GatedExperiment")
    pythonpath = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=int(port),
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
    )
    try:
        out = run_study(load_spec(study_file), storage=storage, name=name, verbose=0, echo=print)
        print(out.summary)
        return 0 if out.completed else 1
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
