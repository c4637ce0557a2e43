"""Waiters: requests that wait for a job to finish. Completion events wake them; they also
re-read the store on a slow timer, so a lost event only delays an answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core import metrics
from core.jobs import Job

RECHECK_SECONDS = 2.0


class Waiters:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._futures: dict[str, set[asyncio.Future]] = {}

    def notify_threadsafe(self, event: dict) -> None:
        """Called from the event consumer's thread."""
        self.loop.call_soon_threadsafe(self._wake, event["id"])

    def _wake(self, job_id: str) -> None:
        for future in self._futures.pop(job_id, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, job_id: str, timeout: float,
                   load: Callable[[str], Awaitable[Job]]) -> Job:
        """Return the job once terminal, or as it is when `timeout` runs out."""
        deadline = self.loop.time() + timeout
        metrics.OPEN_WAITERS.inc()
        try:
            while True:
                future = self.loop.create_future()
                self._futures.setdefault(job_id, set()).add(future)
                try:
                    # Read after registering, so an event between the two is not missed.
                    job = await load(job_id)
                    remaining = deadline - self.loop.time()
                    if job.status.terminal or remaining <= 0:
                        return job
                    try:
                        await asyncio.wait_for(future, min(remaining, RECHECK_SECONDS))
                    except TimeoutError:
                        pass
                finally:
                    self._forget(job_id, future)
        finally:
            metrics.OPEN_WAITERS.dec()

    def _forget(self, job_id: str, future: asyncio.Future) -> None:
        waiting = self._futures.get(job_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._futures[job_id]
