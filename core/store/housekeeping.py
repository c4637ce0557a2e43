"""Housekeeping of the job rows: what the sweeper publishes again, what the janitor deletes
past its retention, how many jobs wait."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import sqlalchemy as sa

from core.jobs import BLOB_KINDS, Job, JobStatus, blob_key
from core.store import attempts, logchunks, resultrows
from core.store.database import Database
from core.store.jobrows import ACTIVE, job_from_row
from core.store.schema import blobs, jobs

_QUEUED = sa.select(sa.func.count()).select_from(jobs).where(
    jobs.c.status == JobStatus.QUEUED.value)
_QUEUED_OF = _QUEUED.where(jobs.c.function == sa.bindparam("w_function"))
_KEY_USED = sa.select(jobs.c.id).where(jobs.c.idempotency_key == sa.bindparam("w_key"))
_DEPTH = sa.select(jobs.c.status, sa.func.count()).where(
    jobs.c.function == sa.bindparam("w_function"), jobs.c.status.in_(ACTIVE)
).group_by(jobs.c.status)


@dataclasses.dataclass(frozen=True)
class Backlog:
    """What admitting an invocation reads: whether its idempotency key has a job already,
    and how many jobs wait to start, of its function and (when asked) of all."""

    key_used: bool
    queued: int
    platform_queued: int | None = None


class Housekeeping:
    db: Database

    def expired(self, before: float, limit: int, *, function: str | None = None,
                not_of: Iterable[str] = ()) -> list[Job]:
        """Up to `limit` jobs that ended before `before`, oldest first: of `function`, or,
        without it, of every function not in `not_of` (those deleted)."""
        query = sa.select(jobs).where(jobs.c.finished_at < before,
                                      jobs.c.status.not_in(ACTIVE))
        if function is not None:
            query = query.where(jobs.c.function == function)
        else:
            query = query.where(jobs.c.function.not_in(list(not_of)))
        query = query.order_by(jobs.c.finished_at).limit(limit)
        return [job_from_row(row) for row in self.db.read(lambda c: c.execute(query).all())]

    def count_queued(self, function: str | None = None) -> int:
        """Jobs not yet started, of `function` or of all."""
        query, params = (_QUEUED, {}) if function is None else \
            (_QUEUED_OF, {"w_function": function})
        return self.db.read(lambda c: c.execute(query, params).scalar_one())

    def backlog(self, function: str, key: str | None, *, platform: bool) -> Backlog:
        """The invocation's `Backlog`, read in one transaction."""
        def read(c) -> Backlog:
            if key is not None and c.execute(_KEY_USED, {"w_key": key}).first() is not None:
                return Backlog(key_used=True, queued=0)
            return Backlog(False, c.execute(_QUEUED_OF, {"w_function": function}).scalar_one(),
                           c.execute(_QUEUED).scalar_one() if platform else None)
        return self.db.read(read)

    def queue_depth(self, function: str) -> dict[str, int]:
        """How many of the function's jobs are `queued` and `running`, in one query."""
        rows = self.db.read(lambda c: c.execute(_DEPTH, {"w_function": function}).all())
        return {JobStatus.QUEUED.value: 0, JobStatus.RUNNING.value: 0} | dict(rows)

    def delete_jobs(self, job_ids: Iterable[str]) -> int:
        """Delete finished jobs with their inline blobs and results; active ones are left
        alone."""
        ids = list(job_ids)
        if not ids:
            return 0

        def delete(c) -> int:
            deleted = c.execute(jobs.delete().where(
                jobs.c.id.in_(ids), jobs.c.status.not_in(ACTIVE)).returning(jobs.c.id)).all()
            gone = [row.id for row in deleted]
            if gone:
                logs = [ref.removeprefix("db:") for ref in attempts.log_refs(c, gone)]
                c.execute(blobs.delete().where(blobs.c.key.in_(logs + [
                    blob_key(kind, job_id) for job_id in gone for kind in BLOB_KINDS])))
                attempts.delete(c, gone)
                logchunks.delete_jobs(c, gone)
                resultrows.delete_jobs(c, gone)
            return len(gone)
        return self.db.write(delete)

    def mark_published(self, job_ids: Iterable[str], now: float) -> None:
        ids = list(job_ids)
        if ids:
            self.db.write(lambda c: c.execute(
                jobs.update().where(jobs.c.id.in_(ids)).values(published_at=now)))

    def jobs_to_republish(self, now: float, *, queued_before: float, heartbeat_before: float,
                          limit: int = 500) -> list[Job]:
        """Queued jobs not published since `queued_before`, and running jobs whose lease lapsed."""
        query = sa.select(jobs).where(sa.or_(
            (jobs.c.status == JobStatus.QUEUED.value)
            & sa.func.coalesce(jobs.c.published_at, jobs.c.created_at).__lt__(queued_before),
            (jobs.c.status == JobStatus.RUNNING.value) & (jobs.c.heartbeat_at < heartbeat_before),
        )).order_by(jobs.c.id).limit(limit)
        return [job_from_row(r) for r in self.db.read(lambda c: c.execute(query).all())]
