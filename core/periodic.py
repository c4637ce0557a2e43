"""A background thread that runs one task every so often until stopped; a failing round is
logged and the next one runs as planned."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.errors import SluiceError

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, task: Callable[[], object]):
        self.name, self.interval, self.task = name, interval, task
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.task()
            except SluiceError as exc:
                log.warning("%s failed: %s", self.name, exc.detail)
            except Exception:
                log.exception("%s failed", self.name)


class Recurring:
    """Base of what runs one of its methods every so often (the sweeper, the janitor, the
    reconciler): started and stopped with the process that holds it."""

    def __init__(self, name: str, interval: float, task: Callable[[], object]):
        self._periodic = Periodic(name, interval, task)

    @property
    def stopping(self) -> threading.Event:
        return self._periodic.stopping

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
