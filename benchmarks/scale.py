"""The engine at a thousand trials: efficiency, per-trial overhead early and late, driver
memory, and the files a run leaves.

    python benchmarks/scale.py [--trials 1000] [--rounds 1] [--round-s 1.0] [--concurrent 2]
                               [--keep] [--trace]

One study of ``--trials`` trials of a trial that only waits (``rounds`` x ``round_s``
seconds: one report after 1 s by default, the shape of Ray Tune's own 10,000-trial run;
``--rounds 10 --round-s 0.1`` reports ten times as often; benchmarks/support/
sleep_experiment.py), random search, through the real engine on a local Ray with
``--concurrent`` slots. Prints:
  - efficiency: the least time the trials could take (trials x rounds x round_s over the
    slots) over the study's wall time (Ray's start excluded; the final tables and report
    included), as Ray Tune reports for its own 10,000-trial run (625 s / 715 s = 0.87);
    and the same with the trials' measured ``wall_time_s`` instead (which counts a
    trial's waits for the driver between rounds as its own time);
  - overhead per trial over the first and the last 100 trials (half the trials, under
    200): slots x the span from the
    first of them starting to the last ending, minus their waiting time, over 100; then
    the same for every window of 100 trials, and the least-squares line through those
    windows, read at the first and the last (one window's noise moves it less than it
    moves the last window alone; from 300 trials, three windows);
  - driver resident memory after each trial: growth per 100 trials from trial 100 on,
    between the two readings and as the least-squares slope through every reading from
    trial 100 on (the allocator's swings of a few MiB move one reading, not the slope),
    and the three largest steps from one trial's reading to the next;
  - the load average over the last minute when the study ended (two cores are easily
    shared: a timing beside a load above ~1 had company), and on Linux the share of
    the machine's CPU time its hypervisor took (steal, /proc/stat) in each window of 100
    trials: on a virtual machine a window whose steal is a few percent runs slower, for
    reasons outside the engine;
  - how long the study took after its last trial ended (final tables, packing the part
    files, the report), and how many files the run directory holds.

``--trace`` also traces the driver's Python allocations (tracemalloc) from trial 100 to
its last trial and prints what is still held: the sites that hold most, and each single
block over 512 KiB with where it was allocated (what a step in the driver's memory is).
Tracing slows the driver: a traced run's timings are not comparable with an untraced one's.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import ray

SUPPORT = Path(__file__).parent / "support"
sys.path.insert(0, str(SUPPORT))

from memory import rss_mb  # noqa: E402  (benchmarks/memory.py, beside this script)
from sleep_experiment import STUDY  # type: ignore[import-not-found]  # noqa: E402

from raygan import load_spec, register_experiment  # noqa: E402
from raygan.engine import run_study  # noqa: E402
from raygan.engine.tune_output import drop_tune_messages  # noqa: E402


def window_overhead(trials: pd.DataFrame, slots: int, least_s: float) -> float:
    """Seconds per trial the engine added over these consecutive trials (by end time),
    each of which needs ``least_s`` seconds."""
    span = (trials.finished_at.max() - trials.started_at.min()).total_seconds()
    return (slots * span - len(trials) * least_s) / len(trials)


def cpu_jiffies() -> tuple[int, int] | None:
    """(steal, all) of this machine's CPU time so far, in jiffies (/proc/stat, Linux);
    None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    return fields[7], sum(fields[:8])  # user nice system idle iowait irq softirq steal


def print_held(snapshot: tracemalloc.Snapshot) -> None:
    """What the driver's Python allocations since trial 100 still hold at the last trial:
    the top sites, and every block over 512 KiB with the innermost frames of its stack."""
    ours = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    total = sum(stat.size for stat in ours.statistics("filename"))
    print(f"\nheld after the last trial, allocated since trial 100: {total / 2**20:.1f} MiB")
    for stat in ours.statistics("lineno")[:8]:
        frame = stat.traceback[0]
        print(f"  {stat.size / 2**20:6.2f} MiB in {stat.count:6d} blocks  {frame}")
    big = sorted((t for t in ours.traces if t.size > 512 * 1024), key=lambda t: -t.size)
    if not big:
        print("  no single block over 512 KiB")
    for trace in big:
        print(f"  one block of {trace.size / 2**20:.2f} MiB, allocated at:")
        for line in trace.traceback.format(limit=8, most_recent_first=True):
            print(f"    {line}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--round-s", type=float, default=1.0)
    ap.add_argument("--concurrent", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--keep", action="store_true", help="keep the run directory (printed)")
    ap.add_argument("--trace", action="store_true", help="trace allocations from trial 100")
    args = ap.parse_args()
    if args.trace and args.trials <= 100:
        ap.error(f"--trace starts at trial 100: --trials {args.trials} must be over 100")

    register_experiment("sleep", "sleep_experiment:SleepExperiment")
    os.environ["RAYGAN_EXPERIMENTS"] = "sleep=sleep_experiment:SleepExperiment"
    work = Path(tempfile.mkdtemp(prefix="raygan-scale-"))
    study = work / "scale.toml"
    study.write_text(STUDY, encoding="utf-8")
    spec = load_spec(
        study,
        overrides=[
            f"budget.num_samples={args.trials}",
            f"budget.max_concurrent={args.concurrent}",
            f"fixed.rounds={args.rounds}",
            f"fixed.round_s={args.round_s}",
            *args.set,
        ],
    )
    pythonpath = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
    drop_tune_messages()  # Ray's notice that token authentication is on, as the CLI does
    t0 = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=args.concurrent,
        include_dashboard=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
    )
    ray_start = time.perf_counter() - t0
    memory: list[float] = []
    held: list[tracemalloc.Snapshot] = []
    cpu = [cpu_jiffies()]  # before the study, then as each trial ends

    def echo(line: str) -> None:
        if line.startswith("[raygan] trial "):
            memory.append(rss_mb())
            cpu.append(cpu_jiffies())
            if len(memory) % 100 == 0:
                print(f"  {len(memory)} trials, driver {memory[-1]:.0f} MiB", flush=True)
            if args.trace and len(memory) == 100:
                tracemalloc.start(30)
            if tracemalloc.is_tracing() and len(memory) == args.trials:
                held.append(tracemalloc.take_snapshot())  # before the final tables, report
                tracemalloc.stop()

    start = time.perf_counter()
    run_study(spec, storage=str(work), name="scale", verbose=0, echo=echo)
    wall = time.perf_counter() - start
    ended = pd.Timestamp.now(tz="UTC")
    ray.shutdown()

    run = work / "scale"
    trials = pd.read_parquet(run / "trials.parquet").sort_values("finished_at")
    own = trials.wall_time_s.sum()
    n = len(trials)
    least = args.rounds * args.round_s  # what one trial needs: its waits
    window = min(100, n // 2)  # the first and the last trials, never the same ones
    first, last = trials.iloc[:window], trials.iloc[-window:]
    files = [p for p in run.rglob("*") if p.is_file()]
    parquet = [p for p in files if p.suffix == ".parquet"]
    print(
        f"\n{n} trials of {args.rounds} x {args.round_s} s, {args.concurrent} slots; "
        f"Ray started in {ray_start:.1f} s; study {wall:.0f} s; load {os.getloadavg()[0]:.2f}"
    )
    if held:
        print("traced from trial 100: the timings below include the tracer's cost")
    print(
        f"efficiency: {n} x {least:g} s / ({args.concurrent} x {wall:.0f} s) = "
        f"{n * least / (args.concurrent * wall):.3f}; with the trials' own wall_time_s "
        f"({own:.0f} s): {own / (args.concurrent * wall):.3f}"
    )
    o1 = window_overhead(first, args.concurrent, least)
    o2 = window_overhead(last, args.concurrent, least)
    print(
        f"overhead per trial: first {window} {o1:.3f} s, last {window} {o2:.3f} s ({o2 / o1:.2f}x)"
    )
    windows = [
        window_overhead(trials.iloc[i : i + window], args.concurrent, least)
        for i in range(0, n - window + 1, window)
    ]
    if len(windows) >= 3:
        slope, at_first = np.polyfit(np.arange(len(windows)), windows, 1)
        at_last = at_first + slope * (len(windows) - 1)
        each = ", ".join(f"{w:.3f}" for w in windows)
        print(
            f"  every {window}: {each} s; least-squares line "
            f"{at_first:.3f} -> {at_last:.3f} s ({at_last / at_first:.2f}x)"
        )
    jiffies = [c for c in cpu if c is not None]  # all of them on Linux, none elsewhere
    if len(jiffies) == n + 1:
        steal = [
            (jiffies[i + window][0] - jiffies[i][0])
            / max(1, jiffies[i + window][1] - jiffies[i][1])
            * 100
            for i in range(0, n - window + 1, window)
        ]
        each = ", ".join(f"{x:.1f}" for x in steal)
        print(f"hypervisor's steal of the CPUs, every {window} trials: {each} %")
    if len(memory) > 100:
        growth = (memory[-1] - memory[99]) / (len(memory) - 100) * 100
        fitted = np.polyfit(np.arange(100, len(memory) + 1), memory[99:], 1)[0] * 100
        print(
            f"driver memory: {memory[0]:.0f} MiB after trial 1, {memory[99]:.0f} after 100, "
            f"{memory[-1]:.0f} after {len(memory)}: {growth:+.2f} MiB per 100 trials; "
            f"least-squares slope from trial 100: {fitted:+.2f}"
        )
        steps = np.diff(memory[99:])
        top = [i for i in np.argsort(steps)[-3:][::-1] if steps[i] >= 0.05]
        print(
            "  largest steps from one trial to the next: "
            + (", ".join(f"{steps[i]:+.1f} MiB at trial {i + 101}" for i in top) or "none")
        )
    tail = (ended - trials.finished_at.max()).total_seconds()
    print(f"after the last trial ended: {tail:.1f} s (final tables, packing parts/, report)")
    print(
        f"run directory: {len(files)} files, {len(parquet)} Parquet "
        f"({sum(p.stat().st_size for p in files) / 2**20:.1f} MiB); tables: "
        + ", ".join(sorted(p.name for p in run.glob("*.parquet")))
    )
    if held:
        print_held(held[0])
    if args.keep:
        print(f"run directory kept: {run}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
