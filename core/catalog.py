"""The functions as every reader gets them: parsed from their stored specs once per revision
(a revision never changes), and the list of current revisions cached, checked for changes
(one cheap query) at most once a second, or at once when asked."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from core.errors import Invalid, NotFound
from core.functions import Function
from core.store import JobStore, StoredFunction

log = logging.getLogger(__name__)
CHECK_SECONDS = 1.0
MAX_REVISIONS = 4096


class FunctionCatalog:
    def __init__(self, store: JobStore):
        self.store = store
        self._current: dict[str, Function] = {}
        self._revisions: dict[tuple[str, int], Function] = {}
        self._version: tuple[int, float] | None = None
        self._checked_at = -CHECK_SECONDS
        self._lock = threading.Lock()

    def all(self, *, fresh: bool = False) -> list[Function]:
        return list(self._listing(fresh).values())

    def get(self, name: str, *, fresh: bool = False) -> Function:
        """A function's current revision; one deployed a moment ago is found too. With
        `fresh`, as the store has it now (after a change made by another process)."""
        if fresh:
            return self.parsed(self.store.get_function(name))
        fn = self._listing(False).get(name) or self._listing(True).get(name)
        if fn is None:
            raise NotFound(f"function {name!r} does not exist")
        return fn

    def revision(self, name: str, revision: int) -> Function:
        """The function as it was at `revision` (what a job invoked then runs)."""
        with self._lock:
            fn = self._revisions.get((name, revision))
        return fn if fn is not None else self.parsed(self.store.get_revision(name, revision))

    def parsed(self, stored: StoredFunction) -> Function:
        """The `Function` of a stored revision, parsed the first time it is seen."""
        key = (stored.name, stored.revision)
        with self._lock:
            fn = self._revisions.get(key)
        if fn is None:
            fn = Function.from_spec(stored.spec, revision=stored.revision, token="")
            with self._lock:
                if len(self._revisions) >= MAX_REVISIONS:
                    self._revisions.clear()
                self._revisions[key] = fn
        return dataclasses.replace(fn, token=stored.token) if stored.token else fn

    def forget(self) -> None:
        """Check for changes at the next read (after this process changed a function)."""
        with self._lock:
            self._checked_at = -CHECK_SECONDS

    def _listing(self, fresh: bool) -> dict[str, Function]:
        with self._lock:
            due = fresh or time.monotonic() - self._checked_at > CHECK_SECONDS
        if not due:
            return self._current
        version = self.store.functions_version()
        if version != self._version:
            current = {}
            for stored in self.store.list_functions():
                try:
                    current[stored.name] = self.parsed(stored)
                except Invalid as exc:
                    # Stored under older rules than today's: one such function must not
                    # hide the others. Its jobs fail with the reason.
                    log.error("function %s, revision %d, is left out: %s %s", stored.name,
                              stored.revision, exc.detail, exc.errors)
            with self._lock:
                self._current, self._version = current, version
        with self._lock:
            self._checked_at = time.monotonic()
        return self._current
