"""One thread that fires timeouts for every running invocation of a process, instead of a
timer thread per invocation."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Deadlines:
    def __init__(self):
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._counter = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, seconds: float, action: Callable[[], None]) -> int:
        """Call `action` after `seconds` unless `cancel` is called with the returned handle."""
        handle = next(self._counter)
        with self._wakeup:
            heapq.heappush(self._heap, (time.monotonic() + seconds, handle, action))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sluice-deadlines",
                                                daemon=True)
                self._thread.start()
            self._wakeup.notify()
        return handle

    def cancel(self, handle: int) -> None:
        with self._wakeup:
            self._cancelled.add(handle)

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while self._heap and self._heap[0][1] in self._cancelled:
                    self._cancelled.discard(heapq.heappop(self._heap)[1])
                if not self._heap:
                    self._wakeup.wait()
                    continue
                due, handle, action = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._wakeup.wait(delay)
                    continue
                heapq.heappop(self._heap)
            action()
