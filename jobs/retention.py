"""The janitor: ended jobs older than their function's `retention` (or the platform's
`SLUICE_RETENTION`, also for the jobs of deleted functions) are deleted with their logs and
outputs, a small batch at a time with a pause between batches, so that invocations do not
wait on it. Results past their TTL go the same way. Every worker runs one; deleting is
idempotent, so they need not agree."""

from __future__ import annotations

import logging
import time

from core import metrics
from core.catalog import FunctionCatalog
from core.objects import ObjectStore
from core.periodic import Recurring
from core.store import JobStore
from jobs.purging import purge_ended

log = logging.getLogger(__name__)
BATCH = 200
PAUSE_SECONDS = 0.05


class Janitor(Recurring):
    def __init__(self, store: JobStore, objects: ObjectStore, catalog: FunctionCatalog, *,
                 default_retention: float, interval: float):
        super().__init__("sluice-janitor", interval, self.sweep)
        self.store, self.objects, self.catalog = store, objects, catalog
        self.default_retention = default_retention

    def sweep(self, now: float | None = None) -> int:
        """Delete what has expired at `now`; how many jobs."""
        now = now or time.time()
        self._expire_results(now)
        functions = self.catalog.all(fresh=True)
        deleted = 0
        for fn in functions:
            deleted += self._expire(now - (fn.retention or self.default_retention),
                                    function=fn.name)
        deleted += self._expire(now - self.default_retention,
                                not_of=[fn.name for fn in functions])
        if deleted:
            log.info("janitor: deleted %d jobs past their retention", deleted)
        return deleted

    def _expire_results(self, now: float) -> None:
        removed = 0
        while not self.stopping.is_set():
            batch = self.store.expire_results(now, BATCH)
            removed += batch
            if batch < BATCH or self.stopping.wait(PAUSE_SECONDS):
                break
        if removed:
            log.info("janitor: deleted %d results past their TTL", removed)

    def _expire(self, before: float, **which) -> int:
        deleted = 0
        while not self.stopping.is_set():
            batch = self.store.expired(before, BATCH, **which)
            if batch:
                gone = purge_ended(self.store, self.objects, batch)
                deleted += gone
                metrics.JOBS_EXPIRED.inc(gone)
            if len(batch) < BATCH or self.stopping.wait(PAUSE_SECONDS):
                break
        return deleted
