"""A function's `concurrency`: at most so many of its jobs run at once, on every worker of
every machine together. The limit is kept by the job store's claim (`claim_within`); a job
that finds its function full stays queued and its message comes back later, sooner while
it has waited little and at most every `MAX_DELAY` seconds (so that a long queue behind a
limit of 1 does not turn into a stream of claims)."""

from __future__ import annotations

import random
import threading

import dramatiq

from core import metrics
from core.catalog import FunctionCatalog
from core.errors import NotFound
from core.jobs import Job
from core.store import JobStore
from core.store.jobstore import Deferral

FIRST_DELAY = 0.25
MAX_DELAY = 10.0
# The jobs whose deferrals are counted: those deferred here and then claimed elsewhere are
# forgotten past so many.
MAX_COUNTED = 10_000


class ConcurrencyLimits:
    def __init__(self, store: JobStore, catalog: FunctionCatalog):
        self.store, self.catalog = store, catalog
        self._deferrals: dict[str, int] = {}
        self._lock = threading.Lock()

    def limit_of(self, job_id: str, function: str | None) -> tuple[str, int] | None:
        """The function of the job and its limit, as its current revision has it; None for
        a function without one, or deleted."""
        try:
            name = function or self.store.get_job(job_id).function
            limit = self.catalog.get(name).concurrency
        except NotFound:
            return None
        return (name, limit) if limit else None

    def claim(self, job_id: str, owner: str, now: float, limit: tuple[str, int]
              ) -> tuple[Job | None, bool]:
        """Claim the job within its function's limit, and whether its message is one too
        many (another is due later); `dramatiq.Retry` when the function is full."""
        function, most = limit
        delay = self._next_delay(job_id)
        claimed, deferral = self.store.claim_within(job_id, owner, now, function=function,
                                                    limit=most, retry_at=now + delay)
        if deferral is Deferral.FULL:
            metrics.JOBS_DEFERRED.labels(function).inc()
            raise dramatiq.Retry(delay=int(delay * 1000))
        with self._lock:
            self._deferrals.pop(job_id, None)
        if deferral is Deferral.LATER:
            metrics.MESSAGES_DROPPED.labels("deferred").inc()
        return claimed, deferral is Deferral.LATER

    def _next_delay(self, job_id: str) -> float:
        """Doubling with each time the job found its function full here, half of it random."""
        with self._lock:
            if len(self._deferrals) >= MAX_COUNTED:
                self._deferrals.clear()
            times = self._deferrals.get(job_id, 0)
            self._deferrals[job_id] = times + 1
        delay = min(FIRST_DELAY * 2 ** times, MAX_DELAY)
        return delay * (0.5 + random.random() / 2)
