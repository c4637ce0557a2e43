"""Nothing a worker's functions started outlives the worker. A small process of its own, the
reaper, is told every process group the worker starts a function in, or an unconfined
launcher (`workers.executors.standing`) in; when the worker dies (its end of the reaper's
pipe closes, whatever killed it), the reaper asks each group's first process to end
(SIGTERM: a launcher then kills everything below it), kills what is left of the groups,
waits until no process of them is left and only then exits.

Until it has exited, the worker's lock file on this host stays locked (the reaper holds it
too): another worker takes over the dead worker's jobs only once it can take that lock
(`owner_is_gone`), so that an attempt never runs beside its takeover. Bubblewrap's own
`--die-with-parent` does the same for sandboxed functions; the reaper covers the rest."""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)
GONE_SECONDS = 10.0
# How long a launcher, asked to end, has to kill what it started.
TERM_SECONDS = 5.0
STALE_SECONDS = 60.0

# Reads "+PGID" and "-PGID" lines until end of file, then ends what is still listed.
_REAPER = f"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))

def signal_all(kill, number):
    for group in groups:
        try:
            kill(group, number)
        except OSError:
            pass

def left():
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{{entry}}/stat") as file:
                fields = file.read().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            return True
    return False

def wait(seconds):
    deadline = time.monotonic() + seconds
    while groups and left() and time.monotonic() < deadline:
        time.sleep(0.02)

signal_all(os.kill, signal.SIGTERM)
wait({TERM_SECONDS})
signal_all(os.killpg, signal.SIGKILL)
wait({GONE_SECONDS})
"""


def owners_dir() -> Path:
    """The lock files of the workers of one user of the host: only they may make, take or
    remove them. Found when needed: a pod's staging containers, which import this, may
    have no writable temporary directory at all."""
    return Path(tempfile.gettempdir()) / f"sluice-owners-{os.geteuid()}"


def lock_path(owner: str) -> Path:
    return owners_dir() / f"{owner.rpartition('/')[2]}.lock"


class Reaper:
    """The reaper of one worker process, `owner`, started with it."""

    def __init__(self, owner: str):
        self._lock = threading.Lock()
        self.path = lock_path(owner)
        _make_owners_dir()
        remove_stale_locks()
        self._held = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                       | os.O_NOFOLLOW, 0o600), "w")
        fcntl.flock(self._held, fcntl.LOCK_EX)
        self.process = subprocess.Popen(
            [os.path.realpath(sys.executable), "-I", "-c", _REAPER], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, pass_fds=[self._held.fileno()], text=True,
            start_new_session=True)

    def watch(self, group: int) -> None:
        self._tell(f"+{group}\n")

    def forget(self, group: int) -> None:
        self._tell(f"-{group}\n")

    def _tell(self, line: str) -> None:
        with self._lock:
            if self.process.stdin is None:
                return
            try:
                self.process.stdin.write(line)
                self.process.stdin.flush()
            except OSError:
                log.warning("the reaper has died; functions may outlive this worker")

    def close(self) -> None:
        """The worker stops: its functions have ended; the reaper goes, and the lock."""
        with self._lock:
            stdin, self.process.stdin = self.process.stdin, None
        if stdin is not None:
            stdin.close()
            self.process.wait()
            self.path.unlink(missing_ok=True)
            self._held.close()


def lock_taken(owner: str) -> bool | None:
    """Whether worker `owner` of this host, or its reaper, still runs: its lock file is
    locked. None when it has no lock file of this user's here (it runs as another user, or
    ran before the reaper existed)."""
    try:
        fd = _open_lock(lock_path(owner))
    except OSError:
        return None
    try:
        # Shared: workers probing the same lock at once do not mistake each other for it.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _open_lock(path: Path) -> int:
    """A lock file, refusing anything but a regular file (no link, no FIFO to block on)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def _make_owners_dir() -> None:
    """This user's directory of lock files, private; refused if someone else made it."""
    owners = owners_dir()
    owners.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(owners)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise OSError(f"{owners} is not a private directory of this user's")


def remove_stale_locks() -> None:
    """The lock files of workers, and reapers, that are gone (not those just made, which
    their worker may not have locked yet)."""
    for path in owners_dir().glob("*.lock"):
        try:
            fd = _open_lock(path)
        except OSError:
            continue
        try:
            if time.time() - os.fstat(fd).st_mtime >= STALE_SECONDS:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink()
        except OSError:
            continue
        finally:
            os.close(fd)
