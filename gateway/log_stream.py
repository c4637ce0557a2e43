"""A followed log as an HTTP answer (`gateway.following` says what to send): Server-Sent
Events, or the bytes as they come, in chunks of plain text.

Events are `attempt` (its number), `stdout` and `stderr` (text: a line break, CR or LF,
begins a new `data:` line), `notice` (a word from Sluice) and last `end` (the job's status,
exit code, reason and attempts, as JSON); a comment keeps the connection open while nothing
is printed. Each `stdout` and `stderr` event has an id that a client sends back as
`Last-Event-ID` to go on from there, on any gateway.

The framing is written here rather than taken from aiohttp-sse: a few lines, driven by the
follower's own loop (which wakes twice a second, so it also times the keep-alive)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator

from aiohttp import web

from core.jobs import Job
from gateway.following import Piece, Position
from gateway.responses import job_headers

KEEP_ALIVE_SECONDS = 15.0
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def wants_events(request: web.Request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "").lower()


async def events(request: web.Request, job: Job, pieces: AsyncIterator[Piece]
                 ) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        **job_headers(job), "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    text = Frames()
    written = loop.time()
    async with contextlib.aclosing(pieces):
        try:
            async for piece in pieces:
                if piece.kind == "idle":
                    if _gone(request):
                        return response
                    if loop.time() - written < KEEP_ALIVE_SECONDS:
                        continue
                    frame = b": keep-alive\n\n"
                else:
                    frame = text.frame(piece)
                if frame:
                    await response.write(frame)
                    written = loop.time()
        except ConnectionResetError:
            return response
    await response.write_eof()
    return response


async def chunked(request: web.Request, job: Job, pieces: AsyncIterator[Piece]
                  ) -> web.StreamResponse:
    """The bytes printed, as they come (stdout's and stderr's mixed, for `stream=all`)."""
    response = web.StreamResponse(headers={
        **job_headers(job), "Content-Type": "text/plain; charset=utf-8",
        "X-Accel-Buffering": "no"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    async with contextlib.aclosing(pieces):
        try:
            async for piece in pieces:
                if piece.kind == "idle" and _gone(request):
                    return response
                if piece.kind in ("stdout", "stderr") and piece.data:
                    await response.write(piece.data)
        except ConnectionResetError:
            return response
    await response.write_eof()
    return response


def _gone(request: web.Request) -> bool:
    """Whether the client has hung up: its follow stops (a handler is not cancelled)."""
    return request.transport is None or request.transport.is_closing()


class Frames:
    """The bytes of each stream as text (a character split between two chunks waits for
    its end), and where the next event's id says the follower has got to."""

    def __init__(self):
        self.position = Position(0)
        self.decoders: dict[str, codecs.IncrementalDecoder] = {}

    def frame(self, piece: Piece) -> bytes:
        if piece.kind == "attempt":
            flushed = b"".join(_event(stream, decoder.decode(b"", final=True))
                               for stream, decoder in self.decoders.items())
            self.position, self.decoders = piece.start, {}
            return flushed + _event("attempt", str(piece.attempt), str(self.position))
        if piece.kind == "notice":
            return _event("notice", piece.text)
        if piece.kind == "end":
            job = piece.job
            return _event("end", json.dumps({
                "status": str(job.status), "exit_code": job.exit_code,
                "reason": str(job.reason) if job.reason else None, "attempts": job.attempts}))
        decoder = self.decoders.get(piece.kind)
        if decoder is None:
            decoder = self.decoders[piece.kind] = codecs.getincrementaldecoder("utf-8")(
                "replace")
        printed = decoder.decode(piece.data)
        waiting = len(decoder.getstate()[0])
        self.position = dataclasses.replace(
            self.position, **{piece.kind: piece.position + len(piece.data) - waiting})
        return _event(piece.kind, printed, str(self.position)) if printed else b""


def _event(kind: str, text: str, event_id: str | None = None) -> bytes:
    if not text:
        return b""
    lines = [f"event: {kind}"] + ([f"id: {event_id}"] if event_id else [])
    lines += [f"data: {line}" for line in _LINE_BREAK.split(text)]
    return ("\n".join(lines) + "\n\n").encode()
