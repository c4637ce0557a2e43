"""Live logs in the job store: what running attempts have printed so far, as chunks that
their workers ship (`workers.shipping`) and that gateways read past the offsets they have
sent. An attempt's chunks go in the transaction that keeps its log, a dead attempt's when
its job is taken over, and all of a job's with the job."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import sqlalchemy as sa

from core.store.schema import log_chunks

STREAMS = ("stdout", "stderr")
# An offset past any stream: a stream asked for from here yields nothing.
NOTHING = 2 ** 62


@dataclasses.dataclass(frozen=True)
class LogChunk:
    stream: str
    position: int
    """The offset of its first byte in the stream."""
    data: bytes
    """Empty: the stream is shipped no further (it reached its limit); the rest comes with
    the attempt's log."""


_LENGTH = sa.func.length(log_chunks.c.data)


def _past(stream: str):
    """The chunks of `stream` that hold bytes past the offset `w_<stream>`, and its end."""
    offset = sa.bindparam(f"w_{stream}")
    return sa.and_(log_chunks.c.stream == stream, sa.or_(
        log_chunks.c.position + _LENGTH > offset,
        sa.and_(_LENGTH == 0, log_chunks.c.position >= offset)))


_OF_ATTEMPT = sa.and_(log_chunks.c.job_id == sa.bindparam("w_id"),
                      log_chunks.c.attempt == sa.bindparam("w_attempt"))
_PAST = sa.select(log_chunks.c.stream, log_chunks.c.position, log_chunks.c.data).where(
    _OF_ATTEMPT, sa.or_(*(_past(stream) for stream in STREAMS))).order_by(
    log_chunks.c.stream.desc(), log_chunks.c.position)
_DELETE_ATTEMPT = log_chunks.delete().where(_OF_ATTEMPT)


def append(connection, dialect, rows: list[dict]) -> None:
    """Write chunks; one already there (a round whose commit was not confirmed, shipped
    again) stays as it was."""
    statement = dialect.insert(log_chunks).on_conflict_do_nothing(index_elements=[
        log_chunks.c.job_id, log_chunks.c.attempt, log_chunks.c.stream, log_chunks.c.position])
    connection.execute(statement, rows)


def past(connection, job_id: str, attempt: int, offsets: Mapping[str, int]) -> list[LogChunk]:
    """The attempt's chunks past `offsets` (by stream; a stream not named is not read),
    stdout's first, each stream's in order; the first may begin before its offset."""
    params = {"w_id": job_id, "w_attempt": attempt,
              **{f"w_{stream}": offsets.get(stream, NOTHING) for stream in STREAMS}}
    rows = connection.execute(_PAST, params).all()
    return [LogChunk(row.stream, row.position, bytes(row.data)) for row in rows]


def delete_attempt(connection, job_id: str, attempt: int) -> None:
    connection.execute(_DELETE_ATTEMPT, {"w_id": job_id, "w_attempt": attempt})


def delete_jobs(connection, job_ids: list[str]) -> None:
    connection.execute(log_chunks.delete().where(log_chunks.c.job_id.in_(job_ids)))
