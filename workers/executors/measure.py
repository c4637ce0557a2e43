"""Measuring a function's process: GNU time around it, and what an ended process reported.

Linux keeps the high-water mark of the address space a process had before `exec` in its
`ru_maxrss`, so a function started by the worker would report the worker's size. GNU time
forks the function from its own small address space and writes the function's true peak to
a file, with the function's block I/O: `ru_inblock` and `ru_oublock`, which Linux counts in
512-byte blocks as the function's processes read from block devices and dirty the pages of
their files. Reads served from the page cache count nothing; a page dirtied counts once
dirtied, whole, whether or not it reaches the disk; tmpfs is no block device."""

from __future__ import annotations

import dataclasses
import functools
import resource
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from core.jobs import Reason
from workers.executors.base import Execution

BLOCK = 512
# The peak resident set in KiB, and the blocks read and written.
_FORMAT = "%M %I %O"


@functools.cache
def gnu_time() -> str | None:
    """GNU time, if installed."""
    path = shutil.which("time", path="/usr/bin:/bin")
    if path is None:
        return None
    probe = subprocess.run([path, "--version"], capture_output=True, text=True)
    return path if "GNU" in probe.stdout + probe.stderr else None


def timed(argv: Sequence[str], rusage: Path) -> list[str]:
    """`argv` under GNU time, which writes what the function used to `rusage`."""
    time = gnu_time()
    return [time, "-q", "-f", _FORMAT, "-o", str(rusage), "--", *argv] if time else list(argv)


@dataclasses.dataclass(frozen=True)
class Waited:
    """What `wait4` reported for the command that was started: the function and what it
    waited for, with the small programs around it (GNU time, the sandbox's)."""

    cpu: float
    maxrss: int | None = None
    """In KiB; None where the command's own high-water mark would not be the function's."""
    inblock: int = 0
    oublock: int = 0

    @classmethod
    def of(cls, usage: resource.struct_rusage) -> Waited:
        return cls(cpu=usage.ru_utime + usage.ru_stime, maxrss=usage.ru_maxrss,
                   inblock=usage.ru_inblock, oublock=usage.ru_oublock)


def measured(code: int, waited: Waited | None, rusage: Path, killed: Reason | None
             ) -> Execution:
    """What an ended process reported: its exit code (128 + N for signal N), why it ended
    badly, its CPU time, and GNU time's report of its peak memory and block I/O (what
    `wait4` saw of them where there is no GNU time; nothing where it was killed before it
    could report)."""
    exit_code = 128 - code if code < 0 else code
    reason = killed or (Reason.ERROR if exit_code else None)
    report, note = _read_rusage(rusage)
    if report is None and gnu_time() is not None:
        # GNU time was killed with the function: wait4 saw GNU time, not the function.
        waited = None
    if report is None and waited is not None:
        report = (waited.maxrss, waited.inblock, waited.oublock)
    peak, inblock, oublock = report or (None, None, None)
    return Execution(exit_code=exit_code, reason=reason,
                     cpu_seconds=round(waited.cpu, 6) if waited is not None else None,
                     peak_memory=peak * 1024 if peak else None,
                     io_read_bytes=None if inblock is None else inblock * BLOCK,
                     io_write_bytes=None if oublock is None else oublock * BLOCK, error=note)


def _read_rusage(path: Path) -> tuple[tuple[int, int, int] | None, str | None]:
    """GNU time's report: the peak in KiB and the blocks read and written on the last line,
    after any complaint of its own (such as a command it could not run). The function could
    write there too: what is read is bounded and decoded leniently."""
    try:
        with open(path, "rb") as file:
            lines = file.read(4096).decode(errors="replace").strip().splitlines()
    except OSError:
        return None, None
    report = _figures(lines[-1]) if lines else None
    notes = [line.partition(": ")[2] or line for line in lines if _figures(line) is None]
    return report, "; ".join(notes)[:500] or None


def _figures(line: str) -> tuple[int, int, int] | None:
    fields = line.split()
    if len(fields) != 3 or not all(f.isascii() and f.isdigit() and len(f) < 20
                                   for f in fields):
        return None
    peak, inblock, oublock = (int(f) for f in fields)
    return peak, inblock, oublock
