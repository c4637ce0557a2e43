"""The service layer every API face calls: each method takes the caller and decides what it
may do, here and nowhere else. Blocking work (the job store, the broker, the object store)
runs on a bounded thread pool, never on the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core import callbacks, handoffs, metrics, runnable
from core.errors import BadRequest, Conflict, NotFound
from core.functions import Function, new_token, parse_document
from core.ids import is_job_id
from core.jobs import AttemptRecord, Job, OutputObject
from gateway.admission import Admission, Invocation
from gateway.auth import Caller
from gateway.following import STREAMS, LogFollower, Piece, Position
from gateway.results import ResultsService
from gateway.storage_access import StorageAccess
from gateway.waiting import Waiters
from jobs.context import JobContext
from jobs.purging import purge

log = logging.getLogger(__name__)


class Service(ResultsService, StorageAccess):
    def __init__(self, context: JobContext, pool: ThreadPoolExecutor, waiters: Waiters):
        self.context, self.pool, self.waiters = context, pool, waiters
        self.settings = context.settings
        self.store, self.objects, self.catalog = context.store, context.objects, context.catalog
        self.schedules = context.schedules
        self.admission = Admission(context)
        self.follower = LogFollower(self.store, context.blobs, waiters, self._run,
                                    stopping_grace=self.settings.worker.lease_seconds)

    async def _run(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, functools.partial(fn, *args, **kwargs))

    async def _iterate(self, iterator: Iterator) -> AsyncIterator:
        """The items of a blocking iterator, each fetched on the pool."""
        done = object()
        while (item := await self._run(next, iterator, done)) is not done:
            yield item

    async def about(self, caller: Caller) -> dict[str, str]:
        """What this installation runs on, for its administrator."""
        caller.require_admin()
        return {"executor": self.settings.worker.executor}

    # -- functions ------------------------------------------------------------------------

    async def create_functions(self, caller: Caller, document: Any) -> list[Function]:
        caller.require_admin()
        functions = parse_document(document, self.settings.s3.bucket)
        many = len(functions) > 1
        for fn in functions:
            runnable.check_deployable(fn, self.settings, f"functions.{fn.name}." if many else "")
        await self._run(self.schedules.refuse_past, functions, time.time(), many=many)
        deployed = [await self._run(self._deploy, fn, replace=False) for fn in functions]
        return await self._run(self.schedules.with_next_fire, deployed)

    async def put_function(self, caller: Caller, name: str, spec: Any, *,
                           new_token: bool = False) -> tuple[Function, bool]:
        """Create or replace; returns the function and whether it was created. A function
        replaced keeps its token, unless `new_token` (OSCAR's face: an update issues one)."""
        caller.require_admin()
        fn = Function.from_spec(spec, name=name).resolved(self.settings.s3.bucket)
        runnable.check_deployable(fn, self.settings)
        await self._run(self.schedules.refuse_past, [fn], time.time(), many=False)
        try:
            fn, created = await self._run(self._deploy, fn, replace=True,
                                          new_token=new_token), False
        except NotFound:
            fn, created = await self._run(self._deploy, fn, replace=False), True
        return (await self._run(self.schedules.with_next_fire, [fn]))[0], created

    async def rotate_token(self, caller: Caller, name: str) -> Function:
        """Give the function a new token; the old one invokes it no more."""
        caller.require_admin()
        await self._run(self.store.set_token, name, new_token())
        self.catalog.forget()
        return await self.get_function(caller, name)

    def _deploy(self, fn: Function, *, replace: bool, new_token: bool = False) -> Function:
        """Store a resolved function, creating its buckets and folders first."""
        handoffs.check_no_cycle(fn.name, fn.on_end, self._on_end_of)
        folders = {*((o.bucket, o.prefix) for o in fn.outputs),
                   *((i.bucket, i.prefix) for i in fn.input)}
        for bucket in {bucket for bucket, _ in folders}:
            self.objects.ensure_bucket(bucket)
        for bucket, prefix in folders:
            if prefix:
                self.objects.ensure_folder(bucket, prefix)
        stored = self.store.replace_function(fn, new_token=new_token) if replace \
            else self.store.create_function(fn)
        self.catalog.forget()
        return dataclasses.replace(fn, revision=stored.revision, token=stored.token)

    def _on_end_of(self, name: str) -> str | None:
        try:
            return self.catalog.get(name, fresh=True).on_end
        except NotFound:
            return None

    async def get_function(self, caller: Caller, name: str) -> Function:
        fn = await self._run(self.catalog.get, name, fresh=True)
        caller.require_function(fn)
        return (await self._run(self.schedules.with_next_fire, [fn]))[0]

    async def describe_function(self, caller: Caller, name: str
                                ) -> tuple[Function, dict[str, int]]:
        """The function and how many of its jobs are queued and running: one trip to the
        pool."""
        def described() -> tuple[Function, dict[str, int]]:
            fn = self.catalog.get(name, fresh=True)
            caller.require_function(fn)
            return self.schedules.with_next_fire([fn])[0], self.store.queue_depth(fn.name)
        return await self._run(described)

    async def callback_secret(self, caller: Caller, name: str) -> str:
        """The key that signs the function's callbacks: for its owner (the admin, or
        whoever holds its token) to check them with."""
        return callbacks.secret((await self.get_function(caller, name)).token)

    async def list_functions(self, caller: Caller) -> list[Function]:
        caller.require_admin()
        return await self._run(lambda: self.schedules.with_next_fire(self.catalog.all(fresh=True)))

    async def delete_function(self, caller: Caller, name: str) -> None:
        caller.require_admin()
        await self._run(self.store.delete_function, name)
        self.catalog.forget()

    # -- invocations ----------------------------------------------------------------------

    async def invoke(self, caller: Caller, request: Invocation) -> tuple[Job, bool]:
        """Accept an invocation and, unless it is asynchronous, wait for it up to the caller's
        bound. Returns the job and whether it is new (not found by its idempotency key)."""
        job, created, wait = await self._run(self.admission.accept, caller, request)
        metrics.INVOCATIONS.labels(job.function, "async" if wait is None else "sync").inc()
        if wait is not None and not job.status.terminal:
            job = await self._wait_for(job, wait)
        return job, created

    async def _wait_for(self, job: Job, timeout: float) -> Job:
        timeout = min(timeout, self.settings.max_wait_seconds)
        return await self.waiters.wait(job, timeout, self._load)

    async def _load(self, job_id: str) -> Job:
        return await self._run(self.store.get_job, job_id)

    # -- jobs -----------------------------------------------------------------------------

    async def get_job(self, caller: Caller, job_id: str, wait: float | None = None) -> Job:
        job = await self._authorized_job(caller, job_id)
        if wait and not job.status.terminal:
            job = await self._wait_for(job, wait)
        return job

    async def _authorized_job(self, caller: Caller, job_id: str) -> Job:
        if not is_job_id(job_id):
            raise NotFound(f"job {job_id!r} does not exist")
        job = await self._run(self.store.get_job, job_id)
        if not caller.admin:
            try:
                fn = await self._run(self.catalog.get, job.function)
            except NotFound:
                caller.require_admin()
            else:
                caller.require_function(fn)
        return job

    async def list_jobs(self, caller: Caller, *, function: str | None, status: str | None,
                        limit: int, cursor: str | None, synchronous: bool | None = None
                        ) -> list[Job]:
        await self._may_list(caller, function)
        return await self._run(self.store.list_jobs, function=function, status=status,
                               limit=limit, before=cursor, synchronous=synchronous)

    async def count_jobs(self, caller: Caller, *, function: str | None, cursor: str | None,
                         synchronous: bool | None = None) -> int:
        """How many jobs `list_jobs` lists from `cursor` on, all pages together."""
        await self._may_list(caller, function)
        return await self._run(self.store.count_jobs, function=function, before=cursor,
                               synchronous=synchronous)

    async def _may_list(self, caller: Caller, function: str | None) -> None:
        if not caller.admin:
            if not function:
                raise BadRequest("a function's token must name its function: ?function=NAME")
            caller.require_function(await self._run(self.catalog.get, function))

    async def delete_jobs(self, caller: Caller, function: str, job_ids: list[str] | None, *,
                          include_active: bool = False, status: str | None = None,
                          synchronous: bool | None = None) -> int:
        """Delete the function's jobs (all of them, or those in `status`, when `job_ids` is
        None); active ones are cancelled first when `include_active`, otherwise left alone."""
        caller.require_function(await self._run(self.catalog.get, function))
        if job_ids is None:
            jobs = await self._run(self.store.list_jobs, function=function, status=status,
                                   limit=100_000, synchronous=synchronous)
        else:
            jobs = [await self._authorized_job(caller, job_id) for job_id in job_ids]
            if any(job.function != function for job in jobs):
                raise NotFound(f"no such job of {function!r}")
        if include_active or job_ids is not None:
            for job in jobs:
                if not job.status.terminal:
                    await self._run(self.context.finisher.cancel, job.id)
        return await self._run(self.store.delete_jobs, [job.id for job in jobs])

    async def purge_job(self, caller: Caller, job_id: str) -> None:
        """Delete a finished job's record, logs and outputs."""
        job = await self._authorized_job(caller, job_id)
        await self._run(purge, self.store, self.objects, job)

    async def count_queued(self, caller: Caller, function: str) -> int:
        """How many of the function's jobs wait to start."""
        caller.require_function(await self._run(self.catalog.get, function))
        return await self._run(self.store.count_queued, function)

    async def cancel_queued(self, caller: Caller, function: str) -> list[Job]:
        """Cancel every job of the function that has not started."""
        caller.require_function(await self._run(self.catalog.get, function))
        return await self._run(self.context.finisher.cancel_queued, function)

    async def retry_job(self, caller: Caller, job_id: str, *, original_revision: bool) -> Job:
        """Run a failed or cancelled job again, as its next attempt."""
        job = await self._authorized_job(caller, job_id)
        return await self._run(functools.partial(self.context.redriver.redrive, job,
                                                 original_revision=original_revision))

    async def cancel_job(self, caller: Caller, job_id: str) -> Job:
        job = await self._authorized_job(caller, job_id)
        cancelled = await self._run(self.context.finisher.cancel, job.id)
        return cancelled if cancelled is not None else job

    async def logs(self, caller: Caller, job_id: str, stream: str,
                   attempt: int | None = None) -> bytes:
        """What the job's last attempt printed, or the given attempt's."""
        job = await self._authorized_job(caller, job_id)
        ran = job if attempt is None else await self._attempt(job, attempt)
        refs = {"stdout": [ran.stdout_ref], "stderr": [ran.stderr_ref],
                "all": [ran.stdout_ref, ran.stderr_ref]}[stream]
        return await self._blobs(refs)

    async def follow_logs(self, caller: Caller, job_id: str, stream: str,
                          attempt: int | None = None, since: Position | None = None
                          ) -> tuple[Job, AsyncIterator[Piece]]:
        """The job, and its log as it is printed (`gateway.following`): of its current
        attempt and those after it, or from `attempt`, or from where a follower got to."""
        job = await self._authorized_job(caller, job_id)
        start = since or Position(attempt or max(job.attempts, 1))
        if job.status.terminal and start.attempt > max(job.attempts, 1):
            raise NotFound(f"job {job.id} has no attempt {start.attempt}")
        return job, self.follower.pieces(job, STREAMS[stream], start)

    async def attempts(self, caller: Caller, job_id: str) -> tuple[Job, list[AttemptRecord]]:
        """The job and its attempts that ended, the first first."""
        job = await self._authorized_job(caller, job_id)
        return job, await self._run(self.store.list_attempts, job.id)

    async def _attempt(self, job: Job, number: int) -> AttemptRecord:
        for ended in await self._run(self.store.list_attempts, job.id):
            if ended.number == number:
                return ended
        raise NotFound(f"job {job.id} has no attempt {number} that ended")

    async def _blobs(self, refs: list[str | None]) -> bytes:
        return await self._run(self._read_blobs, refs)

    def _read_blobs(self, refs: list[str | None]) -> bytes:
        return b"".join(self.context.blobs.get(ref) for ref in refs if ref)

    async def output_manifest(self, caller: Caller, job_id: str) -> tuple[Job, list[dict]]:
        job = await self._authorized_job(caller, job_id)
        manifest = []
        for output in job.outputs:
            url = await self._run(self.objects.presign, output.bucket, output.key)
            manifest.append({**output.to_dict(), "url": url})
        return job, manifest

    async def open_output(self, caller: Caller, job_id: str, name: str
                          ) -> tuple[OutputObject, AsyncIterator[bytes]]:
        """The output's record and its bytes, as they come."""
        job = await self._authorized_job(caller, job_id)
        output = _find_output(job, name)
        stored = await self._run(self.objects.stat, output.bucket, output.key)
        if output.etag and stored.etag != output.etag:
            raise _overwritten(job, output)
        chunks = await self._run(self.objects.stream, output.bucket, output.key,
                                 etag=output.etag)
        return output, self._iterate(chunks)

    async def read_output(self, job: Job, name: str) -> bytes:
        """The output's bytes as the job wrote them, never those of a later job that wrote
        a file of that name in the flat layout."""
        output = _find_output(job, name)
        try:
            return await self._run(self.objects.get_bytes, output.bucket, output.key,
                                   output.etag)
        except Conflict:
            raise _overwritten(job, output) from None

    async def stdout_and_log(self, job: Job) -> bytes:
        """What a synchronous call with no output file answers: stdout, then the log unless
        the function asked for CRITICAL logging only; one trip to the pool, none for a job
        that printed nothing."""
        if job.stdout_ref is None and job.stderr_ref is None:
            return b""
        return await self._run(self._stdout_and_log, job)

    def _stdout_and_log(self, job: Job) -> bytes:
        fn = self.catalog.revision(job.function, job.revision)
        return self._read_blobs([job.stdout_ref] + (
            [job.stderr_ref] if fn.log_level != "CRITICAL" else []))


def _overwritten(job: Job, output: OutputObject) -> Conflict:
    return Conflict(f"output {output.name!r} of job {job.id} was replaced by a later job's "
                    f"file of that name ({output.bucket}/{output.key}: the flat layout keeps "
                    "the last one)")


def _find_output(job: Job, name: str) -> OutputObject:
    for output in job.outputs:
        if output.name == name:
            return output
    raise NotFound(f"job {job.id} has no output named {name!r}")
