"""Runs one job message: decide whether to run it, run the attempt through the executor
inside the one failure boundary (`workers.failures`), its output shipped and its results
kept as it runs (`workers.shipping`, `workers.results`), and record the outcome once, while
the job's lease is still held."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import dramatiq

from core import metrics
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.errors import NotFound, SluiceError, Unavailable
from core.jobs import Job, Outcome, Reason
from core.settings import RetrySettings
from core.store import JobStore
from jobs.finishing import Finisher
from workers.concurrency import ConcurrencyLimits
from workers.executors.base import Attempt, Executor
from workers.failures import (TryAgain, decide, interrupted, past_the_last, retry_of_function,
                             unexpected)
from workers.leases import Lease, Leases
from workers.results import ResultsCollector
from workers.shipping import LogShipper
from workers.staging import captured, keep_logs
from workers.workdir import Workdir

log = logging.getLogger(__name__)
# How soon the message of a job whose dead worker's reaper is still at work comes back.
TAKE_OVER_RETRY_MS = 500


class JobRunner:
    def __init__(self, *, store: JobStore, blobs: Blobs, catalog: FunctionCatalog,
                 finisher: Finisher, executor: Executor, leases: Leases, shipper: LogShipper,
                 results: ResultsCollector, workdir: Path, retry: RetrySettings):
        self.store, self.blobs, self.catalog, self.finisher = store, blobs, catalog, finisher
        self.executor, self.leases, self.shipper = executor, leases, shipper
        self.results = results
        self.workdir, self.retry = workdir, retry
        self.concurrency = ConcurrencyLimits(store, catalog)

    def handle(self, job_id: str, function: str | None = None) -> None:
        """Run the job behind a message, of `function` (messages of earlier versions do not
        say), unless it is finished or alive elsewhere. Returning lets the message be
        acked; `dramatiq.Retry` has it delivered again later."""
        lease = self.leases.hold(job_id)
        if lease is None:
            metrics.MESSAGES_DROPPED.labels("running-here").inc()
            return
        try:
            job = self._claim(job_id, function)
            if job is None:
                return
            lease.claim(job.attempts)
            last = past_the_last(job, self.retry)
            finished = self._record(job, self._with_logs(last, job, None) if last is not None
                                    else self._attempt(job, lease))
        except Unavailable as exc:
            log.warning("job %s: the job store is out of reach (%s); trying again later",
                        job_id, exc.detail)
            raise dramatiq.Retry() from exc
        finally:
            self.leases.release(job_id)
        if finished is not None:
            self.finisher.announce(finished)

    def _attempt(self, job: Job, lease: Lease) -> Outcome | TryAgain:
        """The failure boundary: whatever the attempt raises becomes an outcome or a retry
        here, and nowhere else."""
        workdir = shipment = inbox = None
        try:
            workdir = Workdir.for_thread(self.workdir)
            fn = self.catalog.revision(job.function, job.revision)
            if lease.interrupted:
                return interrupted(job, Outcome(reason=Reason.INTERRUPTED))
            inbox = self.results.inbox(job.id, workdir)
            running = self.executor.start(Attempt(job=job, function=fn, workdir=workdir,
                                                  results=inbox))
            shipment = self.shipper.watch(job.id, job.attempts, workdir.stdout, workdir.stderr)
            lease.stop = running.kill
            if lease.lost or lease.interrupted:
                running.kill(Reason.INTERRUPTED if lease.interrupted else Reason.CANCELLED)
            outcome = running.wait()
            # Interrupted only if the kill found it running: an attempt that had ended keeps
            # its outcome (its outputs may be published already).
            verdict = interrupted(job, outcome) if outcome.reason is Reason.INTERRUPTED \
                else retry_of_function(job, fn.retry, outcome)
        except Exception as exc:
            verdict = decide(job, exc, self.retry)
            if isinstance(verdict, TryAgain):
                verdict = dataclasses.replace(
                    verdict, ended=self._with_logs(verdict.ended, job, workdir))
            else:
                verdict = self._with_logs(verdict, job, workdir)
        finally:
            shipped = shipment is not None and self.shipper.unwatch(shipment)
            if inbox is not None:
                # Already done when the attempt was staged out; else its socket goes.
                inbox.finish(files=False)
            if workdir is not None:
                workdir.clear_quietly()
        return _with_live_log(verdict) if shipped else verdict

    def _with_logs(self, outcome: Outcome, job: Job, workdir: Workdir | None) -> Outcome:
        """The failed attempt's log: what the function printed, if it ran here, then the
        reason, so that the answer and `sluice logs` say why."""
        limit = self.blobs.inline_max
        try:
            printed = [captured(path, limit) for path in (workdir.stdout, workdir.stderr)] \
                if workdir is not None else [b"", b""]
            logs = keep_logs(self.blobs, job, *printed, outcome.error)
        except (OSError, SluiceError):
            logs = keep_logs(self.blobs, job, b"", b"", outcome.error)
        return dataclasses.replace(outcome, stdout_ref=logs.stdout_ref,
                                   stderr_ref=logs.stderr_ref, inline_blobs=logs.inline_blobs)

    def _record(self, job: Job, verdict: Outcome | TryAgain) -> Job | None:
        """Record the verdict while the lease is held; the job as finished, if it is."""
        owner = self.leases.owner
        if isinstance(verdict, TryAgain):
            if self.store.release(job, owner, verdict.ended, due_at=time.time() + verdict.delay,
                                  retried=verdict.retry, counted=verdict.counted) is None:
                log.info("job %s ended while its attempt failed (cancelled?)", job.id)
                return None
            raise dramatiq.Retry(delay=int(verdict.delay * 1000))
        try:
            return self.finisher.record(job, owner, verdict)
        except Unavailable:
            raise
        except Exception as exc:
            # The outcome itself cannot be recorded: record that, so that the job ends.
            error = unexpected(exc, f"job {job.id}: recording its outcome")
            return self.finisher.record(job, owner, Outcome(reason=Reason.ERROR, error=error))

    def _claim(self, job_id: str, function: str | None) -> Job | None:
        now = time.time()
        limit = self.concurrency.limit_of(job_id, function)
        if limit is None:
            claimed = self.store.claim(job_id, self.leases.owner, now)
        else:
            claimed, superfluous = self.concurrency.claim(job_id, self.leases.owner, now, limit)
            if superfluous:
                return None
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
            if self.leases.owner_is_ending(job.owner):
                raise dramatiq.Retry(delay=TAKE_OVER_RETRY_MS)
            metrics.MESSAGES_DROPPED.labels("running-elsewhere").inc()
            return None
        log.info("job %s: attempt %d died with its worker; running it again",
                 job_id, job.attempts)
        claimed = self.store.claim(job_id, self.leases.owner, now, take_over_from=job.owner)
        if claimed is None:
            metrics.MESSAGES_DROPPED.labels("claimed-elsewhere").inc()
        return claimed


def _with_live_log(verdict: Outcome | TryAgain) -> Outcome | TryAgain:
    """The verdict, recorded with the deletion of the attempt's shipped chunks."""
    if isinstance(verdict, TryAgain):
        return dataclasses.replace(verdict, ended=dataclasses.replace(verdict.ended,
                                                                      live_log=True))
    return dataclasses.replace(verdict, live_log=True)
