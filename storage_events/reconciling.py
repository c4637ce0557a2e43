"""Reconciliation: every trigger with a `scan_interval` has its prefix listed that often, and
objects with no job yet get one, so uploads made while no listener ran are not missed."""

from __future__ import annotations

import logging
import time

from core.catalog import FunctionCatalog
from core.periodic import Recurring
from jobs.scanning import Scanner

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0


class Reconciler(Recurring):
    def __init__(self, catalog: FunctionCatalog, scanner: Scanner):
        super().__init__("sluice-reconciler", TICK_SECONDS, self.reconcile)
        self.catalog, self.scanner = catalog, scanner
        self._last: dict[str, float] = {}

    def reconcile(self, now: float | None = None) -> int:
        """Scan every function whose shortest scan interval has passed (all of them the
        first time); returns the jobs submitted."""
        now = now or time.monotonic()
        submitted = 0
        for fn in self.catalog.all():
            intervals = [i.scan_interval for i in fn.input or () if i.scan_interval]
            if not intervals or now - self._last.get(fn.name, -1e18) < min(intervals):
                continue
            self._last[fn.name] = now
            progress = None
            for progress in self.scanner.scan(fn):
                if self.stopping.is_set():
                    break
            if progress and progress.submitted:
                log.info("reconciliation of %s found %d object(s) with no job", fn.name,
                         progress.submitted)
                submitted += progress.submitted
        return submitted
