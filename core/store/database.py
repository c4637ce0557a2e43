"""The database connection: SQLite (WAL) or PostgreSQL behind one `read`/`write` pair that
owns locking, retries and the translation of driver errors."""

from __future__ import annotations

import fcntl
import queue
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.errors import Unavailable

T = TypeVar("T")
BUSY_DEADLINE_SECONDS = 30.0
MAX_BATCH = 64


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
        # SQLite has one writer at a time. In a process, one thread does the writing and
        # commits what has queued up meanwhile together (group commit); processes queue on
        # an flock of a file beside the database instead of colliding inside SQLite.
        self._lock_file = None
        if self.is_sqlite and path and path != ":memory:":
            self._lock_file = open(f"{path}.write-lock", "a")
        self._writer = _GroupWriter(self) if self.is_sqlite else None

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction that may write. On SQLite it may share the
        transaction with other writes of this process; if any of them fails, each runs again
        in a transaction of its own, so one write's failure is never another's."""
        if self._writer is None:
            return self._attempt(work)
        return self._writer.submit(work)

    def _write_batch(self, connection: Connection, works: list[Callable[[Connection], Any]]
                     ) -> list:
        """Run the works in one transaction on the writer's connection, holding the
        cross-process lock."""
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            return self._retrying(lambda c: [work(c) for work in works], connection)
        finally:
            if self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def read(self, work: Callable[[Connection], T]) -> T:
        return self._retrying(work) if self.is_sqlite else self._attempt(work)

    def _retrying(self, work: Callable[[Connection], T], connection: Connection | None = None
                  ) -> T:
        deadline = time.monotonic() + BUSY_DEADLINE_SECONDS
        delay = 0.0002
        while True:
            try:
                return self._attempt(work, connection)
            except _Busy:
                if time.monotonic() > deadline:
                    raise Unavailable("the job store stayed locked for "
                                      f"{BUSY_DEADLINE_SECONDS:.0f} s") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.005)

    def _attempt(self, work: Callable[[Connection], T], connection: Connection | None = None
                 ) -> T:
        """One transaction, on `connection` or on one from the pool."""
        try:
            if connection is None:
                with self.engine.begin() as pooled:
                    return work(pooled)
            with connection.begin():
                return work(connection)
        except sa.exc.OperationalError as exc:
            message = str(exc.orig).lower()
            if self.is_sqlite and ("locked" in message or "busy" in message):
                raise _Busy from exc
            raise Unavailable(f"job store error: {exc.orig.__class__.__name__}") from exc

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.stop()
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()


class _Busy(Exception):
    """SQLite reported a lock held by another connection."""


class _Pending:
    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Callable[[Connection], Any]):
        self.work, self.done = work, threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class _GroupWriter:
    """The one thread of a process that writes to SQLite, on a connection of its own (taking
    one from the pool for each batch costs as much as a small write)."""

    def __init__(self, db: Database):
        self.db = db
        self._connection: Connection | None = None
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sluice-store-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[Connection], T]) -> T:
        pending = _Pending(work)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._close()
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            if self._connection is None:
                self._connection = self.db.engine.connect()
            results = self.db._write_batch(self._connection, [p.work for p in batch])
        except BaseException as exc:
            if isinstance(exc, Unavailable):
                # The connection may be what broke: the next attempt starts on a new one.
                self._close()
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for pending in batch:
                    self._commit([pending])
                return
        else:
            for pending, result in zip(batch, results):
                pending.result = result
        for pending in batch:
            pending.done.set()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
