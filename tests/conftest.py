"""One local Ray instance for the whole test session (starting Ray costs seconds)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
ROOT = Path(__file__).parent.parent
# tests import helpers from tests/support (test modules cannot import each other); the
# driver also imports the test experiment from there to validate a study
sys.path.insert(0, str(SUPPORT))


@pytest.fixture(scope="session")
def ray_session():
    import ray

    from raygan import register_experiment

    register_experiment("faulty", "faulty_experiment:FaultyExperiment")
    pythonpath = os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)
    ray.init(
        address="local",  # never some other cluster running on this machine
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def cli_env() -> dict:
    """Environment for `python -m raygan.study` in a subprocess: the test experiment is
    importable and registered, and Ray is always a fresh local one unless --address."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT), env.get("PYTHONPATH")]))
    env["RAYGAN_EXPERIMENTS"] = "faulty=faulty_experiment:FaultyExperiment"
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="session")
def faulty_study(tmp_path_factory):
    """Write a study file for the faulty experiment (registered, so that a test may load it
    without Ray); returns its path."""
    from faulty_experiment import study_text

    from raygan import register_experiment

    register_experiment("faulty", "faulty_experiment:FaultyExperiment")

    root = tmp_path_factory.mktemp("studies")
    path = root / "faulty_study.toml"
    search = """
[search.x]
type = "float"
low = 0.0
high = 1.0

[search.y]
type = "float"
low = 0.0
high = 1.0
"""
    path.write_text(study_text(search, fixed="steps = 2"), encoding="utf-8")
    return path
