"""What a trial may take from the cluster, and how the driver takes a signal."""

from __future__ import annotations

import math
import os
import signal
import threading

import ray

from raygan.engine.errors import StudyError
from raygan.engine.tune_output import tune_console
from raygan.spec import StudySpec


def _cluster_limits() -> tuple[float, float, float]:
    """(total GPUs, most CPUs on one node, most GPUs on one node) of the alive nodes."""
    cpu = gpu = total_gpu = 0.0
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        cpu = max(cpu, res.get("CPU", 0.0))
        gpu = max(gpu, res.get("GPU", 0.0))
        total_gpu += res.get("GPU", 0.0)
    return total_gpu, cpu, gpu


def resources(spec: StudySpec, *, cpus_per_trial: float | None, gpus_per_trial: float | None):
    total_gpu, node_cpu, node_gpu = _cluster_limits()
    cpus = spec.cpus if cpus_per_trial is None else cpus_per_trial
    if not (cpus > 0 and math.isfinite(cpus)):
        raise StudyError(f"--cpus-per-trial: {cpus} must be a number > 0")
    if cpus > node_cpu:
        raise StudyError(
            f"--cpus-per-trial / resources.cpus: {cpus:g} CPUs per trial, but the largest node has {node_cpu:g}"
        )
    if gpus_per_trial is not None:  # asked for explicitly: GPUs must exist
        if gpus_per_trial > node_gpu:
            raise StudyError(
                f"--gpus-per-trial: {gpus_per_trial:g} GPU per trial, but the largest node has {node_gpu:g} GPUs"
            )
        gpus = gpus_per_trial
    else:  # the study's fraction applies where the cluster has GPUs
        gpus = spec.gpus if total_gpu > 0 and spec.gpus <= node_gpu else 0.0
    return float(cpus), float(gpus)


def terminate_as_interrupt(signum, frame) -> None:
    """SIGTERM (a job scheduler, `ray job stop`) stops a study the way Ctrl-C does: through
    whatever handles SIGINT now (Tune's graceful stop while trials run). Ray's own driver
    handler would exit at once, leaving the interrupted trials' last rounds unsaved."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _second_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # what a second Ctrl-C does once Tune has let go


def fit_noting_interrupt(tuner, *, quiet: bool):
    """tuner.fit(), and whether a SIGINT (Ctrl-C) stopped it: None where that cannot be told.
    ``quiet``: Tune prints nothing of its own (``tune_console``).

    Tune returns normally after a Ctrl-C, marking the trials it stopped as terminated in
    memory. But for the run it installs its own SIGINT handler, which on firing puts back
    the handler it found: if ours is back afterwards, Tune's fired. Either way the
    handler from before the run is restored.
    """
    in_main = threading.current_thread() is threading.main_thread()
    with tune_console(quiet=quiet):
        if not in_main or os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0") != "0":
            return tuner.fit(), None
        before = signal.signal(signal.SIGINT, _second_interrupt)
        try:
            results = tuner.fit()
            return results, signal.getsignal(signal.SIGINT) is _second_interrupt
        finally:
            signal.signal(signal.SIGINT, before)
