"""Results while the job runs: each attempt has an inbox, a datagram socket in its scratch
directory (`RESULTS_SOCKET`, Abaco's `/_abaco_results.sock` in a container) and its
`RESULTS_DIR`. One thread of the worker process reads every inbox's socket as datagrams
arrive, and looks into its directory about every half second, and keeps what it finds in the
job store at once, so that any gateway can read it before the job ends.

Each datagram is one result, and so is each file once it has stopped changing for a
second (`workers.result_files`), or when the attempt ends. What cannot be kept (over
`MAX_BYTES`, past `MAX_PER_JOB`) is dropped, and the attempt's log says so: a function
cannot make the worker fail, nor lose what it sent before."""

from __future__ import annotations

import logging
import os
import select
import socket
import stat
import threading
import time
from pathlib import Path

from core.errors import SluiceError
from core.results import MAX_BYTES, MAX_PER_JOB
from core.store import JobStore
from workers import result_files
from workers.workdir import Workdir

log = logging.getLogger(__name__)
LOOK_SECONDS = 0.5
SETTLED_SECONDS = 1.0
# sun_path holds 108 bytes, the last a NUL.
MAX_SOCKET_PATH = 107
# Notes on files that were no results, at most, in one attempt's log.
MAX_NOTES = 10
# Entries of RESULTS_DIR looked at, at most: a function cannot make the worker list millions.
MAX_ENTRIES = 2 * MAX_PER_JOB


class ResultsCollector:
    def __init__(self, store: JobStore, *, ttl_seconds: float):
        self.store, self.ttl_seconds = store, ttl_seconds
        self._poller = select.epoll()
        self._by_fd: dict[int, Inbox] = {}
        self._open: set[Inbox] = set()
        self._lock = threading.Lock()
        self._buffer = bytearray(MAX_BYTES)
        self._receiving = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sluice-results", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._poller.close()

    def inbox(self, job_id: str, workdir: Workdir) -> Inbox:
        """The inbox of the attempt that runs in `workdir`; `Inbox.finish` ends it."""
        inbox = Inbox(self, job_id, workdir)
        with self._lock:
            self._open.add(inbox)
        return inbox

    def _listen(self, inbox: Inbox, sock: socket.socket) -> None:
        with self._lock:
            self._by_fd[sock.fileno()] = inbox
        self._poller.register(sock.fileno(), select.EPOLLIN)

    def _forget(self, inbox: Inbox) -> None:
        with self._lock:
            self._open.discard(inbox)
            if inbox.sock is not None:
                self._by_fd.pop(inbox.sock.fileno(), None)
                self._poller.unregister(inbox.sock.fileno())

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                for fd, _ in self._poller.poll(LOOK_SECONDS):
                    with self._lock:
                        inbox = self._by_fd.get(fd)
                    if inbox is not None:
                        inbox.collect(datagrams=True, files=False)
                with self._lock:
                    due = [inbox for inbox in self._open if inbox.due_for_a_look()]
                for inbox in due:
                    inbox.collect(datagrams=False, files=True)
            except Exception:
                log.exception("results: a round failed")
                self._stopping.wait(LOOK_SECONDS)

    def receive(self, sock: socket.socket) -> list[bytes | int]:
        """Every datagram waiting on `sock`: its bytes, or its size when over `MAX_BYTES`.
        Empty ones are no results (as in Abaco)."""
        received: list[bytes | int] = []
        with self._receiving:
            while True:
                try:
                    size = sock.recv_into(self._buffer, MAX_BYTES, socket.MSG_TRUNC)
                except (BlockingIOError, InterruptedError):
                    return received
                except OSError as exc:
                    log.warning("results: a socket failed (%s)", exc)
                    return received
                if size > MAX_BYTES:
                    received.append(size)
                elif size:
                    received.append(bytes(self._buffer[:size]))


class Inbox:
    """One attempt's results, as they come; the counts of what was not kept, for its log."""

    def __init__(self, collector: ResultsCollector, job_id: str, workdir: Workdir):
        self.collector, self.job_id, self.workdir = collector, job_id, workdir
        self.sock: socket.socket | None = None
        self.owner: int | None = None
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._finished = False
        self._pending: list[bytes] = []
        self._too_large, self._largest, self._over_the_limit = 0, 0, 0
        self._refused: list[str] = []
        self._crowded = False
        self._seen: dict[str, tuple[tuple[int, int, int], float]] = {}
        self._taken: set[str] = set()
        self._looked_at = time.monotonic()

    def open_socket(self, owner: tuple[int, int] | None = None) -> Path | None:
        """Bind the attempt's socket, writable by `owner` (the function's user and group,
        or the worker's) and no one else; its path, or None when it cannot be had (the
        attempt's log then says why)."""
        path = self.workdir.results_socket
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            self.notes.append(f"no results socket: its path would be longer than "
                              f"{MAX_SOCKET_PATH} bytes (set a shorter SLUICE_WORK_DIR); "
                              "RESULTS_DIR works still")
            return None
        sock = socket.socket(socket.AF_UNIX,
                             socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            sock.bind(os.fsdecode(path))
            _make_private(path, owner)
        except OSError as exc:
            sock.close()
            self.notes.append(f"no results socket: {exc.strerror or exc}")
            return None
        self.sock = sock
        self.owner = owner[0] if owner else None
        self.collector._listen(self, sock)
        return path

    def due_for_a_look(self) -> bool:
        return not self._finished and time.monotonic() - self._looked_at >= LOOK_SECONDS

    def collect(self, *, datagrams: bool, files: bool, settled_only: bool = True) -> None:
        """Keep what waits in the socket, and the files in RESULTS_DIR (those that stopped
        changing, or, without `settled_only`, all)."""
        with self._lock:
            if self._finished:
                return
            if datagrams and self.sock is not None:
                for item in self.collector.receive(self.sock):
                    self._add(item)
            if files:
                self._looked_at = time.monotonic()
                self._take_files(settled_only)
            self._keep()

    def take(self, data: bytes | str) -> None:
        """A result the executor fetched (a file of a pod's), or why one was not kept."""
        with self._lock:
            if isinstance(data, str):
                self._refused.append(data)
            else:
                self._add(data)

    def finish(self, *, files: bool = True) -> list[str]:
        """The attempt is over: what waits in its socket, and then (unless it was stopped
        halfway) every file in its RESULTS_DIR, is kept, and the socket closed. Sluice's
        notes on what was not kept, for the attempt's log."""
        self.collect(datagrams=True, files=files, settled_only=False)
        with self._lock:
            if self._finished:
                return self.notes
            self._finished = True
            self.collector._forget(self)
            if self.sock is not None:
                self.sock.close()
                _unlink(self.workdir.results_socket)
            if self._pending:
                self.notes.append(f"{len(self._pending)} result(s) lost: the job store was "
                                  "out of reach")
            if self._too_large:
                self.notes.append(f"{self._too_large} result(s) dropped: over {MAX_BYTES} "
                                  f"bytes (the largest {self._largest})")
            self.notes += self._refused[:MAX_NOTES]
            if len(self._refused) > MAX_NOTES:
                self.notes.append(f"... and {len(self._refused) - MAX_NOTES} more")
            if self._crowded:
                self.notes.append(f"RESULTS_DIR held more than {MAX_ENTRIES} entries; only "
                                  f"the first {MAX_ENTRIES} were looked at")
            if self._over_the_limit:
                self.notes.append(f"{self._over_the_limit} result(s) dropped: a job keeps at "
                                  f"most {MAX_PER_JOB}")
        if self.notes:
            log.info("job %s: %s", self.job_id, "; ".join(self.notes))
        return self.notes

    def _add(self, item: bytes | int) -> None:
        """A result, or the size of one over `MAX_BYTES`."""
        size = item if isinstance(item, int) else len(item)
        if size > MAX_BYTES:
            self._too_large += 1
            self._largest = max(self._largest, size)
        elif len(self._pending) < MAX_PER_JOB:
            self._pending.append(item)
        else:
            self._over_the_limit += 1

    def _take_files(self, settled_only: bool) -> None:
        dir_fd = result_files.open_dir(self.workdir.results_dir)
        if dir_fd is None:
            return
        try:
            now = time.monotonic()
            found, crowded = result_files.candidates(dir_fd, MAX_ENTRIES)
            self._crowded = self._crowded or crowded
            for candidate in found:
                if candidate.name in self._taken:
                    continue
                signature, since = self._seen.get(candidate.name, (None, now))
                if signature != candidate.signature:
                    self._seen[candidate.name] = (candidate.signature, now)
                    since = now
                if settled_only and now - since < SETTLED_SECONDS:
                    continue
                self._taken.add(candidate.name)
                data = result_files.read(dir_fd, candidate.name, self.owner)
                if isinstance(data, str):
                    self._refused.append(data)
                else:
                    self._add(data)
        finally:
            os.close(dir_fd)

    def _keep(self) -> None:
        """Write what is pending, as far as the job's limit allows; kept for the next round
        when the store is out of reach."""
        if not self._pending:
            return
        now = time.time()
        try:
            kept = self.collector.store.add_results(
                self.job_id, self._pending, now=now, expires_at=now + self.collector.ttl_seconds,
                most=MAX_PER_JOB)
        except SluiceError as exc:
            log.warning("job %s: results not kept yet (%s)", self.job_id, exc.detail)
            return
        self._over_the_limit += len(self._pending) - kept
        self._pending = []


def _make_private(path: Path, owner: tuple[int, int] | None) -> None:
    """The socket just bound at `path`, for `owner` only. Through a descriptor of what is
    there, never a link: the directory may be writable by the function's user."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
            raise OSError(f"{path} was replaced")
        os.chmod(f"/proc/self/fd/{fd}", 0o600)
        if owner is not None:
            os.chown(f"/proc/self/fd/{fd}", *owner)
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
