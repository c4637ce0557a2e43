"""Waiters: requests that wait for a job to finish. Completion events wake them; they also
re-read the store on a slow timer, so a lost event only delays an answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from broker.events import Events
from core import metrics
from core.jobs import Job

RECHECK_SECONDS = 2.0


class Waiters:
    """The completion events of a function are followed from its first waiter on, for the
    life of the gateway."""

    def __init__(self, loop: asyncio.AbstractEventLoop, events: Events, pool: Executor):
        self.loop, self.pool = loop, pool
        self._futures: dict[str, set[asyncio.Future]] = {}
        self._followed: set[str] = set()
        self._releasing = False
        self._subscription = events.subscribe(self.notify_threadsafe)

    def close(self) -> None:
        self._subscription.close()

    @property
    def releasing(self) -> bool:
        """The gateway is stopping: whoever waits is to answer now."""
        return self._releasing

    def release_all(self) -> None:
        """The gateway is stopping: every waiter returns its job as it is now, so that its
        caller learns the job's id and where to follow it instead of losing the answer."""
        self._releasing = True
        for job_id in list(self._futures):
            self._wake(job_id)

    def notify_threadsafe(self, event: dict) -> None:
        """Called from the event consumer's thread."""
        self.loop.call_soon_threadsafe(self._wake, event["id"])

    def _wake(self, job_id: str) -> None:
        for future in self._futures.pop(job_id, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, job: Job, timeout: float,
                   load: Callable[[str], Awaitable[Job]]) -> Job:
        """Return the job once terminal, or as it is when `timeout` runs out."""
        deadline = self.loop.time() + timeout
        job_id = job.id
        metrics.OPEN_WAITERS.inc()
        try:
            await self._follow(job.function)
            while True:
                future = self.loop.create_future()
                self._futures.setdefault(job_id, set()).add(future)
                try:
                    # Read after registering, so an event between the two is not missed.
                    job = await load(job_id)
                    remaining = deadline - self.loop.time()
                    if job.status.terminal or remaining <= 0 or self._releasing:
                        return job
                    try:
                        await asyncio.wait_for(future, min(remaining, RECHECK_SECONDS))
                    except TimeoutError:
                        pass
                finally:
                    self._forget(job_id, future)
        finally:
            metrics.OPEN_WAITERS.dec()

    async def pause(self, job: Job, seconds: float) -> None:
        """Sleep `seconds`, less when the job's end is announced or the gateway stops."""
        if self._releasing:
            return
        await self._follow(job.function)
        future = self.loop.create_future()
        self._futures.setdefault(job.id, set()).add(future)
        try:
            await asyncio.wait_for(future, seconds)
        except TimeoutError:
            pass
        finally:
            self._forget(job.id, future)

    async def _follow(self, function: str) -> None:
        if function not in self._followed:
            await self.loop.run_in_executor(self.pool, self._subscription.follow, function)
            self._followed.add(function)

    def _forget(self, job_id: str, future: asyncio.Future) -> None:
        waiting = self._futures.get(job_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._futures[job_id]
