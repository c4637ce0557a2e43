"""Submitting a job: commit its row (and inline input), then publish its message. Every
source of jobs (the API faces, storage events, scans, schedules) goes through here."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from broker.publishing import JobPublisher
from core.blobs import Blobs
from core.callbacks import Callback
from core.errors import Unavailable
from core.events import ObjectEvent
from core.functions import Function
from core.ids import new_id
from core.jobs import Job, JobStatus, Trigger, blob_key
from core.periodic import Recurring
from core.store import JobStore

log = logging.getLogger(__name__)


class PendingPublishes(Recurring):
    """Jobs committed while the broker was out of reach, published again every second, so
    that they start within moments of its return instead of at the sweeper's next look
    (`SLUICE_REQUEUE_AFTER`). What a process that dies forgets, or what is past `LIMIT`,
    the sweeper still publishes."""

    LIMIT = 100_000
    INTERVAL = 1.0

    def __init__(self, publisher: JobPublisher):
        super().__init__("sluice-pending-publishes", self.INTERVAL, self.flush)
        self.publisher = publisher
        self._jobs: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, job_id: str, function: str) -> None:
        with self._lock:
            if len(self._jobs) >= self.LIMIT:
                self._jobs.pop(next(iter(self._jobs)))
            self._jobs[job_id] = function

    def flush(self) -> int:
        """Publish the pending jobs, oldest first, until the broker refuses; how many."""
        with self._lock:
            pending = list(self._jobs.items())
        published = 0
        for job_id, function in pending:
            try:
                self.publisher.publish(job_id, function)
            except Unavailable:
                break
            with self._lock:
                self._jobs.pop(job_id, None)
            published += 1
        if published:
            log.info("published %d jobs accepted while the broker was away", published)
        return published


class JobSubmitter:
    def __init__(self, store: JobStore, blobs: Blobs, publisher: JobPublisher):
        self.store, self.blobs, self.publisher = store, blobs, publisher
        self.pending = PendingPublishes(publisher)

    def submit(self, fn: Function, *, trigger: Trigger, body: bytes = b"",
               content_type: str | None = None, idempotency_key: str | None = None,
               source: ObjectEvent | None = None, depth: int = 0,
               callback: Callback | None = None, params: Mapping[str, str] | None = None,
               synchronous: bool = False) -> tuple[Job, bool]:
        """Returns the job and whether it is new; an idempotency key already used returns
        the job that has it. A job that cannot be published yet is kept: the sweeper
        publishes it once the broker is back. The job's `callback` is the one given (an
        invocation's own), or else the function's."""
        job_id = new_id()
        input_ref, inline = self.blobs.prepare(blob_key("inputs", job_id), body)
        size = source.size or 0 if source else len(body)
        callback = callback or fn.callback
        job = Job(id=job_id, function=fn.name, revision=fn.revision, trigger=trigger,
                  status=JobStatus.QUEUED, created_at=time.time(),
                  idempotency_key=idempotency_key, input_ref=input_ref, input_size=size,
                  bytes_in=size, content_type=content_type, params=dict(params or {}),
                  depth=depth,
                  source_bucket=source.bucket if source else None,
                  source_key=source.key if source else None,
                  source_version=source.version_tag if source else None,
                  event=source.to_dict() if source else None,
                  callback_url=callback.url if callback else None,
                  callback_on=callback.on if callback else (), synchronous=synchronous)
        job, created = self.store.create_job(job, inline)
        if created:
            self.publish(job)
        return job, created

    def publish(self, job: Job) -> None:
        """Publish a committed job's message, or, while the broker is away, keep it to be
        published as soon as the broker is back."""
        try:
            self.publisher.publish(job.id, job.function)
        except Unavailable as exc:
            log.warning("job %s accepted but not yet published: %s", job.id, exc.detail)
            self.pending.add(job.id, job.function)
