"""Runs one job message: decide whether to run it, run the attempt, record the outcome once."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from broker.events import Events
from core import metrics
from core.blobs import Blobs
from core.errors import NotFound, SluiceError
from core.events import ObjectEvent
from core.functions import Function
from core.jobs import Job, JobStatus, Outcome, Reason, blob_key
from core.objects import ObjectStore
from core.store import JobStore
from workers.executors.base import Executor, Invocation
from workers.leases import Lease, Leases
from workers.staging import Workdir, environment, input_path, stage_in, stage_out

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, *, store: JobStore, objects: ObjectStore, blobs: Blobs, events: Events,
                 executor: Executor, leases: Leases, workdir: Path, bucket: str):
        self.store, self.objects, self.blobs, self.events = store, objects, blobs, events
        self.executor, self.leases = executor, leases
        self.workdir, self.bucket = workdir, bucket
        self._buckets: set[str] = set()
        self._functions: dict[tuple[str, int], Function] = {}

    def handle(self, job_id: str) -> None:
        """Run the job behind a message, unless it is finished or alive elsewhere. Returning
        lets the message be acked; raising leaves it to be retried."""
        lease = self.leases.hold(job_id)
        if lease is None:
            metrics.MESSAGES_DROPPED.labels("running-here").inc()
            return
        try:
            job = self._claim(job_id)
            if job is None:
                return
            lease.claimed = True
            outcome = self._attempt(job, lease)
        finally:
            self.leases.release(job_id)
        finished = self.store.finish(job.id, self.leases.owner, outcome, time.time())
        if finished is None:
            log.info("job %s ended elsewhere while it ran (cancelled?); outcome discarded", job.id)
            return
        metrics.JOBS_FINISHED.labels(finished.function, finished.status).inc()
        metrics.JOB_DURATION.labels(finished.function, finished.status).observe(finished.runtime)
        self.events.publish_finished(finished.id, finished.function, finished.status)
        self._announce(finished)

    def _announce(self, job: Job) -> None:
        """Tell the listeners about the objects the job wrote, so functions watching the
        output folder run next, on any S3 server."""
        for output in job.outputs:
            event = ObjectEvent(bucket=output.bucket, key=output.key, etag=output.etag,
                                size=output.size, depth=job.depth + 1, source="internal")
            try:
                self.events.publish_object_created(event)
            except SluiceError as exc:
                # The storage webhook or the next reconciliation scan still finds it.
                log.warning("could not announce an output of job %s: %s", job.id, exc.detail)

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

    def _function(self, job: Job) -> Function:
        """The job's function as it was when invoked; parsed once per revision."""
        key = (job.function, job.revision)
        fn = self._functions.get(key)
        if fn is None:
            if len(self._functions) > 1024:
                self._functions.clear()
            fn = self._functions[key] = Function.from_spec(
                job.spec, token="-", revision=job.revision).resolved(self.bucket)
        return fn

    def _attempt(self, job: Job, lease: Lease) -> Outcome:
        fn = self._function(job)
        workdir = Workdir.for_thread(self.workdir)
        try:
            bucket = fn.output.bucket
            if bucket not in self._buckets:
                self.objects.ensure_bucket(bucket)
                self._buckets.add(bucket)
            if self.executor.stages_itself:
                input_file = input_path(job, workdir)
            else:
                input_file = stage_in(job, workdir, self.blobs, self.objects)
            invocation = Invocation(
                argv=tuple(fn.argv()), environment=environment(job, fn, workdir, input_file),
                workdir=workdir.root, stdout=workdir.stdout, stderr=workdir.stderr,
                timeout=fn.timeout, memory=fn.memory, cpu=fn.cpu, image=fn.image,
                network=fn.network, job=job, function=fn)
            running = self.executor.start(invocation)
            lease.on_lost = lambda: running.kill(Reason.CANCELLED)
            if lease.lost:
                running.kill(Reason.CANCELLED)
            execution = running.wait()
            outputs = execution.outputs
            if outputs is None:
                outputs = stage_out(job, fn, workdir, self.objects)
            if execution.stdout_ref is not None:
                stdout_ref, inline = execution.stdout_ref, {}
            else:
                stdout_ref, inline = self.blobs.prepare(blob_key("stdout", job.id),
                                                        workdir.stdout.read_bytes())
            stderr_ref, inline_err = self.blobs.prepare(blob_key("stderr", job.id),
                                                        _stderr(workdir, execution.error))
        except SluiceError as exc:
            log.warning("job %s failed in staging: %s", job.id, exc.detail)
            return Outcome(status=JobStatus.FAILED, reason=Reason.ERROR, error=exc.detail)
        finally:
            workdir.clear()
        failed = execution.exit_code != 0 or execution.reason is not None
        return Outcome(
            status=JobStatus.FAILED if failed else JobStatus.SUCCEEDED,
            exit_code=execution.exit_code, reason=execution.reason, error=execution.error,
            cpu_seconds=execution.cpu_seconds, peak_memory=execution.peak_memory,
            bytes_out=sum(o.size for o in outputs), outputs=outputs,
            stdout_ref=stdout_ref, stderr_ref=stderr_ref, inline_blobs=inline | inline_err)


def _stderr(workdir: Workdir, error: str | None) -> bytes:
    data = workdir.stderr.read_bytes()
    return data + f"sluice: {error}\n".encode() if error else data
