"""Runs one job message: decide whether to run it, run the attempt through the executor
inside the one failure boundary (`workers.failures`), and record the outcome once."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from core import metrics
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.errors import NotFound, Unavailable
from core.jobs import Job, Outcome, Reason
from core.settings import RetrySettings
from core.store import JobStore
from jobs.finishing import Finisher
from workers.executors.base import Attempt, Executor
from workers.failures import Retry, RetryLater, decide
from workers.leases import Lease, Leases
from workers.staging import keep_logs
from workers.workdir import Workdir

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, *, store: JobStore, blobs: Blobs, catalog: FunctionCatalog,
                 finisher: Finisher, executor: Executor, leases: Leases, workdir: Path,
                 retry: RetrySettings):
        self.store, self.blobs, self.catalog, self.finisher = store, blobs, catalog, finisher
        self.executor, self.leases = executor, leases
        self.workdir, self.retry = workdir, retry

    def handle(self, job_id: str) -> None:
        """Run the job behind a message, unless it is finished or alive elsewhere. Returning
        lets the message be acked; `RetryLater` asks for it to be delivered again."""
        lease = self.leases.hold(job_id)
        if lease is None:
            metrics.MESSAGES_DROPPED.labels("running-here").inc()
            return
        try:
            job = self._claim(job_id)
            if job is None:
                return
            lease.claimed = True
            verdict = self._attempt(job, lease)
        except Unavailable as exc:
            log.warning("job %s: the job store is out of reach (%s); trying again later",
                        job_id, exc.detail)
            raise RetryLater() from exc
        finally:
            self.leases.release(job_id)
        self._record(job, verdict)

    def _attempt(self, job: Job, lease: Lease) -> Outcome | Retry:
        """The failure boundary: whatever the attempt raises becomes an outcome or a retry
        here, and nowhere else."""
        workdir = Workdir.for_thread(self.workdir)
        try:
            fn = self.catalog.revision(job.function, job.revision)
            running = self.executor.start(Attempt(job=job, function=fn, workdir=workdir))
            lease.on_lost = lambda: running.kill(Reason.CANCELLED)
            if lease.lost:
                running.kill(Reason.CANCELLED)
            return running.wait()
        except Exception as exc:
            verdict = decide(job, exc, self.retry)
        finally:
            workdir.clear()
        if isinstance(verdict, Outcome):
            # The reason is the job's log, as for any attempt: the answer and `sluice logs`.
            logs = keep_logs(self.blobs, job.id, b"", b"", verdict.error)
            verdict = dataclasses.replace(verdict, stderr_ref=logs.stderr_ref,
                                          inline_blobs=logs.inline_blobs)
        return verdict

    def _record(self, job: Job, verdict: Outcome | Retry) -> None:
        owner = self.leases.owner
        try:
            if isinstance(verdict, Outcome):
                self.finisher.finish(job, owner, verdict)
                return
            if self.store.release(job.id, owner, error=verdict.error,
                                  due_at=time.time() + verdict.delay) is None:
                log.info("job %s ended while it waited to be tried again (cancelled?)", job.id)
                return
        except Unavailable as exc:
            log.warning("job %s: the job store is out of reach (%s); its attempt will run "
                        "again", job.id, exc.detail)
            raise RetryLater() from exc
        raise RetryLater(verdict.delay)

    def _claim(self, job_id: str) -> Job | None:
        now = time.time()
        claimed = self.store.claim(job_id, self.leases.owner, now)
        if claimed is None:
            claimed = self._take_over(job_id, now)
        if claimed is not None:
            metrics.QUEUE_WAIT.labels(claimed.function).observe(max(0.0, now - claimed.created_at))
        return claimed

    def _take_over(self, job_id: str, now: float) -> Job | None:
        """The job was not queued: run it again only if its last attempt died."""
        try:
            job = self.store.get_job(job_id)
        except NotFound:
            log.warning("message for unknown job %s dropped", job_id)
            metrics.MESSAGES_DROPPED.labels("unknown").inc()
            return None
        if job.status.terminal:
            metrics.MESSAGES_DROPPED.labels("finished").inc()
            return None
        if not self.leases.owner_is_gone(job.owner, job.heartbeat_at, now):
            metrics.MESSAGES_DROPPED.labels("running-elsewhere").inc()
            return None
        log.info("job %s: attempt %d died with its worker; running it again",
                 job_id, job.attempts)
        claimed = self.store.claim(job_id, self.leases.owner, now, take_over_from=job.owner)
        if claimed is None:
            metrics.MESSAGES_DROPPED.labels("claimed-elsewhere").inc()
        return claimed
