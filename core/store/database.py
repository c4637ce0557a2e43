"""The database connection: SQLite (WAL) or PostgreSQL behind one `read`/`write` pair that
owns locking, retries and the translation of driver errors."""

from __future__ import annotations

import fcntl
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.errors import Unavailable

T = TypeVar("T")
BUSY_DEADLINE_SECONDS = 30.0


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Contention is retried by `Database` with sub-millisecond backoff: SQLite's own busy
    # handler sleeps 1, 2, 5, 10... ms, which caps a multi-process stack at a few hundred
    # writes per second.
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


class Database:
    def __init__(self, url: str):
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(
                url, connect_args={"timeout": 0, "check_same_thread": False}, pool_size=16)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(
                url.replace("postgresql://", "postgresql+psycopg://", 1),
                pool_size=16, max_overflow=16, pool_pre_ping=True)
        # SQLite has one writer at a time. Writers queue for it here, threads on a lock and
        # processes on an flock of a file beside the database, instead of colliding inside
        # SQLite and backing off.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._lock_file = None
        if self.is_sqlite and path and path != ":memory:":
            self._lock_file = open(f"{path}.write-lock", "a")

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction that may write."""
        if self._write_lock is None:
            return self._attempt(work)
        with self._write_lock:
            if self._lock_file is None:
                return self._retrying(work)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                return self._retrying(work)
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def read(self, work: Callable[[Connection], T]) -> T:
        return self._retrying(work) if self.is_sqlite else self._attempt(work)

    def _retrying(self, work: Callable[[Connection], T]) -> T:
        deadline = time.monotonic() + BUSY_DEADLINE_SECONDS
        delay = 0.0002
        while True:
            try:
                return self._attempt(work)
            except _Busy:
                if time.monotonic() > deadline:
                    raise Unavailable("the job store stayed locked for "
                                      f"{BUSY_DEADLINE_SECONDS:.0f} s") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.005)

    def _attempt(self, work: Callable[[Connection], T]) -> T:
        try:
            with self.engine.begin() as connection:
                return work(connection)
        except sa.exc.OperationalError as exc:
            message = str(exc.orig).lower()
            if self.is_sqlite and ("locked" in message or "busy" in message):
                raise _Busy from exc
            raise Unavailable(f"job store error: {exc.orig.__class__.__name__}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()


class _Busy(Exception):
    """SQLite reported a lock held by another connection."""
