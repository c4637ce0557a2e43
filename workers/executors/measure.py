"""Measuring a function's process: GNU time around it, and what an ended process reported.

Linux keeps the high-water mark of the address space a process had before `exec` in its
`ru_maxrss`, so a function started by the worker would report the worker's size. GNU time
forks the function from its own small address space and writes the function's true peak to
a file."""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from core.jobs import Reason
from workers.executors.base import Execution


@functools.cache
def gnu_time() -> str | None:
    """GNU time, if installed."""
    path = shutil.which("time", path="/usr/bin:/bin")
    if path is None:
        return None
    probe = subprocess.run([path, "--version"], capture_output=True, text=True)
    return path if "GNU" in probe.stdout + probe.stderr else None


def timed(argv: Sequence[str], rusage: Path) -> list[str]:
    """`argv` under GNU time, which writes its peak memory to `rusage`."""
    time = gnu_time()
    return [time, "-q", "-f", "%M", "-o", str(rusage), "--", *argv] if time else list(argv)


def measured(code: int, cpu: float | None, rusage: Path, killed: Reason | None,
             maxrss: int | None = None) -> Execution:
    """What an ended process reported: its exit code (128 + N for signal N), why it ended
    badly, its CPU time and GNU time's report of its peak memory."""
    exit_code = 128 - code if code < 0 else code
    reason = killed or (Reason.ERROR if exit_code else None)
    peak_kib, note = _read_rusage(rusage)
    peak = peak_kib or maxrss
    return Execution(exit_code=exit_code, reason=reason,
                     cpu_seconds=round(cpu, 6) if cpu is not None else None,
                     peak_memory=peak * 1024 if peak else None, error=note)


def _read_rusage(path: Path) -> tuple[int | None, str | None]:
    """GNU time's report: the peak in KiB on the last line, after any complaint of its own
    (such as a command it could not run). The function could write there too: what is read
    is bounded and decoded leniently."""
    try:
        with open(path, "rb") as file:
            lines = file.read(4096).decode(errors="replace").strip().splitlines()
    except OSError:
        return None, None
    peak = int(lines[-1]) if lines and lines[-1].isdigit() and len(lines[-1]) < 16 else None
    notes = [line.partition(": ")[2] or line for line in lines if not line.isdigit()]
    return peak, "; ".join(notes)[:500] or None
