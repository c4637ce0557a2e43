"""Callback deliveries, kept on the jobs' rows. A job that ends with a callback is marked
`pending` by the very UPDATE that ends it (`callback_due`, `CALLBACK_ON_CANCEL`), so that a
job without one costs nothing more. Senders find the due deliveries, claim each with a
compare-and-set that moves its due time past the POST's end (a sender that dies lets it
lapse), and record how the POST went with another that holds only for that claim."""

from __future__ import annotations

import sqlalchemy as sa

from core.callbacks import CallbackState
from core.jobs import Job, JobStatus
from core.store.database import Database
from core.store.jobrows import job_from_row
from core.store.schema import jobs, storable

# A literal, not a parameter: the partial index on the due ones is then usable.
_PENDING = jobs.c.callback_state == sa.literal_column(f"'{CallbackState.PENDING}'")
_CALLED_ON_CANCEL = jobs.c.callback_url.is_not(None) \
    & jobs.c.callback_on.contains(JobStatus.CANCELLED.value)
CALLBACK_ON_CANCEL = {
    "callback_state": sa.case(
        (jobs.c.callback_url.is_(None), sa.null()),
        (_CALLED_ON_CANCEL, CallbackState.PENDING.value), else_=CallbackState.SKIPPED.value),
    "callback_due_at": sa.case((_CALLED_ON_CANCEL, sa.bindparam("v_now")), else_=sa.null()),
}
_DUE = sa.select(jobs).where(_PENDING, jobs.c.callback_due_at <= sa.bindparam("w_now")) \
    .order_by(jobs.c.callback_due_at)
# The delivery as a sender saw it (claiming) or claimed it (recording).
_AS_SEEN = sa.and_(jobs.c.id == sa.bindparam("w_id"), _PENDING,
                   jobs.c.callback_attempts == sa.bindparam("w_attempts"),
                   jobs.c.callback_due_at == sa.bindparam("w_due_at"))
_CLAIM = jobs.update().where(_AS_SEEN).values(
    callback_attempts=jobs.c.callback_attempts + 1,
    callback_due_at=sa.bindparam("v_until")).returning(*jobs.c)
_END = jobs.update().where(_AS_SEEN).values(
    callback_state=sa.bindparam("v_state"), callback_error=sa.bindparam("v_error"),
    callback_due_at=sa.bindparam("v_due_at"),
    callback_delivered_at=sa.bindparam("v_delivered_at"))


def callback_due(job: Job, status: JobStatus, now: float) -> dict[str, object]:
    """The callback columns of `job` (as claimed) ending with `status` at `now`."""
    if job.callback_url is None:
        return {"v_callback_state": None, "v_callback_due_at": None}
    if status.value in job.callback_on:
        return {"v_callback_state": CallbackState.PENDING.value, "v_callback_due_at": now}
    return {"v_callback_state": CallbackState.SKIPPED.value, "v_callback_due_at": None}


class CallbackRows:
    """The callbacks' part of the job store (`JobStore` is one)."""

    db: Database

    def due_callbacks(self, now: float, limit: int) -> list[Job]:
        """Up to `limit` jobs whose callback is to be sent by `now`, the longest due first."""
        statement, params = _DUE.limit(limit), {"w_now": now}
        return [job_from_row(row)
                for row in self.db.read(lambda c: c.execute(statement, params).all())]

    def claim_callback(self, job: Job, until: float) -> Job | None:
        """Take `job`'s delivery, as due, until `until`: its attempt counted, its due time
        moved there. None when another sender took it first."""
        params = {"w_id": job.id, "w_attempts": job.callback_attempts,
                  "w_due_at": job.callback_due_at, "v_until": until}
        row = self.db.write(lambda c: c.execute(_CLAIM, params).first())
        return job_from_row(row) if row is not None else None

    def end_callback(self, job: Job, state: CallbackState, *, error: str | None = None,
                     due_at: float | None = None, delivered_at: float | None = None) -> bool:
        """Record how the POST of `job`'s delivery (as claimed) went: `delivered`, `failed`
        (given up), or `pending` again at `due_at`; False when the claim was no longer
        held (the job was run again meanwhile, or the claim lapsed and another took it)."""
        params = {"w_id": job.id, "w_attempts": job.callback_attempts,
                  "w_due_at": job.callback_due_at, "v_state": state.value,
                  "v_error": storable(error), "v_due_at": due_at,
                  "v_delivered_at": delivered_at}
        return self.db.write(lambda c: c.execute(_END, params).rowcount) == 1
