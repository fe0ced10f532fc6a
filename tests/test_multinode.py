"""A real multi-node Ray cluster on this machine (ray.cluster_utils.Cluster): the CLI joins
it by address and packs fractional-GPU trials onto both GPU nodes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest
from ray.cluster_utils import Cluster


@pytest.fixture(scope="module")
def two_gpu_nodes(cli_env):
    # Nodes start with this process's environment; their workers must import the test
    # experiment, as a real cluster's nodes must have a user's experiment installed.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = cli_env["PYTHONPATH"]
    # A head that runs no trials, and two workers with one logical GPU each: fractional-GPU
    # scheduling is Ray's bookkeeping, testable without a physical GPU.
    cluster = Cluster(
        initialize_head=True, connect=False, head_node_args={"num_cpus": 1, "num_gpus": 0}
    )
    workers = [cluster.add_node(num_cpus=4, num_gpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, workers
    cluster.shutdown()
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


def max_overlap(intervals) -> int:
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    running = best = 0
    for _, delta in events:
        running += delta
        best = max(best, running)
    return best


def study_on_cluster(study, cluster, storage, name: str, *settings: str) -> list[str]:
    """The CLI joining the test cluster with fractional-GPU trials; settings are --set items."""
    cmd = [sys.executable, "-m", "raygan.study", str(study), "--address", cluster.address]
    cmd += ["--storage", str(storage), "--name", name, "--quiet", "--gpus-per-trial", "0.5"]
    for item in settings:
        cmd += ["--set", item]
    return cmd


def test_fractional_gpu_trials_fill_both_nodes(two_gpu_nodes, faulty_study, cli_env, tmp_path):
    cluster, workers = two_gpu_nodes
    cmd = study_on_cluster(
        faulty_study,
        cluster,
        tmp_path,
        "mn",
        "budget.num_samples=8",
        "budget.max_concurrent=8",
        "fixed.sleep_s=1.0",
        "fixed.steps=2",
    )
    done = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "mn" / "trials.parquet")
    assert len(trials) == 8 and (trials.status == "completed").all()
    assert (trials.gpus == 0.5).all() and (trials.cpus == 1.0).all()
    assert (trials.device == "cpu").all()  # logical GPUs: torch has no CUDA here
    worker_ids = {w.node_id for w in workers}
    assert set(trials.node_id) == worker_ids  # both GPU nodes, never the GPU-less head
    intervals = list(zip(trials.started_at, trials.finished_at, strict=True))
    assert max_overlap(intervals) <= 4  # 2 GPUs / 0.5 per trial
    for node_id in worker_ids:
        on_node = trials[trials.node_id == node_id]
        assert max_overlap(list(zip(on_node.started_at, on_node.finished_at, strict=True))) <= 2
    assert max_overlap(intervals) >= 3  # and they did run side by side


def test_more_gpu_than_any_node_has_exits_2(two_gpu_nodes, faulty_study, cli_env, tmp_path):
    cluster, _ = two_gpu_nodes
    cmd = [
        sys.executable,
        "-m",
        "raygan.study",
        str(faulty_study),
        "--address",
        cluster.address,
        "--storage",
        str(tmp_path),
        "--cpus-per-trial",
        "8",
    ]
    done = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "8 CPUs per trial, but the largest node has 4" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())


def test_removed_worker_node_trials_are_rescheduled(two_gpu_nodes, faulty_study, cli_env, tmp_path):
    """A node lost mid-study (a spot instance reclaimed): its trials fail with the node,
    Tune retries them from their checkpoints on the nodes left, and the study completes."""
    cluster, workers = two_gpu_nodes
    doomed = cluster.add_node(num_cpus=4, num_gpus=1)  # the test's own: the fixture's stay
    cluster.wait_for_nodes()
    cmd = study_on_cluster(
        faulty_study,
        cluster,
        tmp_path,
        "gone",
        "budget.num_samples=8",
        "budget.max_concurrent=6",  # 3 nodes x 2 slots: every node runs trials
        "budget.max_failures=2",
        "fixed.sleep_s=1.0",
        "fixed.steps=5",
    )
    proc = subprocess.Popen(
        cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        parts = tmp_path / "gone" / "parts"
        deadline = time.monotonic() + 180
        # six trials have reported a round: all six slots, two of them on the doomed node
        while len(list(parts.glob("history-*.parquet"))) < 6:
            assert time.monotonic() < deadline and proc.poll() is None, "trials never started"
            time.sleep(0.2)
        cluster.remove_node(doomed)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    trials = pd.read_parquet(tmp_path / "gone" / "trials.parquet")
    assert len(trials) == 8 and (trials.status == "completed").all()
    assert (trials.steps == 5).all()
    assert set(trials.node_id) <= {w.node_id for w in workers}  # finished on the nodes left
    assert trials.retries.sum() >= 1  # the doomed node's trials were retried
    history = pd.read_parquet(tmp_path / "gone" / "history.parquet")
    assert len(history) == 8 * 5 and not history.duplicated(["trial_id", "step"]).any()
