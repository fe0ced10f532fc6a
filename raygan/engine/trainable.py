"""The trainable: one configuration trained on a Ray worker, replicate by replicate.

Each report Tune receives is one round, aggregated over the replicates (means and
``<metric>_std``), with each replicate's own metrics under REPLICATES; each report
carries a checkpoint holding every replicate's state, so a trial resumes mid-way.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import ray
from ray import tune

from raygan.engine.samples import write_samples
from raygan.engine.sweep import write_sweep
from raygan.engine.validation import CASE
from raygan.experiments import register_experiment
from raygan.experiments.base import TrialDiverged
from raygan.results import RunStore
from raygan.spec import StudySpec
from raygan.trial import (
    aggregate_replicates,
    check_finite,
    make_experiment,
    replaces_kept,
    round_score,
    set_threads,
)

DIVERGED_MARKER = "diverged.txt"
# In a study that keeps each trial's best round: the round's score (Tune keeps the best
# round's checkpoint by it), and the flag of the report that restates the kept round.
KEPT_SCORE = "kept_score"
KEPT = "kept"
# Each replicate's own metrics of a round, in every report ({"0": metrics, "1": ...}), and
# those of the round kept so far (what a trial cut short by the time budget records).
REPLICATES = "replicates"
KEPT_REPLICATES = "kept_replicates"
# The objectives of the round kept so far, in every report ("kept/<objective key>"): what a
# trial stands for if a scheduler stops it now, which mo-asha ranks and Optuna is told.
KEPT_VALUES = "kept/"


def raygan_trial(
    config: dict,
    *,
    spec: StudySpec,
    experiment_path: str,
    cpus: float,
    gpus: float,
    run: str,
    location: str,
) -> None:
    """One configuration, trained once per replicate seed (``_seeds``), the replicates
    stepped round by round in this process: each report is one round, aggregated over the
    replicates (means, ``<metric>_std``), with each replicate's own metrics under
    REPLICATES. ``_stop_step`` (validation runs) ends training after that step. ``run``,
    ``location``: the run's name and directory, where the kept round's samples go."""
    # Ray's per-checkpoint INFO lines would drown the progress table.
    logging.getLogger("ray.train").setLevel(logging.WARNING)
    config = config.get(CASE, config)  # a validation run's whole config is one grid value
    index, seed = int(config["_index"]), int(config["_seed"])
    seeds = [int(s) for s in config.get("_seeds", [seed])]
    params = {k: v for k, v in config.items() if not k.startswith("_")}
    set_threads(cpus)  # Ray's OMP_NUM_THREADS is not reliable for reused workers
    device = _device(gpus)
    node = ray.util.get_node_ip_address()
    node_id = ray.get_runtime_context().get_node_id()
    started_at = time.time()

    # A diverged trial diverges again when retried from its checkpoint: fail at once.
    marker = Path(tune.get_context().get_trial_dir()) / DIVERGED_MARKER
    if marker.exists():
        raise TrialDiverged(marker.read_text())

    register_experiment(spec.experiment, experiment_path)  # on the driver, maybe not here
    replicates = [make_experiment(spec, params, seed=s, device=device) for s in seeds]
    num_steps = replicates[0].num_steps
    stop_step = config.get("_stop_step")
    if stop_step is not None:  # the step scored is the last one trained, whatever the study
        spec = replace(spec, result_round="last")
        num_steps = min(num_steps, int(stop_step) + 1)
    elapsed_before, cpu_before, last, kept = _restore(replicates)
    identity, samples_key = _sample_identity(config, spec=spec, run=run)
    store = RunStore.at(location)
    steps_done = replicates[0].steps_done
    if steps_done >= num_steps and last is not None:
        # Finished after Tune's last snapshot: say so again rather than train again.
        tune.report(kept_result(last, kept))
        return
    start, cpu_start = time.perf_counter(), time.process_time()
    while steps_done < num_steps:
        step = steps_done
        rounds = []
        for experiment in replicates:
            try:
                metrics = experiment.step()
                check_finite(metrics, step=step)
            except TrialDiverged as e:
                # one replicate diverging fails the configuration: its mean would be a lie
                marker.write_text(str(e))
                raise
            rounds.append(metrics)
        steps_done = step + 1
        metrics = aggregate_replicates(rounds)
        for o in spec.objectives:
            metrics[spec.objective_key(o)] = spec.objective_value(o, metrics)
        # what the trial restates if it keeps this round; replicates keyed "0", "1", ...:
        # TensorBoard then draws each replicate's own curves (a list it cannot log)
        own = {str(r): m for r, m in enumerate(rounds)}
        this_round = {**metrics, "step": step, REPLICATES: own}
        if spec.result_round == "best":
            # Tune keeps this round's checkpoint (next to the latest) while it is the best
            this_round[KEPT_SCORE] = round_score(spec, metrics)
        if kept is None or replaces_kept(spec, metrics, kept):
            kept = this_round
            write_samples(store, replicates, identity=identity, key=samples_key, step=step)
            at_end = spec.result_round == "best" or steps_done == num_steps
            if at_end and stop_step is None:  # validation runs re-train; they sweep nothing
                metric_names = list(replicates[0].metrics)
                write_sweep(
                    store,
                    spec,
                    replicates,
                    metric_names=metric_names,
                    identity=identity,
                    key=samples_key,
                    step=step,
                )
        result = {
            **this_round,
            KEPT_REPLICATES: json.dumps(kept[REPLICATES]),  # text: TensorBoard skips it
            **{KEPT_VALUES + key: kept[key] for key in map(spec.objective_key, spec.objectives)},
            "steps_done": steps_done,
            "num_steps": num_steps,
            "trial_time_s": elapsed_before + time.perf_counter() - start,
            # what a trial costs: the process's CPU time, every thread (wall time on a
            # shared machine also counts the waits for a core)
            "trial_cpu_s": cpu_before + time.process_time() - cpu_start,
            "trial_index": index,
            "seed": seed,
            "node": node,
            "node_id": node_id,
            "device": device,
            "started_at": started_at,
            "reported_at": time.time(),
            "peak_rss_mb": _peak_rss_mb(),
        }
        _report_with_checkpoint(replicates, result, kept)
        last = result
    if last is None:  # no step to take: nothing to report
        return
    final = kept_result(last, kept)
    if final is not last:
        tune.report(final)  # no checkpoint: the latest one already holds the whole trial


def _sample_identity(config: dict, *, spec: StudySpec, run: str) -> tuple[dict, str]:
    """Whose samples these are, and the part file's key: a search trial's own, or the
    front configuration a validation run re-trains (``_validates``) and its run number."""
    trial_id = tune.get_context().get_trial_id()
    validates, validation_run = config.get("_validates"), config.get("_validation_run")
    identity = {
        "study": spec.name,
        "run": run,
        "trial_id": validates or trial_id,
        "trial_index": int(config["_index"]),
        "validation_run": validation_run,
    }
    key = trial_id if validates is None else f"{validates}-v{validation_run}"
    return identity, key


def _device(gpus: float) -> str:
    """'cuda' where this worker was given a real GPU, else 'cpu'."""
    if gpus <= 0 or not ray.get_gpu_ids():
        return "cpu"
    import torch

    # Logical GPUs (a test cluster) or a CPU-only torch on a GPU node: stay on CPU, and
    # the row's device column says so.
    if not torch.cuda.is_available():
        return "cpu"
    # Ray only sets CUDA_VISIBLE_DEVICES for fractions: keep to our share of memory.
    torch.cuda.set_per_process_memory_fraction(min(1.0, gpus))
    return "cuda"


def _restore(replicates: list) -> tuple[float, float, dict | None, dict | None]:
    """(seconds trained before, CPU-seconds before, last report, kept round) from Tune's
    checkpoint, if any, after loading each replicate's state from it."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return 0.0, 0.0, None, None
    with checkpoint.as_directory() as path:
        for r, experiment in enumerate(replicates):
            experiment.load(_replicate_dir(path, r, len(replicates)))
        saved = json.loads((Path(path) / "raygan.json").read_text())
    return saved["trial_time_s"], saved.get("trial_cpu_s", 0.0), saved["last"], saved.get("kept")


def _report_with_checkpoint(replicates: list, result: dict, kept: dict | None) -> None:
    with tempfile.TemporaryDirectory() as path:
        for r, experiment in enumerate(replicates):
            experiment.save(_replicate_dir(path, r, len(replicates), create=True))
        state = {
            "trial_time_s": result["trial_time_s"],
            "trial_cpu_s": result["trial_cpu_s"],
            "last": result,
            "kept": kept,
        }
        (Path(path) / "raygan.json").write_text(json.dumps(state))
        tune.report(result, checkpoint=tune.Checkpoint.from_directory(path))


def _replicate_dir(path: str, replicate: int, replicates: int, *, create: bool = False) -> str:
    """Where one replicate's state lies in a checkpoint: the checkpoint itself when there
    is one replicate (the layout of a study without replicates), else replicate-<r>/."""
    if replicates == 1:
        return str(path)
    folder = Path(path) / f"replicate-{replicate}"
    if create:
        folder.mkdir()
    return str(folder)


def kept_result(last: dict, kept: dict | None) -> dict:
    """The report that stands for a finished trial in Tune (progress table, searcher, the
    row): the last one, or where the study keeps another round, the last one with that
    round's own part (its metrics and step) over it, marked KEPT so history skips it."""
    if kept is None or kept["step"] == last["step"]:
        return last
    return {**last, **kept, KEPT: True}


def checkpoint_config(spec: StudySpec) -> tune.CheckpointConfig:
    # Tune always keeps the latest checkpoint (what a resume needs); a study that keeps
    # each trial's best round also keeps that round's, so its model can be loaded.
    if spec.result_round == "best":
        return tune.CheckpointConfig(
            num_to_keep=1, checkpoint_score_attribute=KEPT_SCORE, checkpoint_score_order="max"
        )
    return tune.CheckpointConfig(num_to_keep=1)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB. A reused worker runs several
    trials: the peak is over all of them, which is what sizing a node needs."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB
