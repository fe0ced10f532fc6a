"""MO-ASHA: asynchronous successive halving that promotes by non-dominated rank
(Schmucker et al. 2021, "Multi-objective Asynchronous Successive Halving").

Ray Tune's ASHA and Optuna's pruners rank trials by one number; a study with several
objectives has no such number without choosing weights. At each rung (a number of rounds
reported), a trial goes on only if its point is among the best 1/reduction_factor of the
trials that reached that rung, ordered by ``raygan.results.promotion_order``
(non-dominated rank, then crowding distance). The point is the round the trial stands for
so far (``kept/`` values: its best round with ``[result] round = "best"``, else its
latest), so a stopped trial's row, Optuna's value and the scheduler agree.

The rung records are rebuilt from the run's history parts (every round of every trial, on
disk) whenever this object is new or restored, so a resumed run keeps them: Tune does not
save a scheduler's state with its snapshots.
"""

from __future__ import annotations

import math

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raygan.engine import compat
from raygan.engine.runs import RESUMING
from raygan.engine.trainable import KEPT, KEPT_VALUES
from raygan.engine.tune_output import EndedTrialLogs
from raygan.results import RunStore, history_schema, promotion_order
from raygan.spec import StudySpec
from raygan.trial import kept_round


class ReleasingFIFOScheduler(FIFOScheduler):
    """Tune's default order (first in, first out), with each trial that ended taken out of
    Tune's controller when the next trial is added (``compat.drop_finished_trials``) and
    its logger files out of Tune's staging folder (``EndedTrialLogs``): the driver's
    memory and its cost per trial stay flat over thousands of trials. Tune calls a
    scheduler's on_trial_complete and on_trial_error just before the callbacks that write
    the trial's row and close its logger files."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: set[str] = set()  # trial ids ended, not yet taken out
        self.logs: EndedTrialLogs | None = EndedTrialLogs()

    def on_trial_complete(self, tune_controller, trial, result) -> None:
        self.ended.add(trial.trial_id)

    def on_trial_error(self, tune_controller, trial) -> None:
        self.ended.add(trial.trial_id)

    def on_trial_add(self, tune_controller, trial) -> None:
        gone = compat.drop_finished_trials(tune_controller, self.ended)
        self.ended -= {t.trial_id for t in gone}
        logs = getattr(self, "logs", None)  # None: pickled by an older raygan, or given up
        if logs is None:
            return
        logs.add(gone)
        idle = compat.staging_upload_idle(tune_controller)
        if idle is None:  # Tune's upload cannot be seen: every file is left to it
            self.logs = None
        elif idle and logs.waiting:
            logs.move()


class MultiObjectiveASHA(ReleasingFIFOScheduler):
    """Stops a trial at a rung where it is not among the best 1/reduction_factor of the
    trials that reached it (spec.rungs). Trials reach rungs in the order they run: an early
    trial is compared with fewer others (asynchronous SHA), and the first at a rung goes on."""

    def __init__(self, spec: StudySpec, store: RunStore, *, metric_names, echo=None):
        super().__init__()
        if spec.rungs is None:
            raise ValueError("MultiObjectiveASHA needs spec.rungs (scheduler = 'mo-asha')")
        self.spec, self.store, self.rungs = spec, store, spec.rungs
        self.metric_names = list(metric_names)
        self.keys = [spec.objective_key(o) for o in spec.objectives]
        self.modes = [o.mode for o in spec.objectives]
        self.echo = echo  # None: print, looked up when used
        self.records: dict[int, dict[str, list[float]]] | None = None  # rung -> trial -> point
        self.said_short = False  # whether a trial too short for any rung was pointed out

    def __getstate__(self) -> dict:
        return {**self.__dict__, "records": None}  # a restored copy reads them from disk

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        where = RESUMING.get()
        if where is not None:  # the run may lie elsewhere now
            self.store = where[0]

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True  # ranks by the study's objectives, whatever Tune's metric

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        done, total = result.get("steps_done"), result.get("num_steps")
        if total is not None and total < self.rungs.min_rounds and not self.said_short:
            self.said_short = True  # rungs the trials never reach are no error, but say so
            (self.echo or print)(
                f"[raygan] mo-asha: trial {result.get('trial_index')} trains {total} rounds, "
                f"fewer than the first rung (rungs.min_rounds = {self.rungs.min_rounds}): "
                "mo-asha stops no trial that short"
            )
        if result.get(KEPT) or done is None or not self._is_rung(int(done)):
            return TrialScheduler.CONTINUE
        point = [float(result.get(KEPT_VALUES + key, math.nan)) for key in self.keys]
        records = self._records().setdefault(int(done), {})
        records[trial.trial_id] = point
        if total is not None and done >= total:  # ends here anyway: only recorded
            return TrialScheduler.CONTINUE
        if self.promoted(trial.trial_id, records):
            return TrialScheduler.CONTINUE
        (self.echo or print)(
            f"[raygan] mo-asha: trial {result.get('trial_index')} stopped after round {done} of "
            f"{total}: not among the best 1/{self.rungs.reduction_factor} of the "
            f"{len(records)} trials at that rung (non-dominated rank, then crowding)"
        )
        return TrialScheduler.STOP

    def promoted(self, trial_id: str, records: dict[str, list[float]]) -> bool:
        """Whether ``trial_id`` is among the best ceil(n / reduction_factor) of the n
        trials recorded at one rung."""
        ids = list(records)
        order = promotion_order(np.asarray([records[i] for i in ids]), self.modes)
        keep = math.ceil(len(ids) / self.rungs.reduction_factor)
        return ids.index(trial_id) in set(order[:keep].tolist())

    def _is_rung(self, done: int) -> bool:
        rung = self.rungs.min_rounds
        while rung < done:
            rung *= self.rungs.reduction_factor
        return rung == done

    def _records(self) -> dict[int, dict[str, list[float]]]:
        if self.records is None:
            self.records = self._read_records()
        return self.records

    def _read_records(self) -> dict[int, dict[str, list[float]]]:
        """Every trial's point at every rung it reached, from the history parts: the round
        it stood for after that many rounds, as it was reported then."""
        schema = history_schema(self.spec, self.metric_names)
        rows = self.store.read_parts("history", schema).to_pylist()
        by_trial: dict[str, list[dict]] = {}
        for row in sorted(rows, key=lambda r: r["step"]):
            by_trial.setdefault(row["trial_id"], []).append(row)
        records: dict[int, dict[str, list[float]]] = {}
        for trial_id, rounds in by_trial.items():
            for done in range(1, len(rounds) + 1):
                if self._is_rung(done) and rounds[done - 1]["step"] == done - 1:
                    kept = kept_round(self.spec, rounds[:done]) or {}
                    point = [
                        self.spec.objective_value(o, kept) if kept else None
                        for o in self.spec.objectives
                    ]
                    records.setdefault(done, {})[trial_id] = [
                        math.nan if v is None else float(v) for v in point
                    ]
        return records
