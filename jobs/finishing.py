"""How a job ends: its outcome recorded once, then the gateways told (to wake its waiters)
and the listeners told about the objects it wrote (so that the functions watching its output
folder run next, on any S3 server), and the job handed to its function's `on_failure` and
`on_end` (`core.handoffs`). Cancelling ends a job the same way."""

from __future__ import annotations

import json
import logging
import time

from broker.events import Events
from core import metrics
from core.abaco.context import link_message
from core.catalog import FunctionCatalog
from core.errors import SluiceError
from core.events import ObjectEvent
from core.functions import Function
from core.jobs import Job, JobStatus, Outcome, Trigger
from core.store import JobStore
from jobs.submission import JobSubmitter

log = logging.getLogger(__name__)


class Finisher:
    def __init__(self, store: JobStore, events: Events, catalog: FunctionCatalog,
                 submitter: JobSubmitter, max_depth: int):
        self.store, self.events = store, events
        self.catalog, self.submitter = catalog, submitter
        self.max_depth = max_depth

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
        self._hand_over(finished)
        return finished

    def _hand_over(self, job: Job) -> None:
        """Invoke the function's `on_failure` with a failed job's record, and its `on_end`
        with an ended job's (once per attempt that ended, by idempotency key). A failure's
        handler hands no failure on: failure handlers do not chain. `on_end` does, as
        Abaco's links do, until the chain is `max_depth` jobs deep."""
        try:
            fn = self.catalog.revision(job.function, job.revision)
        except SluiceError as exc:
            log.warning("job %s ended and its function could not be read to hand the job "
                        "on: %s", job.id, exc.detail)
            return
        failed = job.status is JobStatus.FAILED and job.trigger is not Trigger.FAILURE
        if fn.on_failure and failed:
            self._hand(job, fn, "on_failure", Trigger.FAILURE)
        if fn.on_end and job.depth + 1 >= self.max_depth:
            log.warning("job %s ended %d deep in a chain of on_end; it is not handed on to "
                        "%s", job.id, job.depth + 1, fn.on_end)
        elif fn.on_end:
            self._hand(job, fn, "on_end", Trigger.END)

    def _hand(self, job: Job, fn: Function, field: str, trigger: Trigger) -> None:
        try:
            target = self.catalog.get(getattr(fn, field))
            record = link_message(job, fn) if trigger is Trigger.END and target.abaco \
                else json.dumps({"job": job.to_dict()}).encode()
            key = f"{field.replace('_', '-')}:{job.id}:{job.attempts}"
            self.submitter.submit(target, trigger=trigger, body=record,
                                  content_type="application/json", depth=job.depth + 1,
                                  idempotency_key=key)
        except SluiceError as exc:
            log.warning("job %s ended and its %s could not be invoked: %s", job.id, field,
                        exc.detail)

    def cancel(self, job_id: str) -> Job | None:
        """queued or running -> cancelled (a running attempt stops at its next heartbeat);
        None when the job had already ended."""
        cancelled = self.store.cancel(job_id, time.time())
        if cancelled is not None:
            metrics.JOBS_FINISHED.labels(cancelled.function, cancelled.status).inc()
            self.announce(cancelled)
            self._hand_over(cancelled)
        return cancelled

    def cancel_queued(self, function: str) -> list[Job]:
        """Cancel every job of `function` that has not started."""
        cancelled = self.store.cancel_queued(function, time.time())
        for job in cancelled:
            metrics.JOBS_FINISHED.labels(job.function, job.status).inc()
            self.announce(job)
            self._hand_over(job)
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
