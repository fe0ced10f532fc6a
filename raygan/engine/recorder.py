"""The Recorder: each trial's rows, written to the run the moment Tune hears of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from ray import tune

import raygan
from raygan.engine import compat
from raygan.engine.console import FrontSize, error_line, trial_line
from raygan.engine.live_report import LiveReport
from raygan.engine.runs import RESUMING
from raygan.engine.trainable import KEPT, KEPT_REPLICATES, REPLICATES, kept_result
from raygan.experiments.base import TrialDiverged
from raygan.results import (
    RunStore,
    history_schema,
    replicate_schema,
    spread_names,
    trial_schema,
)
from raygan.spec import StudySpec
from raygan.trial import kept_round


class Recorder(tune.Callback):
    """Writes each trial's rows the moment Tune hears of them, on the driver, so a crash
    loses no finished trial and an errored trial (which has no row in Tune's result grid)
    still gets one. Module-level and picklable: Tune saves it with the run for resume."""

    def __init__(
        self,
        spec: StudySpec,
        store: RunStore,
        *,
        run: str,
        metric_names,
        matrix_names=(),
        cpus: float,
        gpus: float,
        echo=print,
    ):
        self.spec, self.store, self.run = spec, store, run
        self.metric_names = list(metric_names)
        self.matrix_names = list(matrix_names)
        self.cpus, self.gpus = cpus, gpus
        # Ray swaps builtins.print for its own at times, and Tune pickles this callback with
        # the run: keep no reference to print itself, look it up when writing.
        self.echo = None if echo is print else echo
        self.history: dict[str, list[dict]] = {}
        self.front: FrontSize | None = FrontSize(spec, [])  # None: read from parts when needed
        self.retried: dict[str, int] = {}  # trial id -> restarts that trained
        self.live = LiveReport()

    def __getstate__(self) -> dict:
        # Tune pickles this with its snapshots; a restored copy reads the front from the
        # rows on disk, which hold every trial finished before the interruption.
        return {**self.__dict__, "front": None, "history": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"retried": {}, "live": LiveReport(), **state})
        where = RESUMING.get()
        if where is not None:  # write where the resumed run lies now
            self.store = where[0]

    def _trial_schema(self):
        return trial_schema(self.spec, self.metric_names, self.matrix_names)

    def _history_schema(self):
        return history_schema(self.spec, self.metric_names)

    def _base_row(self, trial_id: str, config: dict, retries: int | None) -> dict:
        return {
            "study": self.spec.name,
            "run": self.run,
            "trial_id": trial_id,
            "trial_index": int(config.get("_index", -1)),
            "seed": int(config.get("_seed", -1)),
            **{f"param_{p.name}": config.get(p.name) for p in self.spec.search},
            "cpus": self.cpus,
            "gpus": self.gpus,
            "retries": retries,
            "raygan_version": raygan.__version__,
            "finished_at": datetime.now(UTC),
        }

    def _ended_row(
        self, trial_id: str, config: dict, retries: int | None, last: dict, *, early: str
    ) -> dict:
        """The row of a trial that ended without an error: completed if it ran every
        round, else ``early`` ("pruned" by the scheduler, "stopped" by the time budget)."""
        row = self._base_row(trial_id, config, retries)
        done = last.get("steps_done", last.get("step", -1) + 1)  # older runs: step only
        total = last.get("num_steps", 0)
        row.update(
            status="completed" if total and done == total else early,
            steps=done,
            num_steps=total,
            kept_step=last.get("step"),
            n_replicates=int(last.get("n_replicates", 1)),
            **_where_and_when(last),
            **{m: last.get(m) for m in self.metric_names + self.matrix_names},
            **{s: last.get(s) for s in spread_names(self.metric_names)},
        )
        return row

    def _replicate_rows(self, trial_id: str, config: dict, last: dict) -> list[dict]:
        """One row per replicate of an ended trial, at its kept step."""
        seeds = config.get("_seeds", [config.get("_seed", -1)])
        return [
            {
                "study": self.spec.name,
                "run": self.run,
                "trial_id": trial_id,
                "trial_index": int(config.get("_index", -1)),
                "replicate": r,
                "seed": int(seed),
                "kept_step": last.get("step"),
                **{m: own.get(m) for m in self.metric_names + self.matrix_names},
            }
            for r, seed in enumerate(seeds)
            if (own := (last.get(REPLICATES) or {}).get(str(r))) is not None
        ]

    def on_experiment_end(self, trials, **info):
        self.live.close()  # the final report (or the next run's) replaces a live one

    def on_trial_recover(self, iteration, trials, trial, **info):
        # Tune restarts a diverged trial too, and the restart refuses at once
        # (DIVERGED_MARKER): that is no retry, and neither is any restart after it.
        if not _diverged(trial):
            self.retried[trial.trial_id] = self.retried.get(trial.trial_id, 0) + 1

    def _retries(self, trial) -> int:
        """How many times the trial was started again after a failure and trained (Tune's
        failure count also holds a failed trial's last failure and a diverged trial's
        refused restarts). A driver restarted since counts from its own restart on."""
        return self.retried.get(trial.trial_id, 0)

    def on_trial_start(self, iteration, trials, trial, **info):
        compat.skip_windowed_means(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get(KEPT):
            return  # restates a round already in the history
        schema = self._history_schema()
        rows = self.history.get(trial.trial_id)
        if rows is None:  # first result this driver sees: keep what an earlier one wrote
            rows = self.store.read_part("history", trial.trial_id, schema)
        rows = [r for r in rows if r["step"] != result["step"]]  # a retried step replaces
        rows.append(
            {
                "study": self.spec.name,
                "run": self.run,
                "trial_id": trial.trial_id,
                "trial_index": result["trial_index"],
                "step": result["step"],
                **{m: result.get(m) for m in self.metric_names},
                **{s: result.get(s) for s in spread_names(self.metric_names)},
                "time_s": result["trial_time_s"],
                "node": result["node"],
            }
        )
        self.history[trial.trial_id] = rows
        self.store.write_part("history", trial.trial_id, rows, schema)

    def on_trial_complete(self, iteration, trials, trial, **info):
        existing = self.store.read_part("trial", trial.trial_id, self._trial_schema())
        if existing and existing[0]["status"] == "completed":
            compat.release_finished_trial(trial)
            # Tune's console shows it as started and completed again: say it was not
            (self.echo or print)(
                f"[raygan] resume: trial {existing[0]['trial_index']} had finished before "
                "the interruption; its row stands, not trained again"
            )
            return
        # a trial the scheduler stopped ends on its latest round, not the one it stands for
        last = self._as_kept(trial.trial_id, trial.last_result or {})
        row = self._ended_row(
            trial.trial_id, trial.config, self._retries(trial), last, early="pruned"
        )
        self._write(trial, row, self._replicate_rows(trial.trial_id, trial.config, last))

    def _as_kept(self, trial_id: str, last: dict) -> dict:
        """``last`` (a trial's last report) with the round the trial stands for over it,
        for a trial that ended before its last round (pruned, or cut by the time budget)
        in a study that keeps each trial's best round; from its rounds in the history."""
        done, total = last.get("steps_done"), last.get("num_steps")
        if self.spec.result_round != "best" or done is None or not total or done >= total:
            return last
        rounds = self.history.get(trial_id)
        if rounds is None:
            rounds = self.store.read_part("history", trial_id, self._history_schema())
        kept = kept_round(self.spec, rounds)
        if kept is None:
            return last
        names = self.metric_names + spread_names(self.metric_names)
        own = {m: kept[m] for m in names}
        replicates = json.loads(last.get(KEPT_REPLICATES) or "{}")
        return kept_result(last, {**own, "step": kept["step"], REPLICATES: replicates})

    def record_cut_short(self, results) -> int:
        """Rows for the trials the time budget stopped: Tune stops them without a
        completion event. From Tune's results (its last result of each trial); how many
        retries they took is not in there. Returns how many rows were written."""
        written = 0
        for result in results:
            last = result.metrics or {}
            if "step" not in last:
                continue  # never reported a round
            trial_id = str(last["trial_id"])
            if self.store.read_part("trial", trial_id, self._trial_schema()):
                continue  # already has its row
            last = self._as_kept(trial_id, last)  # its best round so far, as if it had ended
            config = result.config or {}
            row = self._ended_row(trial_id, config, None, last, early="stopped")
            self._write(None, row, self._replicate_rows(trial_id, config, last))
            written += 1
        return written

    def on_trial_error(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        row = self._base_row(trial.trial_id, trial.config, self._retries(trial))
        row.update(
            status="failed",
            error=error_line(trial),
            steps=last.get("steps_done", 0),
            num_steps=last.get("num_steps"),
            **_where_and_when(last),
        )
        self._write(trial, row)

    def _write(self, trial, row: dict, replicates: Sequence[dict] = ()) -> None:
        self.history.pop(row["trial_id"], None)  # the trial is over: its rows are on disk
        if replicates:  # before the trial's row: a trial with a row has all its parts
            schema = replicate_schema(self.spec, self.metric_names, self.matrix_names)
            self.store.write_part("replicate", row["trial_id"], list(replicates), schema)
        self.store.write_part("trial", row["trial_id"], [row], self._trial_schema())
        if trial is not None:
            compat.release_finished_trial(trial)
        if self.front is None:  # a restored Recorder: the trials finished before
            earlier = self.store.read_parts("trial", self._trial_schema()).to_pylist()
            self.front = FrontSize(
                self.spec, [r for r in earlier if r["trial_id"] != row["trial_id"]]
            )
        front = self.front.add(row)
        (self.echo or print)(trial_line(self.spec, row, front=front))
        self.live.trial_ended(self.store)


def _diverged(trial) -> bool:
    return TrialDiverged.__name__ in error_line(trial).partition(":")[0]


def _where_and_when(last: dict) -> dict:
    """Node, device and times from the trial's last report (worker clock): the trial held
    its resources from started_at to finished_at."""

    def stamp(key: str):
        return datetime.fromtimestamp(last[key], UTC) if last.get(key) is not None else None

    return {
        "wall_time_s": last.get("trial_time_s"),
        "cpu_time_s": last.get("trial_cpu_s"),
        "peak_rss_mb": last.get("peak_rss_mb"),
        "node": last.get("node"),
        "node_id": last.get("node_id"),
        "device": last.get("device"),
        "started_at": stamp("started_at"),
        "finished_at": stamp("reported_at") or datetime.now(UTC),
    }
