"""Each trial's samples, written where its rows are, from the worker that made them.

The samples of the round that stands for a trial (its kept round) are written as a part
file whenever that round changes, so a trial cut short or resumed keeps the samples of
the round its row holds. Workers write to the run directory directly, as Tune's own
checkpoints do: a multi-node run needs storage every node reaches (docs/cluster.md).
"""

from __future__ import annotations

from raygan.experiments.base import Experiment
from raygan.results import SAMPLE_CAP, RunStore, sample_schema


def sample_rows(experiment: Experiment, *, identity: dict, replicate: int, step: int) -> list[dict]:
    """The judged samples of ``experiment``'s last step, capped (SAMPLE_CAP), as rows."""
    samples = experiment.samples()
    if not samples:
        return []
    cap = SAMPLE_CAP[samples[0]["kind"]]
    return [
        {**identity, "replicate": replicate, "step": step, "sample_index": i, **sample}
        for i, sample in enumerate(samples[:cap])
    ]


def write_samples(
    store: RunStore, replicates: list[Experiment], *, identity: dict, key: str, step: int
) -> None:
    """One part file of every replicate's samples at ``step``; nothing for a family
    without samples. ``identity``: study, run, trial_id, trial_index, validation_run."""
    rows = [
        row
        for r, experiment in enumerate(replicates)
        for row in sample_rows(experiment, identity=identity, replicate=r, step=step)
    ]
    if rows:
        store.write_part("samples", identity["trial_id"], rows, sample_schema(), key=key)
