"""Job persistence (functions: `functionrows`, attempts: `attempts`, the sweeper's and the
janitor's queries: `housekeeping`, callbacks: `callbackrows`, schedules: `schedulerows`,
results: `resultrows`). Every state change is one compare-and-set UPDATE."""

from __future__ import annotations

import dataclasses
import enum
import fcntl
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import NotFound
from core.jobs import AttemptRecord, Job, JobStatus, Outcome, Reason
from core.store import attempts, logchunks
from core.store.callbackrows import CALLBACK_ON_CANCEL, CallbackRows, callback_due
from core.store.database import Database
from core.store.functionrows import FunctionRows
from core.store.housekeeping import Housekeeping
from core.store.jobrows import ACTIVE, TO_COLUMN, job_from_row, job_values
from core.store.logchunks import LogChunk
from core.store.resultrows import ResultRows
from core.store.schedulerows import ScheduleRows
from core.store.schema import blobs, jobs, storable

MIGRATIONS = Path(__file__).parent / "migrations"
# What an attempt measured, kept on its job as it is on the attempt's row.
MEASURES = ("cpu_seconds", "peak_memory", "io_read_bytes", "io_write_bytes")
_OUTCOME_COLUMNS = ("status", "finished_at", "exit_code", "reason", "error", *MEASURES,
                    "bytes_out", "outputs", "stdout_ref", "stderr_ref")


class Deferral(enum.Enum):
    """Why a job of a function at its concurrency limit was not claimed."""

    FULL = "full"
    LATER = "later"


def _set(*columns: str) -> dict:
    return {column: sa.bindparam(f"v_{column}") for column in columns}


# Built once: SQLAlchemy then reuses their compiled form (the hot path runs these per job).
_CLAIM = jobs.update().values(
    status=JobStatus.RUNNING.value, attempts=jobs.c.attempts + 1, **_set("owner"),
    heartbeat_at=sa.bindparam("v_now"), started_at=sa.bindparam("v_now")).returning(*jobs.c)
_CLAIM_QUEUED = _CLAIM.where(jobs.c.id == sa.bindparam("w_id"),
                             jobs.c.status == JobStatus.QUEUED.value)
# A job of a function that runs at most `w_limit` jobs at once: claimed while fewer run.
_RUNNING = jobs.alias("running_jobs")
_CLAIM_WITHIN = _CLAIM_QUEUED.where(
    sa.select(sa.func.count()).select_from(_RUNNING).where(
        _RUNNING.c.function == sa.bindparam("w_function"),
        _RUNNING.c.status == JobStatus.RUNNING.value).scalar_subquery()
    < sa.bindparam("w_limit"))
# Deferred by the message that finds the job due: a copy (the sweeper's, one delivered
# again) that finds it deferred past now is one too many.
_DEFER = jobs.update().where(
    jobs.c.id == sa.bindparam("w_id"), jobs.c.status == JobStatus.QUEUED.value,
    sa.func.coalesce(jobs.c.published_at, jobs.c.created_at) <= sa.bindparam("w_now")).values(
    **_set("published_at"))
_STATUS = sa.select(jobs.c.status).where(jobs.c.id == sa.bindparam("w_id"))
# PostgreSQL: the claims of one limited function, one at a time (SQLite has one writer).
_FUNCTION_LOCK = sa.text("SELECT pg_advisory_xact_lock(7465032, hashtext(:function))")
_TAKE_OVER = _CLAIM.where(jobs.c.id == sa.bindparam("w_id"),
                          jobs.c.status == JobStatus.RUNNING.value,
                          jobs.c.owner == sa.bindparam("w_owner"))
# The attempt that owns a running job: its worker process and its number, so that two
# attempts of one process (a message delivered again) never pass each other's check.
_OWNED = sa.and_(jobs.c.id == sa.bindparam("w_id"), jobs.c.owner == sa.bindparam("w_owner"),
                 jobs.c.attempts == sa.bindparam("w_attempt"),
                 jobs.c.status == JobStatus.RUNNING.value)
_HEARTBEAT = jobs.update().where(_OWNED).values(**_set("heartbeat_at"))
_FINISH = jobs.update().where(_OWNED).values(
    **_set(*_OUTCOME_COLUMNS, "callback_state", "callback_due_at")).returning(*jobs.c)
_RELEASE = jobs.update().where(_OWNED).values(
    status=JobStatus.QUEUED.value, owner=None, heartbeat_at=None,
    retries=jobs.c.retries + sa.bindparam("v_retried"),
    resumed_after=jobs.c.resumed_after + sa.bindparam("v_uncounted"),
    **_set("error", "published_at")).returning(*jobs.c)
# Cancelling: by one job (queued or running) or by a function's queue (queued only).
_CANCEL = jobs.update().values(status=JobStatus.CANCELLED.value, reason=Reason.CANCELLED.value,
                               finished_at=sa.bindparam("v_now"),
                               **CALLBACK_ON_CANCEL).returning(*jobs.c)
_CANCEL_JOB = _CANCEL.where(jobs.c.id == sa.bindparam("w_id"), jobs.c.status.in_(ACTIVE))
_CANCEL_QUEUED = _CANCEL.where(jobs.c.function == sa.bindparam("w_function"),
                               jobs.c.status == JobStatus.QUEUED.value)
# A cancelled attempt's log and measures, kept on its job once the attempt has stopped.
_CANCELLED_LOGS = jobs.update().where(
    jobs.c.id == sa.bindparam("w_id"), jobs.c.attempts == sa.bindparam("w_attempt"),
    jobs.c.status == JobStatus.CANCELLED.value, jobs.c.stdout_ref.is_(None),
    jobs.c.stderr_ref.is_(None)).values(**_set(
        "exit_code", *MEASURES, "stdout_ref", "stderr_ref")).returning(*jobs.c)
# A failed or cancelled job queued again by hand: a new attempt, its own retries afresh.
_REDRIVE = jobs.update().where(
    jobs.c.id == sa.bindparam("w_id"),
    jobs.c.status.in_((JobStatus.FAILED.value, JobStatus.CANCELLED.value))).values(
    status=JobStatus.QUEUED.value, revision=sa.bindparam("v_revision"),
    resumed_after=jobs.c.attempts, retries=0, published_at=sa.bindparam("v_now"),
    owner=None, heartbeat_at=None, finished_at=None, exit_code=None, reason=None, error=None,
    **dict.fromkeys(MEASURES), bytes_out=0, outputs=None, stdout_ref=None,
    stderr_ref=None, callback_state=None, callback_attempts=0, callback_error=None,
    callback_due_at=None, callback_delivered_at=None).returning(*jobs.c)
_GET = sa.select(jobs).where(jobs.c.id == sa.bindparam("w_id"))
_GET_BY_KEY = sa.select(jobs).where(jobs.c.idempotency_key == sa.bindparam("w_key"))
_KNOWN_KEYS = sa.select(jobs.c.idempotency_key).where(
    jobs.c.idempotency_key.in_(sa.bindparam("w_keys", expanding=True)))
ACTIVE_FUNCTIONS = sa.select(jobs.c.function).where(jobs.c.status.in_(ACTIVE)).distinct()
_GET_BLOB = sa.select(blobs.c.data).where(blobs.c.key == sa.bindparam("w_key"))
_INSERT_JOB = jobs.insert()


class JobStore(FunctionRows, Housekeeping, CallbackRows, ScheduleRows, ResultRows):
    """Functions, jobs and inline blobs in one relational database."""

    def __init__(self, url: str):
        self.db = Database(url)
        self.engine = self.db.engine
        self.is_sqlite = self.db.is_sqlite
        self._dialect = sqlite if self.is_sqlite else postgresql
        self._upsert_blob = _blob_upsert(self._dialect)

    def __repr__(self) -> str:
        return f"JobStore({self.db!r})"

    def close(self) -> None:
        self.db.dispose()

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema up to date; safe when several processes start at once."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))

        def upgrade(connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        if not self.is_sqlite:
            def locked_upgrade(connection) -> None:
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(7465031)"))
                upgrade(connection)
            self.db.write(locked_upgrade)
            return
        with open(f"{self.engine.url.database}.migrate-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.db.write(upgrade)

    # -- jobs -----------------------------------------------------------------------------

    def create_job(self, job: Job, inline_blobs: dict[str, bytes] | None = None
                   ) -> tuple[Job, bool]:
        """Insert a queued job with its inline blobs (its input) in one transaction; on a
        known idempotency key return the existing job and False."""
        values = job_values(job)

        def insert(c) -> None:
            self._write_blobs(c, inline_blobs)
            c.execute(_INSERT_JOB, values)
        try:
            self.db.write(insert)
        except sa.exc.IntegrityError:
            if job.idempotency_key is None:
                raise
            return self.get_job_by_key(job.idempotency_key), False
        return job, True

    def get_job(self, job_id: str) -> Job:
        return self._one(_GET, {"w_id": job_id}, f"job {job_id!r} does not exist")

    def get_job_by_key(self, key: str) -> Job:
        return self._one(_GET_BY_KEY, {"w_key": key}, f"no job with idempotency key {key!r}")

    def existing_keys(self, keys: list[str]) -> set[str]:
        """Which of these idempotency keys a job already has."""
        if not keys:
            return set()
        rows = self.db.read(lambda c: c.execute(_KNOWN_KEYS, {"w_keys": keys}).all())
        return {row.idempotency_key for row in rows}

    def active_functions(self) -> set[str]:
        """The functions that have queued or running jobs, deleted ones included."""
        return set(self.db.read(lambda c: c.execute(ACTIVE_FUNCTIONS).scalars().all()))

    def _one(self, statement, params: dict, missing: str) -> Job:
        row = self.db.read(lambda c: c.execute(statement, params).first())
        if row is None:
            raise NotFound(missing)
        return job_from_row(row)

    def list_jobs(self, *, function: str | None = None, status: str | None = None,
                  limit: int = 50, before: str | None = None,
                  synchronous: bool | None = None) -> list[Job]:
        """Newest first; `before` is the id of the last job of the previous page."""
        query = sa.select(jobs).where(*_listed(function, status, before, synchronous)) \
            .order_by(jobs.c.id.desc()).limit(limit)
        return [job_from_row(r) for r in self.db.read(lambda c: c.execute(query).all())]

    def count_jobs(self, *, function: str | None = None, before: str | None = None,
                   synchronous: bool | None = None) -> int:
        """How many jobs `list_jobs` would list, all pages together."""
        query = sa.select(sa.func.count()).select_from(jobs).where(
            *_listed(function, None, before, synchronous))
        return self.db.read(lambda c: c.execute(query).scalar_one())

    def claim(self, job_id: str, owner: str, now: float, *, take_over_from: str | None = None
              ) -> Job | None:
        """queued -> running, or, with `take_over_from`, running under that (dead) owner ->
        running under `owner`. None when the row was not in that state."""
        params = {"w_id": job_id, "v_owner": owner, "v_now": now}
        if take_over_from is None:
            return self._returning(_CLAIM_QUEUED, params)

        def take_over(c):
            dead = c.execute(_GET, {"w_id": job_id}).first()
            row = c.execute(_TAKE_OVER, params | {"w_owner": take_over_from}).first()
            if row is not None:
                attempts.insert(c, self._dialect, attempts.died(job_from_row(dead), now))
                logchunks.delete_attempt(c, job_id, dead.attempts)
            return row
        row = self.db.write(take_over)
        return job_from_row(row) if row is not None else None

    def claim_within(self, job_id: str, owner: str, now: float, *, function: str, limit: int,
                     retry_at: float) -> tuple[Job | None, Deferral | None]:
        """`claim`, while fewer than `limit` jobs of `function` run. When as many run, the
        job stays queued and is deferred: `FULL`, its message due again at `retry_at` (the
        sweeper leaves it until then), or `LATER` when another message of it is already due
        later (drop this one). (None, None) when the job was not queued."""
        params = {"w_id": job_id, "v_owner": owner, "v_now": now, "w_function": function,
                  "w_limit": limit}

        def claim(c):
            if not self.is_sqlite:
                c.execute(_FUNCTION_LOCK, {"function": function})
            row = c.execute(_CLAIM_WITHIN, params).first()
            if row is not None:
                return job_from_row(row), None
            if c.execute(_DEFER, {"w_id": job_id, "w_now": now,
                                  "v_published_at": retry_at}).rowcount == 1:
                return None, Deferral.FULL
            queued = c.execute(_STATUS, {"w_id": job_id}).scalar() == JobStatus.QUEUED.value
            return None, Deferral.LATER if queued else None
        return self.db.write(claim)

    def heartbeat(self, job_id: str, owner: str, attempt: int, now: float) -> bool:
        """Renew the lease of attempt `attempt`; False when the job is no longer that
        attempt's (cancelled, or taken over)."""
        params = {"w_id": job_id, "w_owner": owner, "w_attempt": attempt,
                  "v_heartbeat_at": now}
        return self.db.write(lambda c: c.execute(_HEARTBEAT, params).rowcount) == 1

    def finish(self, job: Job, owner: str, outcome: Outcome, now: float) -> Job | None:
        """running -> terminal, only for the attempt that owns `job` (as claimed); the
        outcome's inline blobs are written in the same transaction."""
        params = {f"v_{column}": getattr(outcome, column)
                  for column in _OUTCOME_COLUMNS if column != "finished_at"}
        for column in ("status", "reason", "outputs"):
            params[f"v_{column}"] = TO_COLUMN[column](params[f"v_{column}"])
        params |= {"v_error": storable(outcome.error), "v_finished_at": now,
                   **callback_due(job, outcome.status, now), **_owned(job, owner)}
        return self._returning(_FINISH, params, outcome.inline_blobs,
                               attempts.ended(job, owner, now, outcome), outcome.live_log)

    def release(self, job: Job, owner: str, ended: Outcome, *, due_at: float,
                retried: bool = False, counted: bool = True) -> Job | None:
        """running -> queued again, for another attempt after this one `ended` so: a
        passing failure, or with `retried`, one of the function's own that its policy retries. The
        job's error says why; the sweeper leaves the job to its delayed message until
        `due_at`. Without `counted`, the attempt is left out of the platform's count (it was
        interrupted). None when the job is no longer this attempt's (cancelled meanwhile)."""
        params = {"v_error": storable(ended.error), "v_published_at": due_at,
                  "v_retried": int(retried), "v_uncounted": int(not counted),
                  **_owned(job, owner)}
        return self._returning(_RELEASE, params, ended.inline_blobs,
                               attempts.ended(job, owner, time.time(), ended), ended.live_log)

    def list_attempts(self, job_id: str) -> list[AttemptRecord]:
        """The job's attempts that ended, the first first."""
        return self.db.read(lambda c: attempts.listed(c, job_id))

    def cancel(self, job_id: str, now: float) -> Job | None:
        """queued|running -> cancelled; None when the job had already ended."""
        return self._returning(_CANCEL_JOB, {"w_id": job_id, "v_now": now})

    def keep_cancelled_logs(self, job: Job, owner: str, outcome: Outcome, now: float
                            ) -> Job | None:
        """What the attempt of `job` (as claimed) that was cancelled had printed and used,
        once it stopped; None when the job is not that attempt's cancelled job."""
        params = {f"v_{column}": getattr(outcome, column)
                  for column in ("exit_code", *MEASURES, "stdout_ref", "stderr_ref")}
        params |= {"w_id": job.id, "w_attempt": job.attempts}
        ended = dataclasses.replace(outcome, reason=Reason.CANCELLED)
        return self._returning(_CANCELLED_LOGS, params, outcome.inline_blobs,
                               attempts.ended(job, owner, now, ended), outcome.live_log)

    def redrive(self, job_id: str, revision: int, now: float) -> Job | None:
        """failed|cancelled -> queued, on `revision`; None when the job was not so."""
        return self._returning(_REDRIVE, {"w_id": job_id, "v_revision": revision, "v_now": now})

    def cancel_queued(self, function: str, now: float) -> list[Job]:
        """Every queued job of `function` -> cancelled; the jobs so cancelled."""
        params = {"w_function": function, "v_now": now}
        rows = self.db.write(lambda c: c.execute(_CANCEL_QUEUED, params).all())
        return [job_from_row(row) for row in rows]

    def _returning(self, statement, params: dict, inline_blobs: dict[str, bytes] | None = None,
                   attempt: dict | None = None, live_log: bool = False) -> Job | None:
        """One change of a job, with the blobs and the attempt it records, if it applied,
        and without that attempt's `live_log` chunks."""
        def update(c):
            row = c.execute(statement, params).first()
            if row is not None:
                self._write_blobs(c, inline_blobs)
                if attempt is not None:
                    attempts.insert(c, self._dialect, attempt)
                    if live_log:
                        logchunks.delete_attempt(c, attempt["job_id"], attempt["number"])
            return row
        row = self.db.write(update)
        return job_from_row(row) if row is not None else None

    # -- live logs ------------------------------------------------------------------------

    def append_log_chunks(self, rows: list[dict]) -> None:
        """Chunks of running attempts' output (`logchunks`), in one transaction."""
        if rows:
            self.db.write(lambda c: logchunks.append(c, self._dialect, rows))

    def live_log(self, job_id: str, attempt: int, offsets: dict[str, int]
                 ) -> tuple[Job, list[LogChunk]]:
        """The job, and what its attempt `attempt` has shipped past `offsets`, read at once."""
        def read(c):
            return c.execute(_GET, {"w_id": job_id}).first(), \
                logchunks.past(c, job_id, attempt, offsets)
        row, chunks = self.db.read(read)
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist")
        return job_from_row(row), chunks

    # -- blobs ----------------------------------------------------------------------------

    def _write_blobs(self, connection, inline_blobs: dict[str, bytes] | None) -> None:
        """Write blobs, replacing earlier ones (a re-run attempt writes the same keys)."""
        if inline_blobs:
            connection.execute(self._upsert_blob,
                               [{"key": k, "data": v} for k, v in inline_blobs.items()])

    def get_blob(self, key: str) -> bytes:
        row = self.db.read(lambda c: c.execute(_GET_BLOB, {"w_key": key}).first())
        if row is None:
            raise NotFound(f"blob {key!r} does not exist")
        return bytes(row.data)


def _blob_upsert(dialect):
    """INSERT ... ON CONFLICT (key) DO UPDATE, which SQLite and PostgreSQL spell alike."""
    statement = dialect.insert(blobs)
    return statement.on_conflict_do_update(index_elements=[blobs.c.key],
                                           set_={"data": statement.excluded.data})


def _listed(function: str | None, status: str | None, before: str | None,
            synchronous: bool | None) -> list:
    """The conditions of a listing of jobs: each one given narrows it."""
    conditions = []
    if function:
        conditions.append(jobs.c.function == function)
    if status:
        conditions.append(jobs.c.status == status)
    if before:
        conditions.append(jobs.c.id < before)
    if synchronous is not None:
        conditions.append(jobs.c.synchronous == synchronous)
    return conditions


def _owned(job: Job, owner: str) -> dict[str, Any]:
    return {"w_id": job.id, "w_owner": owner, "w_attempt": job.attempts}

