"""The cron scheduler, a time-based source of jobs: each listener runs one. It wakes when
the next schedule is due (or every second, to see deploys), so a tick fires within moments
of its time; with no scheduled function it asks the store nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.errors import SluiceError
from jobs.scheduling import Schedules

log = logging.getLogger(__name__)
LOOK_SECONDS = 1.0


class Scheduler:
    def __init__(self, schedules: Schedules, clock: Callable[[], float] = time.time):
        self.schedules, self.clock = schedules, clock
        self.looked_at: float | None = None
        """The time (by `clock`) its last round fired what was due at."""
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sluice-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.stopping.wait(self._round())

    def _round(self) -> float:
        """Fire what is due; the seconds to wait before the next round. Never raises: the
        scheduler outlives whatever failed (the store out of reach, say)."""
        try:
            now = self.clock()
            _, next_due = self.schedules.fire_due(now)
            self.looked_at = now
            if next_due is None:
                return LOOK_SECONDS
            return min(LOOK_SECONDS, max(0.0, next_due - self.clock()))
        except SluiceError as exc:
            log.warning("schedules not fired: %s", exc.detail)
        except Exception:
            log.exception("schedules not fired")
        return LOOK_SECONDS
