"""The sweeper: nothing accepted is lost. It publishes again the jobs that are queued in the
store without a recent publish (broker restart, crash between commit and publish) and the
running jobs whose lease lapsed (their worker died); duplicates are dropped by the runner."""

from __future__ import annotations

import logging
import time

from broker.publishing import JobPublisher
from core import metrics
from core.errors import SluiceError
from core.periodic import Recurring
from core.settings import WorkerSettings
from core.store import JobStore

log = logging.getLogger(__name__)


class Sweeper(Recurring):
    def __init__(self, store: JobStore, publisher: JobPublisher, settings: WorkerSettings):
        super().__init__("sluice-sweeper", settings.sweep_interval_seconds, self.sweep)
        self.store, self.publisher, self.settings = store, publisher, settings

    def sweep(self, now: float | None = None) -> int:
        """Publish what needs publishing once; returns how many jobs were published."""
        now = now or time.time()
        return self._publish(self.store.jobs_to_republish(
            now, queued_before=now - self.settings.requeue_after_seconds,
            heartbeat_before=now - self.settings.lease_seconds), now)

    def _publish(self, jobs: list, now: float | None = None) -> int:
        now = now or time.time()
        published = []
        for job in jobs:
            try:
                self.publisher.publish(job.id, job.function)
            except SluiceError as exc:
                log.warning("sweeper could not publish job %s: %s", job.id, exc.detail)
                break
            metrics.JOBS_REPUBLISHED.labels(job.status).inc()
            published.append(job.id)
        self.store.mark_published(published, now)
        if published:
            log.info("sweeper published %d job(s) again", len(published))
        return len(published)

    def requeue_unfinished(self) -> int:
        """Publish every queued or running job: for a broker that starts empty (in-process),
        where nothing unfinished can still be alive."""
        now = time.time()
        return self._publish(self.store.jobs_to_republish(
            now, queued_before=now + 1, heartbeat_before=now + 1))
