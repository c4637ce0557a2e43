"""Following a job's log as it is printed (`GET /v1/jobs/{id}/logs?follow=1`), from any
gateway, whichever worker runs the job: the chunks its worker ships to the job store
(`workers.shipping`), read past what was sent twice a second, or at once when the job's end
is announced; once an attempt is over, the rest of its log as it was kept, and then the next
attempt, until the job ends."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from core.blobs import Blobs
from core.errors import BadRequest, NotFound
from core.jobs import AttemptRecord, Job, JobStatus
from core.store import JobStore
from gateway.waiting import Waiters

POLL_SECONDS = 0.5
STREAMS = {"all": ("stdout", "stderr"), "stdout": ("stdout",), "stderr": ("stderr",)}
_POSITION = re.compile(r"^([0-9]{1,9}):([0-9]{1,15}):([0-9]{1,15})$")


@dataclasses.dataclass(frozen=True)
class Position:
    """How far a follower got: an attempt, and the bytes of each stream sent from it. As
    text, `attempt:stdout:stderr`: the id of a Server-Sent Event, and `Last-Event-ID` to go on
    from there."""

    attempt: int
    stdout: int = 0
    stderr: int = 0

    def __str__(self) -> str:
        return f"{self.attempt}:{self.stdout}:{self.stderr}"

    @classmethod
    def parse(cls, text: str) -> Position:
        match = _POSITION.match(text)
        if not match or int(match.group(1)) < 1:
            raise BadRequest("Last-Event-ID must be the id of an event of this log, "
                             "ATTEMPT:STDOUT:STDERR")
        return cls(*(int(group) for group in match.groups()))


@dataclasses.dataclass(frozen=True)
class Piece:
    """What a follower learns next. `kind` is `attempt` (a new one begins, its log from
    `start`), `stdout` or `stderr` (`data`, printed on it, its first byte at `position`),
    `notice` (`text`: a word from Sluice), `idle` (nothing new yet) or `end` (the last piece,
    with the `job` as it ended, or as it is when the gateway stops)."""

    kind: str
    attempt: int = 0
    data: bytes = b""
    position: int = 0
    text: str = ""
    job: Job | None = None
    start: Position | None = None


class LogFollower:
    def __init__(self, store: JobStore, blobs: Blobs, waiters: Waiters,
                 run: Callable[..., Awaitable], *, stopping_grace: float):
        self.store, self.blobs, self.waiters, self.run = store, blobs, waiters, run
        self.stopping_grace = stopping_grace
        """How long a cancelled attempt is given to stop and keep its log."""

    async def pieces(self, job: Job, streams: tuple[str, ...], start: Position
                     ) -> AsyncIterator[Piece]:
        """The log of `job` from `start`, attempt after attempt, to its end."""
        attempt, sent = start.attempt, {s: getattr(start, s) for s in streams}
        yield Piece("attempt", attempt, start=start)
        while True:
            try:
                async for piece in self._attempt(job, attempt, sent):
                    if piece.kind == "end":
                        job = piece.job
                    else:
                        yield piece
            except NotFound:
                yield Piece("notice", attempt, text="sluice: the job was deleted\n")
                yield Piece("end", attempt, job=job)
                return
            if self.waiters.releasing or job.status.terminal and job.attempts <= attempt:
                yield Piece("end", attempt, job=job)
                return
            attempt, sent = attempt + 1, dict.fromkeys(streams, 0)
            yield Piece("attempt", attempt, start=Position(attempt))

    async def _attempt(self, job: Job, attempt: int, sent: dict[str, int]
                       ) -> AsyncIterator[Piece]:
        """One attempt's log past `sent`, live then as kept; ends with the job as it was
        when the attempt was over (or when the gateway began to stop)."""
        shipped_no_further: set[str] = set()
        cancelled_since = None
        while True:
            asked = {s: n for s, n in sent.items() if s not in shipped_no_further}
            job, chunks = await self.run(self.store.live_log, job.id, attempt, asked)
            for chunk in chunks:
                if not chunk.data:
                    shipped_no_further.add(chunk.stream)
                    yield Piece("notice", attempt, text=(
                        f"sluice: the live {chunk.stream} stops at {chunk.position} bytes; "
                        "the rest follows when the attempt ends\n"))
                    continue
                data = chunk.data[max(0, sent[chunk.stream] - chunk.position):]
                yield Piece(chunk.stream, attempt, data, sent[chunk.stream])
                sent[chunk.stream] += len(data)
            if _over(job, attempt):
                record = await self._record(job, attempt)
                stopping = record is None and job.status is JobStatus.CANCELLED \
                    and job.attempts == attempt
                if stopping and cancelled_since is None:
                    cancelled_since = time.monotonic()
                if not stopping or time.monotonic() - cancelled_since > self.stopping_grace:
                    async for piece in self._rest(job, attempt, record, sent):
                        yield piece
                    yield Piece("end", attempt, job=job)
                    return
            if self.waiters.releasing:
                yield Piece("end", attempt, job=job)
                return
            yield Piece("idle", attempt)
            await self.waiters.pause(job, POLL_SECONDS)

    async def _record(self, job: Job, attempt: int) -> AttemptRecord | None:
        for ended in await self.run(self.store.list_attempts, job.id):
            if ended.number == attempt:
                return ended
        return None

    async def _rest(self, job: Job, attempt: int, record: AttemptRecord | None,
                    sent: dict[str, int]) -> AsyncIterator[Piece]:
        """What the attempt's kept log holds past `sent`. A job whose attempts were not
        recorded one by one (kept before they were) has its last attempt's log on itself."""
        owner = record if record is not None else job if job.attempts == attempt else None
        if owner is None:
            return
        for stream in sent:
            ref = getattr(owner, f"{stream}_ref")
            if ref is None:
                continue
            data = (await self.run(self.blobs.get, ref))[sent[stream]:]
            if data:
                yield Piece(stream, attempt, data, sent[stream])
                sent[stream] += len(data)


def _over(job: Job, attempt: int) -> bool:
    """Whether attempt `attempt` of the job is over, or will never run."""
    if job.attempts != attempt:
        return job.attempts > attempt or job.status.terminal
    return job.status is not JobStatus.RUNNING
