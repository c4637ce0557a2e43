"""The attempts table: one row for each attempt of a job that ended, written in the same
transaction as the job's own change (finished, released for another attempt, or taken over
from a worker that died), so that a job's history and its state never disagree."""

from __future__ import annotations

import sqlalchemy as sa

from core.jobs import AttemptRecord, Job, Outcome, Reason
from core.store.schema import attempts, storable

_LIST = sa.select(attempts).where(attempts.c.job_id == sa.bindparam("w_id")) \
    .order_by(attempts.c.number)
_FIELDS = tuple(column.name for column in attempts.c)


def ended(job: Job, owner: str | None, now: float, outcome: Outcome) -> dict:
    """The row of `job`'s attempt (as claimed) that ended with `outcome` at `now`."""
    return {"job_id": job.id, "number": job.attempts, "owner": owner,
            "started_at": job.started_at, "finished_at": now, "exit_code": outcome.exit_code,
            "reason": str(outcome.reason) if outcome.reason else None,
            "error": storable(outcome.error), "cpu_seconds": outcome.cpu_seconds,
            "peak_memory": outcome.peak_memory, "io_read_bytes": outcome.io_read_bytes,
            "io_write_bytes": outcome.io_write_bytes, "stdout_ref": outcome.stdout_ref,
            "stderr_ref": outcome.stderr_ref}


def died(job: Job, now: float) -> dict:
    """The row of `job`'s last attempt, whose worker died with it (found at takeover)."""
    return ended(job, job.owner, now, Outcome(reason=Reason.ERROR, error=(
        "its worker stopped (its lease lapsed) before the attempt ended")))


def insert(connection, dialect, row: dict) -> None:
    """Record an attempt once: a row already there (the same takeover seen twice) stays."""
    statement = dialect.insert(attempts).on_conflict_do_nothing(
        index_elements=[attempts.c.job_id, attempts.c.number])
    connection.execute(statement, row)


def listed(connection, job_id: str) -> list[AttemptRecord]:
    rows = connection.execute(_LIST, {"w_id": job_id}).all()
    return [_record(row) for row in rows]


def log_refs(connection, job_ids: list[str]) -> list[str]:
    """The references of every attempt's logs of these jobs."""
    rows = connection.execute(sa.select(attempts.c.stdout_ref, attempts.c.stderr_ref).where(
        attempts.c.job_id.in_(job_ids))).all()
    return [ref for row in rows for ref in row if ref]


def delete(connection, job_ids: list[str]) -> None:
    connection.execute(attempts.delete().where(attempts.c.job_id.in_(job_ids)))


def _record(row) -> AttemptRecord:
    values = {name: row._mapping[name] for name in _FIELDS}
    values["reason"] = Reason(values["reason"]) if values["reason"] else None
    return AttemptRecord(**values)
