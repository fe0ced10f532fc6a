"""report.html kept up to date while a study runs, so a browser shows the study so far.

Drawn after a trial ends by ``python -m raygan.report RUN_DIR --running`` in a process of
its own, at low priority: a report takes seconds to draw at hundreds of trials, and drawn
in the driver it held up every trial waiting for the driver meanwhile. One at a time, and
not more often than every ``min_interval_s`` seconds nor, counting its own drawing time,
more than a tenth of the time. The page says the study is still running and reloads
itself; the final report, drawn by the driver once the live one is done, replaces it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

from raygan.experiments.registry import registered_entries
from raygan.results import RunStore

log = logging.getLogger(__name__)


class LiveReport:
    def __init__(self, *, min_interval_s: float = 5.0):
        self.min_interval_s = min_interval_s
        self.next_at = 0.0  # perf_counter time before which no report is started
        self.drawing: subprocess.Popen | None = None
        self.started_at = 0.0

    def __getstate__(self) -> dict:
        # a restored driver has its own clock, and no drawing process of this one
        return {**self.__dict__, "next_at": 0.0, "drawing": None}

    def trial_ended(self, store: RunStore) -> None:
        """Start drawing the report of ``store``'s run if it is time and none is being
        drawn; never waits, and a report that fails to draw never stops the study."""
        if store.local_path is None:
            return  # a URI run's report is drawn once, at the end, in the driver's cache
        if self.drawing is not None and not self._done(self.drawing):
            return
        now = time.perf_counter()
        if now < self.next_at:
            return
        self.started_at = now
        # the child reads the study as this process does: the experiments registered
        # here (raygan.register_experiment), importable from where they are here
        env = {
            **os.environ,
            "RAYGAN_EXPERIMENTS": registered_entries(),
            "PYTHONPATH": os.pathsep.join(filter(None, sys.path)),
        }
        self.drawing = subprocess.Popen(
            [sys.executable, "-m", "raygan.report", str(store.local_path), "--running"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_lower_priority if os.name == "posix" else None,
        )

    def _done(self, drawing: subprocess.Popen) -> bool:
        """Whether ``drawing`` has ended; if so, when the next one may start."""
        if drawing.poll() is None:
            return False
        took = time.perf_counter() - self.started_at
        self.next_at = time.perf_counter() + max(self.min_interval_s, 9 * took)
        self._reap()
        return True

    def _reap(self) -> None:
        drawing, self.drawing = self.drawing, None
        if drawing is None:
            return
        _, err = drawing.communicate()
        if drawing.returncode not in (0, -15):  # -15: stopped by close()
            lines = (err or b"").decode(errors="replace").strip().splitlines()
            log.warning("live report not written: %s", lines[-1] if lines else drawing.returncode)

    def close(self) -> None:
        """Stop a report still being drawn (the final one replaces it) and wait for it."""
        if self.drawing is not None and self.drawing.poll() is None:
            self.drawing.terminate()
        self._reap()


def _lower_priority() -> None:
    os.nice(10)  # the trials come first on a machine with few cores
