"""Runs a function as a local process in its own process group and session, staged on
the worker's disk."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from core import runnable
from core.jobs import Outcome, Reason
from workers.contract import environment
from workers.executors.base import Attempt, Execution
from workers.executors.deadlines import Deadlines
from workers.staging import LocalStaging

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


@functools.cache
def gnu_time() -> str | None:
    """GNU time, if installed. Linux keeps the high-water mark of the address space a process
    had before `exec` in its `ru_maxrss`, so a function started by the worker would report the
    worker's size. GNU time forks the function from its own small address space and writes the
    function's true peak to a file."""
    path = shutil.which("time", path="/usr/bin:/bin")
    if path is None:
        return None
    probe = subprocess.run([path, "--version"], capture_output=True, text=True)
    return path if "GNU" in probe.stdout + probe.stderr else None


# Shared by every executor of the process: at most one timer thread, whatever the number of
# executors (tests and benches make many).
_DEADLINES = Deadlines()


class ProcessExecutor:
    name = "process"

    def __init__(self, staging: LocalStaging):
        self.staging = staging

    def start(self, attempt: Attempt) -> RunningAttempt:
        fn, dirs = attempt.function, attempt.workdir
        runnable.check_runnable(fn, self.name)
        self.staging.stage_in(attempt)
        base = {"PATH": BASE_PATH, "HOME": str(dirs.root), "LANG": "C.UTF-8",
                "TMPDIR": str(dirs.root)}
        process = RunningProcess(fn.argv(), environment(attempt.job, fn, dirs, base),
                                 cwd=dirs.root, stdout=dirs.stdout, stderr=dirs.stderr,
                                 timeout=fn.timeout, memory=fn.memory, gnu_time=gnu_time())
        return RunningAttempt(self.staging, attempt, process)


class RunningAttempt:
    """The attempt's process, then its stage-out."""

    def __init__(self, staging: LocalStaging, attempt: Attempt, process: RunningProcess):
        self.staging, self.attempt, self.process = staging, attempt, process

    def kill(self, reason: Reason) -> None:
        self.process.kill(reason)

    def wait(self) -> Outcome:
        return self.staging.stage_out(self.attempt, self.process.wait())


class RunningProcess:
    """One command in a session of its own, limited in time (and memory), measured by GNU
    time when installed; everything it starts ends with it."""

    def __init__(self, argv: list[str], env: Mapping[str, str], *, cwd: Path, stdout: Path,
                 stderr: Path, timeout: float, memory: int | None = None,
                 gnu_time: str | None = None):
        self.deadlines = _DEADLINES
        self._killed: Reason | None = None
        self._lock = threading.Lock()
        self._command = argv[0]
        if memory:
            # Set before the function's exec, so nothing it starts escapes the limit.
            argv = ["/bin/sh", "-c", f"ulimit -v {memory // 1024} && exec \"$@\"",
                    "sluice-limit", *argv]
        self._rusage = cwd / "rusage"
        if gnu_time:
            argv = [gnu_time, "-q", "-f", "%M", "-o", str(self._rusage), "--", *argv]
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            try:
                self.proc = subprocess.Popen(
                    argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err, start_new_session=True)
            except OSError as exc:
                self.proc = None
                self.start_error = f"cannot start {self._command!r}: {exc.strerror}"
                return
        self._deadline = self.deadlines.add(timeout, lambda: self.kill(Reason.TIMEOUT))

    def kill(self, reason: Reason) -> None:
        with self._lock:
            if self.proc is None or self.proc.returncode is not None:
                return
            self._killed = self._killed or reason
            _kill_group(self.proc.pid)

    def wait(self) -> Execution:
        if self.proc is None:
            return Execution(exit_code=127, reason=Reason.ERROR, error=self.start_error)
        _, status, usage = os.wait4(self.proc.pid, 0)
        with self._lock:
            self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.deadlines.cancel(self._deadline)
        # Whatever the function left running in the background goes with it.
        _kill_group(self.proc.pid)
        code = self.proc.returncode
        exit_code = 128 - code if code < 0 else code
        reason = self._killed or (Reason.ERROR if exit_code else None)
        peak_kib, note = self._read_rusage()
        return Execution(exit_code=exit_code, reason=reason,
                         cpu_seconds=round(usage.ru_utime + usage.ru_stime, 6),
                         peak_memory=(peak_kib or usage.ru_maxrss) * 1024, error=note)

    def _read_rusage(self) -> tuple[int | None, str | None]:
        """GNU time's report: the peak in KiB on the last line, after any complaint of its
        own (such as a command it could not run)."""
        try:
            lines = self._rusage.read_text().strip().splitlines()
        except OSError:
            return None, None
        peak = int(lines[-1]) if lines and lines[-1].isdigit() else None
        notes = [line.partition(": ")[2] or line for line in lines if not line.isdigit()]
        return peak, "; ".join(notes) or None


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
