"""A test experiment whose trials wait at a gate, so that a test can look at a study while
its trials are still running (in a dashboard) and then let them finish.

score = x and cost = x**2 + y, as in the faulty experiment. The gate is a directory: while
the file ``closed`` lies in it, every trial but the first ``free`` ones to start waits
before each step (at most ``wait_s`` seconds, so a failed test cannot hang a study); a
trial takes its place in line by creating ``ticket-<n>`` there. Timing alone would be
flaky on a loaded machine: the test decides when the trials go on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from faulty_experiment import FaultyData, FaultyExperiment

from raygan.experiments.base import build_config, setting

CLOSED = "closed"


@dataclass
class GatedConfig:
    x: float = setting(0.5, low=0.0, high=1.0)
    y: float = setting(0.0, low=0.0, high=1.0)
    steps: int = setting(2, low=1, high=1000)
    gate_dir: str = setting("", path_unless=("",), help="directory holding the gate ('': none)")
    free: int = setting(0, low=0, high=1000, help="trials that pass the gate while it is closed")
    wait_s: float = setting(120.0, low=0.0, high=600.0, help="longest wait at a closed gate")


class GatedExperiment(FaultyExperiment):
    Config = GatedConfig  # type: ignore[assignment]
    Data = FaultyData

    @classmethod
    def check(cls, config, data):
        build_config(GatedConfig, config, where="fixed")
        build_config(FaultyData, data, where="data")

    def setup(self, config, data, *, seed, device="cpu"):
        self.gated = build_config(GatedConfig, config, where="fixed")
        self.seed = seed
        self.steps_done = 0
        self.num_steps = self.gated.steps
        self.place = _take_ticket(Path(self.gated.gate_dir)) if self.gated.gate_dir else 0

    def step(self):
        cfg = self.gated
        if cfg.gate_dir and self.place >= cfg.free:
            closed = Path(cfg.gate_dir, CLOSED)
            deadline = time.monotonic() + cfg.wait_s
            while closed.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.steps_done += 1
        return {"score": cfg.x, "cost": cfg.x**2 + cfg.y}


def _take_ticket(gate: Path) -> int:
    """This trial's place in line: the first free ticket number, taken atomically (trials
    run in several processes at once)."""
    place = 0
    while True:
        try:
            os.close(os.open(gate / f"ticket-{place}", os.O_CREAT | os.O_EXCL))
            return place
        except FileExistsError:
            place += 1


def close_gate(gate: Path) -> None:
    gate.mkdir(parents=True, exist_ok=True)
    (gate / CLOSED).touch()


def open_gate(gate: Path) -> None:
    (gate / CLOSED).unlink(missing_ok=True)


def tickets(gate: Path) -> int:
    """How many trials have started."""
    return len(list(gate.glob("ticket-*")))


def study_text(gate: Path, *, num_samples: int, free: int) -> str:
    """A study of the gated experiment: two objectives (score up, cost down), two trials at
    a time, one CPU each, random sampler."""
    return f"""
description = "dashboard test study"
experiment = "gated"
seed = 11
sampler = "random"

[fixed]
steps = 2
gate_dir = {str(gate)!r}
free = {free}

[search.x]
type = "float"
low = 0.0
high = 1.0

[search.y]
type = "float"
low = 0.0
high = 1.0

[objectives]
score = "max"
cost = "min"

[budget]
num_samples = {num_samples}
max_concurrent = 2
max_failures = 0

[resources]
cpus = 1
gpus = 0
"""
