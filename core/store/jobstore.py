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
from sqlalchemy.engine import Engine

from core.errors import Conflict, NotFound, Unavailable
from core.functions import Function
from core.jobs import Job, JobStatus, Outcome, OutputObject, Reason, Trigger
from core.store.schema import blobs, functions, jobs

MIGRATIONS = Path(__file__).parent / "migrations"
_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_OUTCOME_COLUMNS = ("status", "finished_at", "exit_code", "reason", "error", "cpu_seconds",
                    "peak_memory", "bytes_out", "outputs", "stdout_ref", "stderr_ref")


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
_OWNED = sa.and_(jobs.c.id == sa.bindparam("w_id"), jobs.c.owner == sa.bindparam("w_owner"),
                 jobs.c.status == JobStatus.RUNNING.value)
_HEARTBEAT = jobs.update().where(_OWNED).values(**_set("heartbeat_at"))
_FINISH = jobs.update().where(_OWNED).values(**_set(*_OUTCOME_COLUMNS)).returning(*jobs.c)
_GET = sa.select(jobs).where(jobs.c.id == sa.bindparam("w_id"))
_INSERT_JOB = jobs.insert()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class JobStore:
    """Functions, jobs and inline blobs in one relational database."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(
                url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=16)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(
                url.replace("postgresql://", "postgresql+psycopg://", 1),
                pool_size=16, max_overflow=16, pool_pre_ping=True)

    def __repr__(self) -> str:
        return f"JobStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema up to date; safe when several processes start at once."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                if self.is_sqlite:
                    lock_path = self.engine.url.database
                    with open(f"{lock_path}.migrate-lock", "w") as lock:
                        fcntl.flock(lock, fcntl.LOCK_EX)
                        config.attributes["connection"] = connection
                        command.upgrade(config, "head")
                else:
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(7465031)"))
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
        except sa.exc.OperationalError as exc:
            raise Unavailable(f"job store unreachable: {exc.orig.__class__.__name__}") from exc

    # -- functions ------------------------------------------------------------------------

    def create_function(self, fn: Function, now: float | None = None) -> Function:
        now = now or time.time()
        try:
            with self.engine.begin() as c:
                c.execute(functions.insert().values(
                    name=fn.name, revision=1, spec=fn.to_spec(), token=fn.token,
                    created_at=now, updated_at=now))
        except sa.exc.IntegrityError:
            raise Conflict(f"function {fn.name!r} already exists") from None
        return dataclasses.replace(fn, revision=1)

    def replace_function(self, fn: Function, now: float | None = None) -> Function:
        """Store a new revision of an existing function, keeping its token."""
        with self.engine.begin() as c:
            row = c.execute(
                functions.update().where(functions.c.name == fn.name)
                .values(revision=functions.c.revision + 1, spec=fn.to_spec(),
                        updated_at=now or time.time())
                .returning(functions.c.revision, functions.c.token)).first()
        if row is None:
            raise NotFound(f"function {fn.name!r} does not exist")
        return dataclasses.replace(fn, revision=row.revision, token=row.token)

    def get_function(self, name: str) -> Function:
        with self.engine.connect() as c:
            row = c.execute(sa.select(functions).where(functions.c.name == name)).first()
        if row is None:
            raise NotFound(f"function {name!r} does not exist")
        return _function(row)

    def list_functions(self) -> list[Function]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(functions).order_by(functions.c.name)).all()
        return [_function(r) for r in rows]

    def delete_function(self, name: str) -> None:
        with self.engine.begin() as c:
            if c.execute(functions.delete().where(functions.c.name == name)).rowcount == 0:
                raise NotFound(f"function {name!r} does not exist")

    # -- jobs -----------------------------------------------------------------------------

    def create_job(self, job: Job, inline_blobs: dict[str, bytes] | None = None
                   ) -> tuple[Job, bool]:
        """Insert a queued job with its inline blobs (its input) in one transaction; on a
        known idempotency key return the existing job and False."""
        values = _job_values(job)
        try:
            with self.engine.begin() as c:
                _write_blobs(c, inline_blobs)
                c.execute(_INSERT_JOB, values)
        except sa.exc.IntegrityError:
            if job.idempotency_key is None:
                raise
            return self.get_job_by_key(job.idempotency_key), False
        return job, True

    def get_job(self, job_id: str) -> Job:
        with self.engine.connect() as c:
            row = c.execute(_GET, {"w_id": job_id}).first()
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist")
        return _job(row)

    def get_job_by_key(self, key: str) -> Job:
        with self.engine.connect() as c:
            row = c.execute(sa.select(jobs).where(jobs.c.idempotency_key == key)).first()
        if row is None:
            raise NotFound(f"no job with idempotency key {key!r}")
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
        with self.engine.connect() as c:
            return [_job(r) for r in c.execute(query)]

    def claim(self, job_id: str, owner: str, now: float, *, take_over_from: str | None = None
              ) -> Job | None:
        """queued -> running, or, with `take_over_from`, running under that (dead) owner ->
        running under `owner`. None when the row was not in that state."""
        params = {"w_id": job_id, "v_owner": owner, "v_now": now}
        if take_over_from is not None:
            return self._returning(_TAKE_OVER, params | {"w_owner": take_over_from})
        return self._returning(_CLAIM_QUEUED, params)

    def heartbeat(self, job_id: str, owner: str, now: float) -> bool:
        """Renew the lease; False when the job is no longer ours (cancelled or taken over)."""
        with self.engine.begin() as c:
            result = c.execute(_HEARTBEAT, {"w_id": job_id, "w_owner": owner,
                                            "v_heartbeat_at": now})
        return result.rowcount == 1

    def finish(self, job_id: str, owner: str, outcome: Outcome, now: float) -> Job | None:
        """running -> terminal, only for the attempt that owns the job; the outcome's inline
        blobs are written in the same transaction."""
        values = {
            "status": outcome.status.value, "finished_at": now, "exit_code": outcome.exit_code,
            "reason": outcome.reason.value if outcome.reason else None, "error": outcome.error,
            "cpu_seconds": outcome.cpu_seconds, "peak_memory": outcome.peak_memory,
            "bytes_out": outcome.bytes_out, "outputs": [o.to_dict() for o in outcome.outputs],
            "stdout_ref": outcome.stdout_ref, "stderr_ref": outcome.stderr_ref}
        params = {f"v_{k}": v for k, v in values.items()} | {"w_id": job_id, "w_owner": owner}
        return self._returning(_FINISH, params, outcome.inline_blobs)

    def cancel(self, job_id: str, now: float) -> Job | None:
        """queued|running -> cancelled; None when the job had already ended."""
        statement = jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE)).values(
            status=JobStatus.CANCELLED.value, reason=Reason.CANCELLED.value, finished_at=now
        ).returning(*jobs.c)
        return self._returning(statement, {})

    def mark_published(self, job_ids: Iterable[str], now: float) -> None:
        ids = list(job_ids)
        if ids:
            with self.engine.begin() as c:
                c.execute(jobs.update().where(jobs.c.id.in_(ids)).values(published_at=now))

    def jobs_to_republish(self, now: float, *, queued_before: float, heartbeat_before: float,
                          limit: int = 500) -> list[Job]:
        """Queued jobs not published since `queued_before`, and running jobs whose lease lapsed."""
        query = sa.select(jobs).where(sa.or_(
            (jobs.c.status == JobStatus.QUEUED.value)
            & sa.func.coalesce(jobs.c.published_at, jobs.c.created_at).__lt__(queued_before),
            (jobs.c.status == JobStatus.RUNNING.value) & (jobs.c.heartbeat_at < heartbeat_before),
        )).order_by(jobs.c.id).limit(limit)
        with self.engine.connect() as c:
            return [_job(r) for r in c.execute(query)]

    def _returning(self, statement, params: dict, inline_blobs: dict[str, bytes] | None = None
                   ) -> Job | None:
        with self.engine.begin() as c:
            row = c.execute(statement, params).first()
            if row is None:
                return None
            _write_blobs(c, inline_blobs)
        return _job(row)

    # -- blobs ----------------------------------------------------------------------------

    def get_blob(self, key: str) -> bytes:
        with self.engine.connect() as c:
            row = c.execute(sa.select(blobs.c.data).where(blobs.c.key == key)).first()
        if row is None:
            raise NotFound(f"blob {key!r} does not exist")
        return bytes(row.data)


def _write_blobs(connection, inline_blobs: dict[str, bytes] | None) -> None:
    """Write blobs, replacing earlier ones (a re-run attempt writes the same keys)."""
    if inline_blobs:
        connection.execute(blobs.delete().where(blobs.c.key.in_(list(inline_blobs))))
        connection.execute(blobs.insert(), [{"key": k, "data": v} for k, v in inline_blobs.items()])


def _function(row) -> Function:
    return Function.from_spec(row.spec, token=row.token, revision=row.revision)


def _job_values(job: Job) -> dict[str, Any]:
    values = {f.name: getattr(job, f.name) for f in dataclasses.fields(Job)}
    values.update(trigger=job.trigger.value, status=job.status.value,
                  reason=job.reason.value if job.reason else None,
                  outputs=[o.to_dict() for o in job.outputs], published_at=job.created_at)
    return values


def _job(row) -> Job:
    m = row._mapping
    return Job(
        id=m["id"], function=m["function"], revision=m["revision"], trigger=Trigger(m["trigger"]),
        status=JobStatus(m["status"]), spec=m["spec"], created_at=m["created_at"],
        idempotency_key=m["idempotency_key"], input_ref=m["input_ref"],
        input_size=m["input_size"], content_type=m["content_type"], attempts=m["attempts"],
        started_at=m["started_at"], finished_at=m["finished_at"], exit_code=m["exit_code"],
        reason=Reason(m["reason"]) if m["reason"] else None, error=m["error"],
        cpu_seconds=m["cpu_seconds"], peak_memory=m["peak_memory"], bytes_in=m["bytes_in"],
        bytes_out=m["bytes_out"],
        outputs=tuple(OutputObject(**o) for o in (m["outputs"] or ())),
        stdout_ref=m["stdout_ref"], stderr_ref=m["stderr_ref"], owner=m["owner"],
        heartbeat_at=m["heartbeat_at"])
