"""Running a job again by hand, after it failed or was cancelled (its dead letter): a new
attempt of the same job, on the function's current revision or on the one it was invoked
with, with the function's own retries counted afresh."""

from __future__ import annotations

import time

from core.catalog import FunctionCatalog
from core.errors import Conflict, NotFound
from core.jobs import Job, JobStatus
from core.store import JobStore
from jobs.submission import JobSubmitter

REDRIVABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


class Redriver:
    def __init__(self, store: JobStore, catalog: FunctionCatalog, submitter: JobSubmitter):
        self.store, self.catalog, self.submitter = store, catalog, submitter

    def redrive(self, job: Job, *, original_revision: bool = False) -> Job:
        """`job` queued again for its next attempt; 409 unless it failed or was cancelled."""
        if job.status not in REDRIVABLE:
            raise Conflict(f"job {job.id} is {job.status}; only a failed or cancelled job can "
                           "be run again")
        revision = job.revision
        if not original_revision:
            try:
                revision = self.catalog.get(job.function).revision
            except NotFound:
                raise NotFound(f"function {job.function!r} no longer exists; run the job on "
                               "the revision it was invoked with (revision=original)") from None
        queued = self.store.redrive(job.id, revision, time.time())
        if queued is None:
            raise Conflict(f"job {job.id} changed meanwhile; look at it again")
        self.submitter.publish(queued)
        return queued
