"""The trainable: one configuration trained on a Ray worker, replicate by replicate.

Each report Tune receives is one round, aggregated over the replicates (means and
``<metric>_std``), with each replicate's own metrics under REPLICATES. Some reports carry a
checkpoint (``checkpoint_due``): every replicate's state, and the kept round's state where
that is an earlier round, so a trial resumes mid-way and its kept model can be loaded.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.fs as pafs
import ray
from ray import tune

from raygan.engine import compat
from raygan.engine.samples import write_samples
from raygan.engine.sweep import write_sweep
from raygan.engine.validation import CASE
from raygan.experiments import register_experiment
from raygan.experiments.base import TrialDiverged
from raygan.results import RunStore
from raygan.spec import StudySpec
from raygan.trial import (
    KEPT_STATE,
    aggregate_replicates,
    check_finite,
    make_experiment,
    replaces_kept,
    set_threads,
)

DIVERGED_MARKER = "diverged.txt"
# The flag of the report that restates the kept round (history skips it).
KEPT = "kept"
# Each replicate's own metrics of a round, in every report ({"0": metrics, "1": ...}), and
# those of the round kept so far (what a trial cut short by the time budget records).
REPLICATES = "replicates"
KEPT_REPLICATES = "kept_replicates"
# The objectives of the round kept so far, in every report ("kept/<objective key>"): what a
# trial stands for if a scheduler stops it now, which mo-asha ranks and Optuna is told.
KEPT_VALUES = "kept/"

# At import, which on a worker is the trial actor's creation, not at the trial's start:
# Tune also stops actors it started and then dropped before they ran a trial.
compat.quiet_worker_sigterm()


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
    # the kept round's state, while it is an earlier round than the latest ("best" only)
    kept_state = tempfile.TemporaryDirectory(prefix="raygan-kept-")
    try:
        elapsed_before, cpu_before, last, kept = _restore(
            replicates, kept_state.name, keeps_best=spec.result_round != "last"
        )
        identity, samples_key = _sample_identity(config, spec=spec, run=run)
        store = RunStore.at(location)
        steps_done = replicates[0].steps_done
        if steps_done >= num_steps and last is not None:
            # Finished after Tune's last snapshot: say so again rather than train again.
            tune.report(kept_result(last, kept))
            return
        rungs = set(spec.rungs.milestones(num_steps)) if spec.rungs is not None else set()
        every_s = spec.checkpoint_every_s
        start, cpu_start = time.perf_counter(), time.process_time()
        checkpointed_at = start
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
            # the objectives first: Tune's progress table shows a result's first four metrics
            objectives = {
                spec.objective_key(o): spec.objective_value(o, metrics) for o in spec.objectives
            }
            metrics = {**objectives, **{k: v for k, v in metrics.items() if k not in objectives}}
            # what the trial restates if it keeps this round; replicates keyed "0", "1", ...:
            # TensorBoard then draws each replicate's own curves (a list it cannot log)
            own = {str(r): m for r, m in enumerate(rounds)}
            this_round = {**metrics, "step": step, REPLICATES: own}
            if kept is None or replaces_kept(spec, metrics, kept):
                kept = this_round
                if spec.result_round != "last":  # a later checkpoint may need this state
                    _save_states(replicates, kept_state.name)
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
                **{
                    KEPT_VALUES + key: kept[key] for key in map(spec.objective_key, spec.objectives)
                },
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
            now = time.perf_counter()
            since_s = now - checkpointed_at
            if checkpoint_due(steps_done, num_steps, rungs=rungs, since_s=since_s, every_s=every_s):
                _report_with_checkpoint(replicates, result, kept, kept_state=kept_state.name)
                checkpointed_at = now
            else:
                tune.report(result)
            last = result
        if last is None:  # no step to take: nothing to report
            return
        final = kept_result(last, kept)
        if final is not last:
            tune.report(final)  # no checkpoint: the latest one already holds the whole trial
    finally:
        kept_state.cleanup()  # the trial's own; gone with it, not when collected


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


def checkpoint_due(
    steps_done: int, num_steps: int, *, rungs: set[int], since_s: float, every_s: float
) -> bool:
    """Whether the report after round ``steps_done`` (1-based) carries a checkpoint: the
    trial's last round (its kept model must stay loadable), a rung (mo-asha may stop the
    trial there), or ``every_s`` wall seconds after the last checkpoint (``[budget]
    checkpoint_every_s``: what a resume loses). Other rounds report metrics only: a
    checkpoint per round made Tune's snapshots and the uploads the cost of a short trial."""
    return steps_done >= num_steps or steps_done in rungs or since_s >= every_s


def _restore(
    replicates: list, kept_state: str, *, keeps_best: bool
) -> tuple[float, float, dict | None, dict | None]:
    """(seconds trained before, CPU-seconds before, last report, kept round) from the
    trial's checkpoint, if any, after loading each replicate's state from it (and, where
    the study keeps each trial's best round, that round's state into ``kept_state``). The
    checkpoint: one that ended the trial where there is one (it ended after Tune's last
    snapshot, which names an earlier one), else Tune's."""
    checkpoint = _finished_checkpoint() or tune.get_checkpoint()
    if checkpoint is None:
        return 0.0, 0.0, None, None
    with checkpoint.as_directory() as path:
        for r, experiment in enumerate(replicates):
            experiment.load(_replicate_dir(path, r, len(replicates)))
        saved = json.loads((Path(path) / "raygan.json").read_text())
        last, kept = saved["last"], saved.get("kept")
        earlier = Path(path) / KEPT_STATE
        if keeps_best and kept is not None and kept["step"] != last["step"]:
            if earlier.is_dir():  # a checkpoint of an older raygan has none
                shutil.copytree(earlier, kept_state, dirs_exist_ok=True)
        elif keeps_best:  # the kept round is the one just loaded
            _save_states(replicates, kept_state)
    return saved["trial_time_s"], saved.get("trial_cpu_s", 0.0), last, kept


def _finished_checkpoint() -> tune.Checkpoint | None:
    """This trial's checkpoint of its last round, if it has one: Tune snapshots its state
    every few seconds, so a trial that ended since is restored from an earlier checkpoint
    (or none) and would train again."""
    where = compat.trial_storage()
    if where is None:
        return None
    fs, trial_path = where
    selector = pafs.FileSelector(trial_path, allow_not_found=True)
    for info in sorted(fs.get_file_info(selector), key=lambda i: i.base_name, reverse=True):
        if info.type != pafs.FileType.Directory or not info.base_name.startswith("checkpoint_"):
            continue
        try:
            with fs.open_input_stream(f"{info.path}/raygan.json") as f:
                last = json.loads(f.read())["last"]
        except (OSError, ValueError, KeyError):  # not one of ours, or not whole
            continue
        if last["steps_done"] >= last["num_steps"]:
            return tune.Checkpoint(info.path, filesystem=fs)
    return None


def _save_states(replicates: list, path: str) -> None:
    """Every replicate's state into ``path`` (the layout _replicate_dir reads)."""
    for r, experiment in enumerate(replicates):
        folder = _replicate_dir(path, r, len(replicates), create=True)
        experiment.save(folder)


def _report_with_checkpoint(
    replicates: list, result: dict, kept: dict | None, *, kept_state: str
) -> None:
    with tempfile.TemporaryDirectory() as path:
        _save_states(replicates, path)
        if kept is not None and kept["step"] != result["step"]:
            shutil.copytree(kept_state, Path(path) / KEPT_STATE)
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
        folder.mkdir(exist_ok=True)
    return str(folder)


def kept_result(last: dict, kept: dict | None) -> dict:
    """The report that stands for a finished trial in Tune (progress table, searcher, the
    row): the last one, or where the study keeps another round, the last one with that
    round's own part (its metrics and step) over it, marked KEPT so history skips it."""
    if kept is None or kept["step"] == last["step"]:
        return last
    return {**last, **kept, KEPT: True}


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB. A reused worker runs several
    trials: the peak is over all of them, which is what sizing a node needs."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB
