"""Leases: one thread renews the heartbeat of every job this process runs, and stops any job
whose row says it is no longer ours (cancelled, or taken over after we were thought dead)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from core.errors import SluiceError
from core.jobs import Reason
from core.periodic import Recurring
from core.store import JobStore
from workers.processes import alive
from workers.reaper import lock_taken

log = logging.getLogger(__name__)
HOST = socket.gethostname()


def new_owner() -> str:
    return f"{HOST}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


class Lease:
    """A job this process runs; `stop` is what stops its attempt (with the reason) when the
    row is no longer ours or the worker stops. Heartbeats start once attempt `attempt` is
    claimed: before that the row is not ours."""

    def __init__(self):
        self.stop: Callable[[Reason], None] | None = None
        self.attempt: int | None = None
        self.lost = False
        self.interrupted = False

    def claim(self, attempt: int) -> None:
        self.attempt = attempt

    def lose(self) -> None:
        self.lost = True
        self._stop(Reason.CANCELLED)

    def interrupt(self) -> None:
        """The worker stops: the attempt ends here and the job is queued again."""
        self.interrupted = True
        self._stop(Reason.INTERRUPTED)

    def _stop(self, reason: Reason) -> None:
        if self.stop is not None:
            self.stop(reason)


class Leases(Recurring):
    def __init__(self, store: JobStore, owner: str, interval: float, lease: float):
        super().__init__("sluice-leases", interval, self.renew)
        self.store, self.owner = store, owner
        self.interval, self.lease = interval, lease
        self._active: dict[str, Lease] = {}
        self._lock = threading.Lock()

    def hold(self, job_id: str) -> Lease | None:
        """Mark a job as run by this process; None if it already runs it."""
        with self._lock:
            if job_id in self._active:
                return None
            lease = self._active[job_id] = Lease()
            return lease

    def release(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)

    def interrupt_all(self) -> int:
        """Stop every attempt this process runs, to be queued again (the worker stops);
        how many."""
        with self._lock:
            active = list(self._active.values())
        for lease in active:
            lease.interrupt()
        return len(active)

    def owner_is_gone(self, owner: str | None, heartbeat_at: float | None, now: float) -> bool:
        """Whether the attempt recorded as `owner` can no longer be running: its lease has
        lapsed, or, on this host, its worker and that worker's reaper are gone."""
        if heartbeat_at is None or now - heartbeat_at > self.lease or not owner:
            return True
        pid = _local_pid(owner)
        if pid is None:
            return False
        if pid == os.getpid():
            return True
        taken = lock_taken(owner)
        return not taken if taken is not None else not alive(pid)

    def owner_is_ending(self, owner: str | None) -> bool:
        """Whether `owner` is a worker of this host that has died while its reaper still
        kills what its functions left: its jobs can be taken over in a moment."""
        pid = _local_pid(owner)
        return pid is not None and not alive(pid) and lock_taken(owner) is True

    def renew(self) -> None:
        """One round of heartbeats for the claimed jobs of this process."""
        with self._lock:
            active = dict(self._active)
        now = time.time()
        for job_id, lease in active.items():
            if lease.attempt is None:
                continue
            try:
                if not self.store.heartbeat(job_id, self.owner, lease.attempt, now):
                    log.info("job %s is no longer ours (cancelled or taken over); stopping it",
                             job_id)
                    lease.lose()
            except SluiceError as exc:
                log.warning("heartbeat for job %s failed: %s", job_id, exc.detail)
            except Exception:
                log.exception("heartbeat for job %s failed", job_id)


def _local_pid(owner: str | None) -> int | None:
    """The pid of worker `owner` (`host/pid/nonce`, see `new_owner`) if it is of this host."""
    host, _, rest = (owner or "").partition("/")
    pid_text = rest.partition("/")[0]
    return int(pid_text) if host == HOST and pid_text.isdigit() else None
