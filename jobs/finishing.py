"""How a job ends: its outcome recorded once, then the gateways told (to wake its waiters)
and the listeners told about the objects it wrote (so that the functions watching its output
folder run next, on any S3 server). Cancelling ends a job the same way."""

from __future__ import annotations

import logging
import time

from broker.events import Events
from core import metrics
from core.errors import SluiceError
from core.events import ObjectEvent
from core.jobs import Job, Outcome
from core.store import JobStore

log = logging.getLogger(__name__)


class Finisher:
    def __init__(self, store: JobStore, events: Events):
        self.store, self.events = store, events

    def record(self, job: Job, owner: str, outcome: Outcome) -> Job | None:
        """Record the outcome of `owner`'s attempt; None when the job had ended meanwhile:
        cancelled (its log and measures are kept on it), or taken over. `announce` the job
        next."""
        now = time.time()
        finished = self.store.finish(job, owner, outcome, now)
        if finished is None:
            if self.store.keep_cancelled_logs(job, owner, outcome, now) is not None:
                log.info("job %s was cancelled while it ran; its log is kept", job.id)
            else:
                log.info("job %s ended elsewhere while it ran; outcome discarded", job.id)
            return None
        metrics.JOBS_FINISHED.labels(finished.function, finished.status).inc()
        metrics.JOB_DURATION.labels(finished.function, finished.status).observe(finished.runtime)
        return finished

    def cancel(self, job_id: str) -> Job | None:
        """queued or running -> cancelled (a running attempt stops at its next heartbeat);
        None when the job had already ended."""
        cancelled = self.store.cancel(job_id, time.time())
        if cancelled is not None:
            metrics.JOBS_FINISHED.labels(cancelled.function, cancelled.status).inc()
            self.announce(cancelled)
        return cancelled

    def cancel_queued(self, function: str) -> list[Job]:
        """Cancel every job of `function` that has not started."""
        cancelled = self.store.cancel_queued(function, time.time())
        for job in cancelled:
            metrics.JOBS_FINISHED.labels(job.function, job.status).inc()
            self.announce(job)
        return cancelled

    def announce(self, job: Job) -> None:
        """Tell the waiters that the job ended, and the listeners what it wrote."""
        self.events.publish_finished(job.id, job.function, job.status)
        for output in job.outputs:
            event = ObjectEvent(bucket=output.bucket, key=output.key, etag=output.etag,
                                size=output.size, depth=job.depth + 1, source="internal")
            try:
                self.events.publish_object_created(event)
            except SluiceError as exc:
                # The storage webhook or the next reconciliation scan still finds it.
                log.warning("could not announce an output of job %s: %s", job.id, exc.detail)
