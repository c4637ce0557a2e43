"""Results in the job store (`core.results`): written by a worker as they arrive, read and
popped by any gateway, removed by the janitor once they expired, and with their job. An
expired result is never read, whether or not the janitor has come by yet."""

from __future__ import annotations

import sqlalchemy as sa

from core.results import Result
from core.store.database import Database
from core.store.schema import results

_LIVE = sa.and_(results.c.job_id == sa.bindparam("w_id"),
                results.c.expires_at > sa.bindparam("w_now"))
_KEPT = sa.select(sa.func.count()).select_from(results).where(_LIVE)
_INSERT = results.insert()
_PAGE = sa.select(results).where(_LIVE, results.c.sequence > sa.bindparam("w_after")) \
    .order_by(results.c.sequence).limit(sa.bindparam("w_limit"))
# The oldest, taken by one pop only: a concurrent pop skips it and takes the next.
_OLDEST = sa.select(results.c.sequence).where(_LIVE).order_by(results.c.sequence).limit(1) \
    .with_for_update(skip_locked=True).scalar_subquery()
_POP = results.delete().where(results.c.sequence == _OLDEST).returning(*results.c)
_EXPIRED = sa.select(results.c.sequence).where(
    results.c.expires_at <= sa.bindparam("w_now")).limit(sa.bindparam("w_limit"))
_EXPIRE = results.delete().where(results.c.sequence.in_(_EXPIRED))


class ResultRows:
    db: Database

    def add_results(self, job_id: str, data: list[bytes], *, now: float, expires_at: float,
                    most: int) -> int:
        """Keep results of the job, in order, as long as it keeps fewer than `most` that have
        not expired; how many were kept (the first so many)."""
        def add(c) -> int:
            room = most - c.execute(_KEPT, {"w_id": job_id, "w_now": now}).scalar_one()
            kept = data[:max(0, room)]
            if kept:
                c.execute(_INSERT, [{"job_id": job_id, "data": item, "created_at": now,
                                     "expires_at": expires_at} for item in kept])
            return len(kept)
        return self.db.write(add) if data else 0

    def results(self, job_id: str, now: float, *, after: int = 0, limit: int = 100
                ) -> list[Result]:
        """The job's results that have not expired, the oldest first, past sequence `after`."""
        params = {"w_id": job_id, "w_now": now, "w_after": after, "w_limit": limit}
        return [_result(row) for row in self.db.read(lambda c: c.execute(_PAGE, params).all())]

    def pop_result(self, job_id: str, now: float) -> Result | None:
        """Remove and return the job's oldest result that has not expired."""
        row = self.db.write(lambda c: c.execute(_POP, {"w_id": job_id, "w_now": now}).first())
        return _result(row) if row is not None else None

    def expire_results(self, now: float, limit: int) -> int:
        """Delete up to `limit` results that expired by `now`; how many."""
        return self.db.write(lambda c: c.execute(
            _EXPIRE, {"w_now": now, "w_limit": limit}).rowcount)


def delete_jobs(connection, job_ids: list[str]) -> None:
    connection.execute(results.delete().where(results.c.job_id.in_(job_ids)))


def _result(row) -> Result:
    return Result(job_id=row.job_id, sequence=row.sequence, data=bytes(row.data),
                  created_at=row.created_at, expires_at=row.expires_at)
