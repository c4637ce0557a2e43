"""The functions as most readers need them: a cached copy of the job store's list, checked
for changes (one cheap query) at most once a second, or at once when asked, and re-read
only when they changed."""

from __future__ import annotations

import threading
import time

from core.errors import NotFound
from core.functions import Function
from core.store import JobStore

CHECK_SECONDS = 1.0


class FunctionCatalog:
    def __init__(self, store: JobStore):
        self.store = store
        self._by_name: dict[str, Function] = {}
        self._version: tuple[int, float] | None = None
        self._checked_at = -CHECK_SECONDS
        self._lock = threading.Lock()

    def all(self, *, fresh: bool = False) -> list[Function]:
        return list(self._current(fresh).values())

    def get(self, name: str) -> Function:
        """A function by name; one deployed a moment ago is found too."""
        fn = self._current(False).get(name) or self._current(True).get(name)
        if fn is None:
            raise NotFound(f"function {name!r} does not exist")
        return fn

    def forget(self) -> None:
        """Check for changes at the next read (after this process changed a function)."""
        with self._lock:
            self._checked_at = -CHECK_SECONDS

    def _current(self, fresh: bool) -> dict[str, Function]:
        with self._lock:
            if fresh or time.monotonic() - self._checked_at > CHECK_SECONDS:
                version = self.store.functions_version()
                if version != self._version:
                    self._by_name = {fn.name: fn for fn in self.store.list_functions()}
                    self._version = version
                self._checked_at = time.monotonic()
            return self._by_name
