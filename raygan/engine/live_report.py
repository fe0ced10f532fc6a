"""report.html kept up to date while a study runs, so a browser shows the study so far.

Drawn after a trial ends by ``python -m raygan.report RUN_DIR --running`` in a process of
its own, at low priority and in a session of its own (a Ctrl-C is the driver's): a report
takes seconds to draw at hundreds of trials, and drawn in the driver it held up every
trial waiting for the driver meanwhile. One at a time, and not more often than every
``min_interval_s`` seconds nor, counting its own drawing time, more than a tenth of the
time. The page says the study is still running and reloads itself; once the search ends
no new one starts, and the final report, drawn after the live one is done, replaces it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from typing import IO

from raygan.experiments.registry import registered_entries
from raygan.results import RunStore

log = logging.getLogger(__name__)


class LiveReport:
    def __init__(self, *, min_interval_s: float = 5.0):
        self.min_interval_s = min_interval_s
        self.next_at = 0.0  # time.time() before which no report is started
        self.drawing: subprocess.Popen | None = None
        self.errors: IO[bytes] | None = None  # the drawing process's stderr (a temporary file)
        self.started_at = 0.0
        self.page = ""  # the report.html being drawn, whose mtime says when it was done
        self.closed = False

    def __getstate__(self) -> dict:
        # a restored driver has its own clock, and no drawing process of this one
        return {**self.__dict__, "next_at": 0.0, "drawing": None, "errors": None}

    def trial_ended(self, store: RunStore) -> None:
        """Start drawing the report of ``store``'s run if it is time and none is being
        drawn; never waits, and a report that fails to draw never stops the study."""
        if self.closed or store.local_path is None:
            return  # a URI run's report is drawn once, at the end, in the driver's cache
        if self.drawing is not None and not self._done(self.drawing):
            return
        if time.time() < self.next_at:
            return
        # the child reads the study as this process does: the experiments registered
        # here (raygan.register_experiment), importable from where they are here
        env = {
            **os.environ,
            "RAYGAN_EXPERIMENTS": registered_entries(),
            "PYTHONPATH": os.pathsep.join(filter(None, sys.path)),
        }
        self.page = str(store.local_path / "report.html")
        self.errors = tempfile.TemporaryFile()
        self.started_at = time.time()
        self.drawing = subprocess.Popen(
            [sys.executable, "-m", "raygan.report", str(store.local_path), "--running"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
            start_new_session=True,
        )
        if hasattr(os, "setpriority"):
            try:  # the trials come first on a machine with few cores
                os.setpriority(os.PRIO_PROCESS, self.drawing.pid, 10)
            except OSError:  # ended already
                pass

    def _done(self, drawing: subprocess.Popen) -> bool:
        """Whether ``drawing`` has ended; if so, when the next one may start: the page's
        own time says when the drawing ended, however long ago that was."""
        if drawing.poll() is None:
            return False
        try:
            ended = max(os.path.getmtime(self.page), self.started_at)
        except OSError:  # not written
            ended = time.time()
        self.next_at = ended + max(self.min_interval_s, 9 * (ended - self.started_at))
        self._reap()
        return True

    def _reap(self) -> None:
        drawing, errors = self.drawing, self.errors
        self.drawing = self.errors = None
        if drawing is None or errors is None:
            return
        drawing.wait()
        if drawing.returncode not in (0, -15):  # -15: stopped by close()
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            log.warning("live report not written: %s", lines[-1] if lines else drawing.returncode)
        errors.close()

    def close(self) -> None:
        """No more live reports: stop one still being drawn (the final report replaces
        it) and wait for it."""
        self.closed = True
        if self.drawing is not None and self.drawing.poll() is None:
            self.drawing.terminate()
        self._reap()
