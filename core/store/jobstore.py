"""Job and function persistence. Every state change is one compare-and-set UPDATE."""

from __future__ import annotations

import dataclasses
import fcntl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import Conflict, NotFound
from core.functions import Function
from core.jobs import (BLOB_KINDS, Job, JobStatus, Outcome, OutputObject, Reason, Trigger,
                       blob_key)
from core.store.database import Database
from core.store.schema import blobs, function_revisions, functions, jobs

MIGRATIONS = Path(__file__).parent / "migrations"
_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_OUTCOME_COLUMNS = ("status", "finished_at", "exit_code", "reason", "error", "cpu_seconds",
                    "peak_memory", "bytes_out", "outputs", "stdout_ref", "stderr_ref")
# How a column's value becomes the `Job` field of the same name, where it is not as stored.
_FROM_COLUMN = {
    "trigger": Trigger, "status": JobStatus,
    "reason": lambda value: Reason(value) if value else None,
    "outputs": lambda value: tuple(OutputObject(**o) for o in value or ()),
}
_TO_COLUMN = {
    "trigger": str, "status": str, "reason": lambda value: str(value) if value else None,
    "outputs": lambda value: [o.to_dict() for o in value],
}
_JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))


@dataclasses.dataclass(frozen=True)
class StoredFunction:
    """A function's row with the spec of its revision, as stored: `FunctionCatalog` turns
    it into a `Function`, parsing each revision once."""

    name: str
    revision: int
    spec: dict[str, Any]
    token: str = dataclasses.field(default="", repr=False)


def _set(*columns: str) -> dict:
    return {column: sa.bindparam(f"v_{column}") for column in columns}


# Built once: SQLAlchemy then reuses their compiled form (the hot path runs these per job).
_CLAIM = jobs.update().values(
    status=JobStatus.RUNNING.value, attempts=jobs.c.attempts + 1, **_set("owner"),
    heartbeat_at=sa.bindparam("v_now"), started_at=sa.bindparam("v_now")).returning(*jobs.c)
_CLAIM_QUEUED = _CLAIM.where(jobs.c.id == sa.bindparam("w_id"),
                             jobs.c.status == JobStatus.QUEUED.value)
_TAKE_OVER = _CLAIM.where(jobs.c.id == sa.bindparam("w_id"),
                          jobs.c.status == JobStatus.RUNNING.value,
                          jobs.c.owner == sa.bindparam("w_owner"))
# The attempt that owns a running job: its worker process and its number, so that two
# attempts of one process (a message delivered again) never pass each other's check.
_OWNED = sa.and_(jobs.c.id == sa.bindparam("w_id"), jobs.c.owner == sa.bindparam("w_owner"),
                 jobs.c.attempts == sa.bindparam("w_attempt"),
                 jobs.c.status == JobStatus.RUNNING.value)
_HEARTBEAT = jobs.update().where(_OWNED).values(**_set("heartbeat_at"))
_FINISH = jobs.update().where(_OWNED).values(**_set(*_OUTCOME_COLUMNS)).returning(*jobs.c)
_RELEASE = jobs.update().where(_OWNED).values(
    status=JobStatus.QUEUED.value, owner=None, heartbeat_at=None,
    **_set("error", "published_at")).returning(*jobs.c)
_GET = sa.select(jobs).where(jobs.c.id == sa.bindparam("w_id"))
_GET_BY_KEY = sa.select(jobs).where(jobs.c.idempotency_key == sa.bindparam("w_key"))
_KNOWN_KEYS = sa.select(jobs.c.idempotency_key).where(
    jobs.c.idempotency_key.in_(sa.bindparam("w_keys", expanding=True)))
_CURRENT = sa.select(functions.c.name, functions.c.revision, functions.c.token,
                     function_revisions.c.spec).join(function_revisions, sa.and_(
                         function_revisions.c.name == functions.c.name,
                         function_revisions.c.revision == functions.c.revision))
_GET_FUNCTION = _CURRENT.where(functions.c.name == sa.bindparam("w_name"))
_GET_REVISION = sa.select(function_revisions.c.spec).where(
    function_revisions.c.name == sa.bindparam("w_name"),
    function_revisions.c.revision == sa.bindparam("w_revision"))
_NEXT_REVISION = sa.select(sa.func.coalesce(sa.func.max(function_revisions.c.revision), 0) + 1
                           ).where(function_revisions.c.name == sa.bindparam("w_name"))
_ACTIVE_FUNCTIONS = sa.select(jobs.c.function).where(jobs.c.status.in_(_ACTIVE)).distinct()
_FUNCTIONS_VERSION = sa.select(sa.func.count(), sa.func.max(functions.c.updated_at))
_GET_BLOB = sa.select(blobs.c.data).where(blobs.c.key == sa.bindparam("w_key"))
_INSERT_JOB = jobs.insert()


class JobStore:
    """Functions, jobs and inline blobs in one relational database."""

    def __init__(self, url: str):
        self.db = Database(url)
        self.engine = self.db.engine
        self.is_sqlite = self.db.is_sqlite
        self._upsert_blob = _blob_upsert(sqlite if self.is_sqlite else postgresql)

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

    # -- functions ------------------------------------------------------------------------

    def create_function(self, fn: Function, now: float | None = None) -> StoredFunction:
        """Store a new function; its first revision continues the numbers of any earlier
        function of that name."""
        now = now or time.time()

        def create(c) -> int:
            revision = c.execute(_NEXT_REVISION, {"w_name": fn.name}).scalar_one()
            c.execute(functions.insert().values(name=fn.name, revision=revision, token=fn.token,
                                                created_at=now, updated_at=now))
            self._add_revision(c, fn, revision, now)
            return revision
        try:
            revision = self.db.write(create)
        except sa.exc.IntegrityError:
            raise Conflict(f"function {fn.name!r} already exists") from None
        return StoredFunction(fn.name, revision, fn.to_spec(), fn.token)

    def replace_function(self, fn: Function, now: float | None = None) -> StoredFunction:
        """Store a new revision of an existing function, keeping its token."""
        now = now or time.time()
        statement = (functions.update().where(functions.c.name == fn.name)
                     .values(revision=_NEXT_REVISION.scalar_subquery(), updated_at=now)
                     .returning(functions.c.revision, functions.c.token))

        def replace(c):
            row = c.execute(statement, {"w_name": fn.name}).first()
            if row is not None:
                self._add_revision(c, fn, row.revision, now)
            return row
        row = self.db.write(replace)
        if row is None:
            raise NotFound(f"function {fn.name!r} does not exist")
        return StoredFunction(fn.name, row.revision, fn.to_spec(), row.token)

    @staticmethod
    def _add_revision(connection, fn: Function, revision: int, now: float) -> None:
        connection.execute(function_revisions.insert().values(
            name=fn.name, revision=revision, spec=fn.to_spec(), created_at=now))

    def get_function(self, name: str) -> StoredFunction:
        row = self.db.read(lambda c: c.execute(_GET_FUNCTION, {"w_name": name}).first())
        if row is None:
            raise NotFound(f"function {name!r} does not exist")
        return StoredFunction(row.name, row.revision, row.spec, row.token)

    def get_revision(self, name: str, revision: int) -> StoredFunction:
        """A revision as it was deployed, whether or not it is still the current one."""
        params = {"w_name": name, "w_revision": revision}
        spec = self.db.read(lambda c: c.execute(_GET_REVISION, params).scalar())
        if spec is None:
            raise NotFound(f"function {name!r} has no revision {revision}")
        return StoredFunction(name, revision, spec)

    def list_functions(self) -> list[StoredFunction]:
        rows = self.db.read(
            lambda c: c.execute(_CURRENT.order_by(functions.c.name)).all())
        return [StoredFunction(r.name, r.revision, r.spec, r.token) for r in rows]

    def functions_version(self) -> tuple[int, float]:
        """Changes whenever a function is created, replaced or deleted: a cheap freshness
        check for caches of the function list."""
        row = self.db.read(lambda c: c.execute(_FUNCTIONS_VERSION).first())
        return row[0], row[1] or 0.0

    def delete_function(self, name: str) -> None:
        """Its revisions stay: jobs still queued on them run as they were invoked."""
        deleted = self.db.write(
            lambda c: c.execute(functions.delete().where(functions.c.name == name)).rowcount)
        if deleted == 0:
            raise NotFound(f"function {name!r} does not exist")

    # -- jobs -----------------------------------------------------------------------------

    def create_job(self, job: Job, inline_blobs: dict[str, bytes] | None = None
                   ) -> tuple[Job, bool]:
        """Insert a queued job with its inline blobs (its input) in one transaction; on a
        known idempotency key return the existing job and False."""
        values = _job_values(job)

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
        return set(self.db.read(lambda c: c.execute(_ACTIVE_FUNCTIONS).scalars().all()))

    def _one(self, statement, params: dict, missing: str) -> Job:
        row = self.db.read(lambda c: c.execute(statement, params).first())
        if row is None:
            raise NotFound(missing)
        return _job(row)

    def list_jobs(self, *, function: str | None = None, status: str | None = None,
                  limit: int = 50, before: str | None = None) -> list[Job]:
        """Newest first; `before` is the id of the last job of the previous page."""
        query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if function:
            query = query.where(jobs.c.function == function)
        if status:
            query = query.where(jobs.c.status == status)
        if before:
            query = query.where(jobs.c.id < before)
        return [_job(r) for r in self.db.read(lambda c: c.execute(query).all())]

    def claim(self, job_id: str, owner: str, now: float, *, take_over_from: str | None = None
              ) -> Job | None:
        """queued -> running, or, with `take_over_from`, running under that (dead) owner ->
        running under `owner`. None when the row was not in that state."""
        params = {"w_id": job_id, "v_owner": owner, "v_now": now}
        if take_over_from is not None:
            return self._returning(_TAKE_OVER, params | {"w_owner": take_over_from})
        return self._returning(_CLAIM_QUEUED, params)

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
            params[f"v_{column}"] = _TO_COLUMN[column](params[f"v_{column}"])
        params |= {"v_error": _text(outcome.error), "v_finished_at": now,
                   **_owned(job, owner)}
        return self._returning(_FINISH, params, outcome.inline_blobs)

    def release(self, job: Job, owner: str, *, error: str, due_at: float) -> Job | None:
        """running -> queued again, for another attempt after this one met a passing failure;
        `error` says why, and the sweeper leaves the job to its delayed message until
        `due_at`. None when the job is no longer this attempt's (cancelled meanwhile)."""
        params = {"v_error": _text(error), "v_published_at": due_at, **_owned(job, owner)}
        return self._returning(_RELEASE, params)

    def cancel(self, job_id: str, now: float) -> Job | None:
        """queued|running -> cancelled; None when the job had already ended."""
        statement = jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE)).values(
            status=JobStatus.CANCELLED.value, reason=Reason.CANCELLED.value, finished_at=now
        ).returning(*jobs.c)
        return self._returning(statement, {})

    def delete_jobs(self, job_ids: Iterable[str]) -> int:
        """Delete finished jobs and their inline blobs; active ones are left alone."""
        ids = list(job_ids)
        if not ids:
            return 0

        def delete(c) -> int:
            deleted = c.execute(jobs.delete().where(
                jobs.c.id.in_(ids), jobs.c.status.not_in(_ACTIVE)).returning(jobs.c.id)).all()
            gone = [row.id for row in deleted]
            if gone:
                c.execute(blobs.delete().where(blobs.c.key.in_(
                    [blob_key(kind, job_id) for job_id in gone for kind in BLOB_KINDS])))
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
        return [_job(r) for r in self.db.read(lambda c: c.execute(query).all())]

    def _returning(self, statement, params: dict, inline_blobs: dict[str, bytes] | None = None
                   ) -> Job | None:
        def update(c):
            row = c.execute(statement, params).first()
            if row is not None:
                self._write_blobs(c, inline_blobs)
            return row
        row = self.db.write(update)
        return _job(row) if row is not None else None

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


def _owned(job: Job, owner: str) -> dict[str, Any]:
    return {"w_id": job.id, "w_owner": owner, "w_attempt": job.attempts}


def _text(text: str | None) -> str | None:
    """Text a column can hold: PostgreSQL refuses NUL, which a function can put in what
    its attempt reports (GNU time's notes come from its scratch directory)."""
    return text.replace("\0", "\ufffd") if text else text


def _job_values(job: Job) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in _JOB_FIELDS}
    for name, convert in _TO_COLUMN.items():
        values[name] = convert(values[name])
    values["published_at"] = job.created_at
    return values


def _job(row) -> Job:
    mapping = row._mapping
    values = {name: mapping[name] for name in _JOB_FIELDS}
    for name, convert in _FROM_COLUMN.items():
        values[name] = convert(values[name])
    return Job(**values)
