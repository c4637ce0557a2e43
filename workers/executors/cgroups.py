"""What a container used, read on the worker's host from the cgroup its engine made for it.

The engine removes that cgroup as it cleans up after the container, before it says that
the container exited; so the figures are read the moment the container's first process
(its init) ends, which a pidfd tells. Podman then needs tens of milliseconds more (conmon
reaps the init, starts `podman container cleanup`, which runs runc) before the cgroup is
gone. A cgroup gone first gives no figures, never guessed ones.

What is read, from cgroups v1 where the controller is mounted there, else from v2:
- CPU: `cpuacct.usage` (v1), `cpu.stat`'s `usage_usec` (v2): every process of the
  container, its init and the runtime's own start of it included;
- peak memory: `memory.max_usage_in_bytes` (v1), `memory.peak` (v2, Linux 5.19): the
  high-water mark of all that was charged to the container, which counts the page cache
  of the files it read and wrote and the kernel's memory for it, not only its processes';
- block I/O: `io.stat`'s `rbytes` and `wbytes` (v2), what had reached the devices when it
  ended. v1's blkio counts only on devices that have a throttling rule (Linux 6.x), so its
  zero would be a lie there: no figure."""

from __future__ import annotations

import dataclasses
import functools
import os
import select
import signal
import threading
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Usage:
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None


@functools.cache
def _hierarchies() -> tuple[dict[str, Path], Path | None]:
    """Where each v1 controller's hierarchy is mounted, and the v2 hierarchy: only whole
    ones (in a cgroup namespace of its own, the worker sees only part of one, and the
    paths of the container's cgroup would not be its own)."""
    v1: dict[str, Path] = {}
    v2 = None
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields = line.split()
            kind, options = fields[fields.index("-") + 1], fields[-1].split(",")
            if fields[3] != "/":
                continue
            if kind == "cgroup2":
                v2 = v2 or Path(fields[4])
            elif kind == "cgroup":
                for option in options:
                    v1.setdefault(option, Path(fields[4]))
    return v1, v2


class ContainerInit:
    """A container's init process, held by a pidfd, and its cgroup, read when it ends."""

    def __init__(self, directories: dict[str, Path], pidfd: int):
        self.directories, self.pidfd = directories, pidfd
        # A kill from another thread never signals through a descriptor closed meanwhile.
        self._lock = threading.Lock()
        self.usage: Usage | None = None
        """What the container used, once its init has ended; None until then."""

    @classmethod
    def watch(cls, pid: int, container_id: str) -> ContainerInit | None:
        """The cgroup of process `pid`, the init of container `container_id`. None when
        the process has ended already, is not that container's (the engine may see other
        PIDs than the worker does) or its cgroup is out of the worker's sight."""
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return None
        try:
            membership = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            membership = ""
        # Read while the pidfd shows the process alive: the PID was not another's.
        directories = _directories(membership, container_id)
        if not directories or _readable(pidfd, 0):
            os.close(pidfd)
            return None
        return cls(directories, pidfd)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` for the init to end; once it has, its figures are read."""
        if self.usage is None:
            if not _readable(self.pidfd, timeout):
                return False
            self.usage = self._read()
        return True

    def kill(self) -> bool:
        """SIGKILL to the init, which ends every process of the container, sent from here:
        asking the engine would block this thread while it removes the cgroup."""
        with self._lock:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                return False
        return True

    def close(self) -> None:
        with self._lock:
            if self.pidfd >= 0:
                os.close(self.pidfd)
                self.pidfd = -1

    def _read(self) -> Usage:
        dirs = self.directories
        if "cpuacct" in dirs:
            nanoseconds = _number(dirs["cpuacct"] / "cpuacct.usage")
            cpu = None if nanoseconds is None else nanoseconds / 1e9
        else:
            microseconds = _keyed(dirs.get("v2"), "cpu.stat").get("usage_usec")
            cpu = None if microseconds is None else microseconds / 1e6
        peak = _number(dirs["memory"] / "memory.max_usage_in_bytes") if "memory" in dirs \
            else _number(dirs["v2"] / "memory.peak") if "v2" in dirs else None
        io_read, io_write = _io(dirs["v2"] / "io.stat") if "v2" in dirs else (None, None)
        return Usage(cpu_seconds=None if cpu is None else round(cpu, 6), peak_memory=peak,
                     io_read_bytes=io_read, io_write_bytes=io_write)


def _directories(membership: str, container_id: str) -> dict[str, Path]:
    """The container's cgroup directory in each hierarchy that has a figure, from its
    init's `/proc/PID/cgroup` (`ID:CONTROLLERS:PATH` lines; v2's has no controllers):
    `cpuacct` and `memory` for v1, `v2`. Only paths that name the container:
    the others are some other process's."""
    v1, v2 = _hierarchies()
    found: dict[str, Path] = {}
    for line in membership.splitlines():
        _, controllers, path = line.split(":", 2)
        if container_id not in path or path.startswith("/.."):
            continue
        relative = path.lstrip("/")
        if not controllers and v2 is not None:
            found["v2"] = v2 / relative
        for controller in controllers.split(","):
            if controller in ("cpuacct", "memory") and controller in v1:
                found[controller] = v1[controller] / relative
    return found


def _readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def _number(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _keyed(directory: Path | None, name: str) -> dict[str, int]:
    """A flat keyed file (`key value` lines), such as `cpu.stat`."""
    if directory is None:
        return {}
    try:
        lines = (directory / name).read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split() for line in lines)
    return {pair[0]: int(pair[1]) for pair in pairs
            if len(pair) == 2 and pair[1].isascii() and pair[1].isdigit()}


def _io(path: Path) -> tuple[int | None, int | None]:
    """The bytes read and written on every device, from `io.stat` (`MAJ:MIN rbytes=N
    wbytes=N rios=N ...` lines); None without the io controller (there is no such file)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None, None
    totals = {"rbytes": 0, "wbytes": 0}
    for line in lines:
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key in totals and value.isascii() and value.isdigit():
                totals[key] += int(value)
    return totals["rbytes"], totals["wbytes"]
