"""report.html kept up to date while a study runs, so a browser shows the study so far.

Written after a trial ends, but not more often than every ``min_interval_s`` seconds nor
more than a tenth of the driver's time: a report takes a second or two to draw, and
with fast trials the driver would spend its time drawing instead of scheduling. The
page says the study is still running and reloads itself; the final report replaces it.
"""

from __future__ import annotations

import logging
import time

from raygan.results import RunStore

log = logging.getLogger(__name__)


class LiveReport:
    def __init__(self, *, min_interval_s: float = 5.0):
        self.min_interval_s = min_interval_s
        self.next_at = 0.0  # perf_counter time before which no report is drawn

    def __getstate__(self) -> dict:
        return {**self.__dict__, "next_at": 0.0}  # a restored driver has its own clock

    def trial_ended(self, store: RunStore) -> None:
        """Draw the report of ``store``'s run if it is time; a report that fails to draw
        never stops the study."""
        now = time.perf_counter()
        if store.local_path is None or now < self.next_at:
            return  # a URI run's report is drawn once, at the end, in the driver's cache
        from raygan.report import write_report  # matplotlib: only once there is a trial

        try:
            write_report(store.local_path, running=True)
        except Exception as e:  # noqa: BLE001 - the study matters more than its live page
            log.warning("live report not written: %s", e)
        took = time.perf_counter() - now
        self.next_at = time.perf_counter() + max(self.min_interval_s, 10 * took)
