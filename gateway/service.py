"""The service layer every API face calls. Blocking work (the job store, the broker, the
object store) runs on a bounded thread pool, never on the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from broker.events import Events
from broker.publishing import JobPublisher
from broker.routing import EventRouter
from broker.submission import JobSubmitter
from core import metrics
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.errors import Invalid, NotFound
from core.functions import Function, parse_document
from core.ids import is_job_id
from core.jobs import Job, JobStatus, OutputObject, Trigger
from core.objects import ObjectStore
from core.settings import Settings
from core.store import JobStore
from gateway.auth import Caller
from gateway.waiting import Waiters

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Invocation:
    """What a face asks for: the function, the input, and how long the caller will wait."""

    function: str
    body: bytes
    content_type: str | None
    respond_async: bool = False
    wait: float | None = None
    idempotency_key: str | None = None
    trigger: Trigger = Trigger.HTTP


class Service:
    def __init__(self, settings: Settings, *, store: JobStore, objects: ObjectStore,
                 publisher: JobPublisher, events: Events, pool: ThreadPoolExecutor):
        self.settings, self.store, self.objects = settings, store, objects
        self.events, self.pool = events, pool
        self.blobs = Blobs(store, objects, settings.s3.system_bucket, settings.inline_max)
        self.submitter = JobSubmitter(store, self.blobs, publisher)
        self.catalog = FunctionCatalog(store)
        self.router = EventRouter(self.catalog, objects, self.submitter,
                                  settings.max_chain_depth)
        self.waiters: Waiters | None = None

    async def run(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, functools.partial(fn, *args, **kwargs))

    # -- functions ------------------------------------------------------------------------

    async def create_functions(self, caller: Caller, document: Any) -> list[Function]:
        caller.require_admin()
        functions = parse_document(document, self.settings.s3.bucket)
        return [await self.run(self._deploy, fn, replace=False) for fn in functions]

    async def put_function(self, caller: Caller, name: str, spec: Any) -> tuple[Function, bool]:
        """Create or replace; returns the function and whether it was created."""
        caller.require_admin()
        fn = Function.from_spec(spec, name=name).resolved(self.settings.s3.bucket)
        try:
            return await self.run(self._deploy, fn, replace=True), False
        except NotFound:
            return await self.run(self._deploy, fn, replace=False), True

    def _deploy(self, fn: Function, *, replace: bool) -> Function:
        """Store a resolved function, creating its buckets and folders first."""
        folders = {(fn.output.bucket, fn.output.prefix), *((i.bucket, i.prefix) for i in fn.input)}
        for bucket in {bucket for bucket, _ in folders}:
            self.objects.ensure_bucket(bucket)
        for bucket, prefix in folders:
            if prefix:
                self.objects.ensure_folder(bucket, prefix)
        stored = self.store.replace_function(fn) if replace else self.store.create_function(fn)
        self.catalog.forget()
        return stored

    async def get_function(self, caller: Caller, name: str) -> Function:
        fn = await self.run(self.store.get_function, name)
        caller.require_function(fn)
        return fn

    async def list_functions(self, caller: Caller) -> list[Function]:
        caller.require_admin()
        return await self.run(self.store.list_functions)

    async def delete_function(self, caller: Caller, name: str) -> None:
        caller.require_admin()
        await self.run(self.store.delete_function, name)
        self.catalog.forget()

    # -- invocations ----------------------------------------------------------------------

    async def invoke(self, caller: Caller, request: Invocation) -> tuple[Job, bool]:
        """Accept an invocation and, unless it is asynchronous, wait for it up to the caller's
        bound. Returns the job and whether it is new (not found by its idempotency key)."""
        job, created, wait = await self.run(self._accept, caller, request)
        metrics.INVOCATIONS.labels(job.function, "async" if wait is None else "sync").inc()
        if wait is not None and not job.status.terminal:
            job = await self.wait_for(job, wait)
        return job, created

    def _accept(self, caller: Caller, request: Invocation) -> tuple[Job, bool, float | None]:
        """Commit the job, then publish it: one trip to the thread pool."""
        fn = self.catalog.get(request.function)
        caller.require_function(fn)
        wait = request.wait
        if request.respond_async or (fn.mode == "async" and wait is None):
            wait = None
        elif wait is None:
            wait = self.settings.sync_wait_seconds
        key = f"{request.trigger}:{fn.name}:{request.idempotency_key}" \
            if request.idempotency_key else None
        job, created = self.submitter.submit(
            fn, trigger=request.trigger, body=request.body, content_type=request.content_type,
            idempotency_key=key)
        return job, created, wait

    async def wait_for(self, job: Job, timeout: float) -> Job:
        timeout = min(timeout, self.settings.max_wait_seconds)
        return await self.waiters.wait(job, timeout, self._load)

    async def _load(self, job_id: str) -> Job:
        return await self.run(self.store.get_job, job_id)

    # -- jobs -----------------------------------------------------------------------------

    async def get_job(self, caller: Caller, job_id: str, wait: float | None = None) -> Job:
        job = await self._authorized_job(caller, job_id)
        if wait and not job.status.terminal:
            job = await self.wait_for(job, wait)
        return job

    async def _authorized_job(self, caller: Caller, job_id: str) -> Job:
        if not is_job_id(job_id):
            raise NotFound(f"job {job_id!r} does not exist")
        job = await self.run(self.store.get_job, job_id)
        if not caller.admin:
            try:
                fn = await self.run(self.store.get_function, job.function)
            except NotFound:
                caller.require_admin()
            else:
                caller.require_function(fn)
        return job

    async def list_jobs(self, caller: Caller, *, function: str | None, status: str | None,
                        limit: int, cursor: str | None) -> list[Job]:
        if not caller.admin:
            if not function:
                raise Invalid("a function's token must name its function: ?function=NAME")
            caller.require_function(await self.run(self.store.get_function, function))
        if status and status not in set(JobStatus):
            raise Invalid(f"status must be one of {', '.join(JobStatus)}")
        if cursor and not is_job_id(cursor):
            raise Invalid("cursor must be the id of a job")
        return await self.run(self.store.list_jobs, function=function, status=status,
                              limit=limit, before=cursor)

    async def delete_jobs(self, caller: Caller, function: str, job_ids: list[str] | None, *,
                          include_active: bool = False) -> int:
        """Delete the function's jobs (all of them when `job_ids` is None); active ones are
        cancelled first when `include_active`, otherwise left alone."""
        caller.require_function(await self.run(self.catalog.get, function))
        if job_ids is None:
            jobs = await self.run(self.store.list_jobs, function=function, limit=100_000)
        else:
            jobs = [await self._authorized_job(caller, job_id) for job_id in job_ids]
            if any(job.function != function for job in jobs):
                raise NotFound(f"no such job of {function!r}")
        if include_active or job_ids is not None:
            for job in jobs:
                if not job.status.terminal:
                    await self.cancel_job(caller, job.id)
        return await self.run(self.store.delete_jobs, [job.id for job in jobs])

    async def cancel_job(self, caller: Caller, job_id: str) -> Job:
        job = await self._authorized_job(caller, job_id)
        cancelled = await self.run(self.store.cancel, job.id, time.time())
        if cancelled is None:
            return job
        self.events.publish_finished(cancelled.id, cancelled.function, cancelled.status)
        return cancelled

    async def logs(self, caller: Caller, job_id: str, stream: str) -> bytes:
        job = await self._authorized_job(caller, job_id)
        refs = {"stdout": [job.stdout_ref], "stderr": [job.stderr_ref],
                "all": [job.stdout_ref, job.stderr_ref]}[stream]
        return b"".join([await self.run(self.blobs.get, ref) for ref in refs if ref])

    async def output_manifest(self, caller: Caller, job_id: str) -> tuple[Job, list[dict]]:
        job = await self._authorized_job(caller, job_id)
        manifest = []
        for output in job.outputs:
            url = await self.run(self.objects.presign, output.bucket, output.key)
            manifest.append({**output.to_dict(), "url": url})
        return job, manifest

    async def open_output(self, caller: Caller, job_id: str, name: str
                          ) -> tuple[OutputObject, Iterator[bytes]]:
        """The output's record and an iterator over its bytes; iterate it with `run`."""
        job = await self._authorized_job(caller, job_id)
        output = self.find_output(job, name)
        chunks = await self.run(self.objects.stream, output.bucket, output.key)
        return output, chunks

    @staticmethod
    def find_output(job: Job, name: str) -> OutputObject:
        for output in job.outputs:
            if output.name == name:
                return output
        raise NotFound(f"job {job.id} has no output named {name!r}")

    async def read_output(self, job: Job, name: str) -> bytes:
        output = self.find_output(job, name)
        return await self.run(self.objects.get_bytes, output.bucket, output.key)

    async def stdout_and_log(self, job: Job, fn_log_level: str) -> bytes:
        """What a synchronous call with no output file answers: stdout, then the log unless
        the function asked for CRITICAL logging only."""
        parts = [job.stdout_ref] + ([job.stderr_ref] if fn_log_level != "CRITICAL" else [])
        return b"".join([await self.run(self.blobs.get, ref) for ref in parts if ref])

