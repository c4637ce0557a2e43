"""The service layer's part for results (`core.results`): a job's results are read by whoever
may read the job, page by page or one at a time as Abaco's actors take them, destructively;
the first one answers a synchronous invocation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.jobs import Job
from core.results import Result
from core.store import JobStore
from gateway.auth import Caller


class ResultsService:
    store: JobStore
    _run: Callable[..., Awaitable[Any]]
    _authorized_job: Callable[[Caller, str], Awaitable[Job]]

    async def results(self, caller: Caller, job_id: str, *, after: int, limit: int
                      ) -> tuple[Job, list[Result]]:
        """The job, and its results that have not expired, the oldest first."""
        job = await self._authorized_job(caller, job_id)
        return job, await self._run(self.store.results, job.id, time.time(), after=after,
                                    limit=limit)

    async def pop_result(self, caller: Caller, job_id: str) -> bytes:
        """The job's oldest result, removed from it; nothing when it has none."""
        job = await self._authorized_job(caller, job_id)
        result = await self._run(self.store.pop_result, job.id, time.time())
        return result.data if result is not None else b""

    async def first_result(self, job: Job) -> bytes | None:
        """The job's oldest result, left in place: a synchronous answer asked again (the
        same idempotency key) is the same answer."""
        found = await self._run(self.store.results, job.id, time.time(), limit=1)
        return found[0].data if found else None
