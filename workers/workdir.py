"""An attempt's scratch directory (`input/`, `output/`, `results/`, `stdout`, `stderr`, the
results socket), one per worker thread, and the removal of those that workers which died
left behind."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import threading
import uuid
from pathlib import Path

from workers.processes import alive

log = logging.getLogger(__name__)
_threads = threading.local()


@dataclasses.dataclass(frozen=True)
class Workdir:
    """A worker thread's scratch directory, emptied between attempts rather than recreated
    (creating and removing directories costs more than running a small function)."""

    root: Path
    input_dir: Path
    output_dir: Path
    stdout: Path
    stderr: Path
    rusage: Path
    """Where GNU time reports what the function used."""
    results_dir: Path
    """`RESULTS_DIR`: each file written here becomes a result (`workers.results`)."""
    results_socket: Path
    """`RESULTS_SOCKET`: each datagram sent here is a result."""

    @classmethod
    def at(cls, root: Path) -> Workdir:
        """The layout under `root`, on a worker or in a Kubernetes Job's pod."""
        return cls(root=root, input_dir=root / "input", output_dir=root / "output",
                   stdout=root / "stdout", stderr=root / "stderr", rusage=root / "rusage",
                   results_dir=root / "results", results_socket=root / "results.sock")

    @property
    def kept_dirs(self) -> tuple[Path, ...]:
        """The directories the function is given, kept from one attempt to the next."""
        return self.input_dir, self.output_dir, self.results_dir

    @classmethod
    def for_thread(cls, base: Path) -> Workdir:
        """This thread's directory under `base`, empty. One that cannot be emptied (the
        function made something there it cannot remove) is left for a new one."""
        made = getattr(_threads, "workdirs", None)
        if made is None:
            made = _threads.workdirs = {}
        workdir = made.get(base)
        if workdir is None:
            workdir = made[base] = cls.at(base / f"{os.getpid()}-{threading.get_native_id()}")
        try:
            workdir.clear()
        except OSError as exc:
            log.warning("scratch directory %s cannot be emptied (%s); using another",
                        workdir.root, exc)
            workdir = made[base] = cls.at(base / f"{workdir.root.name}-{uuid.uuid4().hex[:8]}")
            workdir.clear()
        return workdir

    def clear(self) -> None:
        """Remove everything the last attempt left, keeping `input/`, `output/` and
        `results/` as directories of their own (a function may have replaced them with
        links)."""
        self.root.mkdir(parents=True, exist_ok=True)
        kept = {directory.name for directory in self.kept_dirs}
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not (entry.name in kept and entry.is_dir(follow_symlinks=False)):
                    _remove(entry)
        for directory in self.kept_dirs:
            directory.mkdir(exist_ok=True)
            with os.scandir(directory) as entries:
                for entry in entries:
                    _remove(entry)

    def clear_quietly(self) -> None:
        """Empty it after an attempt; what cannot go is dealt with before the next one."""
        try:
            self.clear()
        except OSError as exc:
            log.warning("scratch directory %s: %s", self.root, exc)


def _remove(entry: os.DirEntry) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path)
    else:
        os.unlink(entry.path)


def remove_stale_workdirs(base: Path) -> None:
    """Scratch directories of worker processes that are gone, and the functions those left
    running: a function lives in a session of its own (so that a timeout can end its whole
    group), so it outlives a worker killed outright."""
    if not base.is_dir():
        return
    stale = [entry for entry in base.iterdir()
             if entry.name.partition("-")[0].isdigit()
             and not alive(int(entry.name.partition("-")[0]))]
    if stale:
        _kill_processes_in(stale)
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)


def _kill_processes_in(directories: list[Path]) -> None:
    roots = tuple(str(d.resolve()) for d in directories)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(roots):
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
