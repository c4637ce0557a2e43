"""Housekeeping of the job rows: what the sweeper publishes again, what the janitor deletes
past its retention, how many jobs wait."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from core.jobs import BLOB_KINDS, Job, JobStatus, blob_key
from core.store import attempts, logchunks, resultrows
from core.store.database import Database
from core.store.jobrows import ACTIVE, job_from_row
from core.store.schema import blobs, jobs


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
        query = sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.status == JobStatus.QUEUED.value)
        if function is not None:
            query = query.where(jobs.c.function == function)
        return self.db.read(lambda c: c.execute(query).scalar_one())

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
