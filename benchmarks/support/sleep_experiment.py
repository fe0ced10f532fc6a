"""A trial that only waits: ``rounds`` rounds of ``round_s`` seconds, scores from x and y.

What the scale benchmark runs to measure the engine alone (Ray Tune's own scale run uses
one-second trials the same way): every second a trial does not spend waiting is the
engine's. score = x, cost = x**2 + y, as the test suite's faulty experiment.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from raygan.experiments.base import Experiment, build_config, setting


@dataclass
class SleepConfig:
    x: float = setting(0.5, low=0.0, high=1.0)
    y: float = setting(0.0, low=0.0, high=1.0)
    rounds: int = setting(10, low=1, high=1000)
    round_s: float = setting(0.1, low=0.0, high=60.0)


@dataclass
class SleepData:
    size: int = setting(1, low=1, high=10)


class SleepExperiment(Experiment):
    Config = SleepConfig
    Data = SleepData
    metrics = ("score", "cost")

    def setup(self, config, data, *, seed, device="cpu"):
        self.cfg = build_config(SleepConfig, config, where="fixed")
        self.steps_done = 0
        self.num_steps = self.cfg.rounds

    def step(self):
        time.sleep(self.cfg.round_s)
        self.steps_done += 1
        return {"score": self.cfg.x, "cost": self.cfg.x**2 + self.cfg.y}

    def save(self, path):
        Path(path, "sleep.json").write_text(json.dumps({"steps_done": self.steps_done}))

    def load(self, path):
        self.steps_done = json.loads(Path(path, "sleep.json").read_text())["steps_done"]


STUDY = """
description = "scale benchmark: trials that only wait"
experiment = "sleep"
seed = 0
sampler = "random"

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
num_samples = 1000
max_concurrent = 2

[resources]
cpus = 1
"""
