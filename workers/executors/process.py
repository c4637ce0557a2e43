"""Runs a function as a local process in its own session, confined by the sandbox
(`workers.executors.sandbox`): in one of the worker thread's standing sandboxes (with the
network or without) when they can be had (`workers.executors.standing`), else confined by
programs exec'd in turn. Without bubblewrap, the thread's standing launcher is unconfined,
a subreaper that ends whatever its functions left. Staged on the worker's disk."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from core import runnable
from core.jobs import Outcome, Reason
from workers.contract import environment, message_in
from workers.executors.base import Attempt, Execution
from workers.executors.deadlines import Deadlines
from workers.executors.measure import Waited, measured, timed
from workers.executors.sandbox import Sandbox
from workers.executors.standing import LaunchedProcess, StandingSandbox
from workers.reaper import Reaper
from workers.staging import LocalStaging
from workers.workdir import Workdir

log = logging.getLogger(__name__)
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"

# Shared by every executor of the process: at most one timer thread, whatever the number of
# executors (tests and benches make many).
_DEADLINES = Deadlines()


class ProcessExecutor:
    name = "process"

    def __init__(self, staging: LocalStaging, sandbox: Sandbox, reaper: Reaper | None = None):
        self.staging, self.sandbox, self.reaper = staging, sandbox, reaper
        self._standing = threading.local()
        self._all: list[StandingSandbox] = []
        self._lock = threading.Lock()
        self._can_stand = True

    def start(self, attempt: Attempt) -> RunningAttempt:
        fn, dirs = attempt.function, attempt.workdir
        runnable.check_runnable(fn, self.name)
        staged = self.staging.stage_in(attempt)
        offered = attempt.results is not None \
            and attempt.results.open_socket(self.sandbox.user) is not None
        base = {"PATH": BASE_PATH, "HOME": str(dirs.root), "LANG": "C.UTF-8",
                "TMPDIR": str(dirs.root)}
        env = environment(attempt.job, fn, dirs, base, message_in(staged),
                          results_socket=offered)
        self.sandbox.hand_over(dirs, staged)
        # Without bubblewrap every function reaches the network: one launcher serves all.
        standing = self._standing_for(dirs,
                                      network=fn.network and self.sandbox.bwrap is not None)
        if standing is not None:
            process = LaunchedProcess(standing, timed(fn.argv(), dirs.rusage), env,
                                      stdout=dirs.stdout, stderr=dirs.stderr,
                                      timeout=fn.timeout, memory=fn.memory,
                                      deadlines=_DEADLINES)
        else:
            argv = self.sandbox.command(fn.argv(), dirs, network=fn.network, memory=fn.memory)
            process = RunningProcess(timed(argv, dirs.rusage), env, cwd=dirs.root,
                                     stdout=dirs.stdout, stderr=dirs.stderr,
                                     timeout=fn.timeout, rusage=dirs.rusage,
                                     reaper=self.reaper)
        return RunningAttempt(self, attempt, process)

    def _standing_for(self, dirs: Workdir, *, network: bool) -> StandingSandbox | None:
        """This thread's standing sandbox for `dirs`, with or without the network, started
        if need be; None when none can stand here (then each function gets a bubblewrap of
        its own, or is run by the worker itself)."""
        if not self._can_stand:
            return None
        mine = getattr(self._standing, "sandboxes", None)
        if mine is None:
            mine = self._standing.sandboxes = {}
        standing = mine.get(network)
        if standing is not None and standing.usable_for(dirs):
            return standing
        if standing is not None:
            self._forget(standing)
        try:
            standing = mine[network] = StandingSandbox(self.sandbox, dirs, network=network,
                                                       reaper=self.reaper)
        except OSError as exc:
            log.warning("no standing sandbox (%s); each function is started on its own", exc)
            self._can_stand = False
            return None
        with self._lock:
            self._all.append(standing)
        return standing

    def _forget(self, standing: StandingSandbox) -> None:
        standing.destroy()
        with self._lock:
            self._all.remove(standing)

    def close(self) -> None:
        """Stop every standing sandbox (the worker is stopping)."""
        with self._lock:
            standing, self._all = self._all, []
        for sandbox in standing:
            sandbox.destroy()


class RunningAttempt:
    """The attempt's process, then its stage-out."""

    def __init__(self, executor: ProcessExecutor, attempt: Attempt,
                 process: RunningProcess | LaunchedProcess):
        self.executor, self.attempt, self.process = executor, attempt, process

    def kill(self, reason: Reason) -> None:
        self.process.kill(reason)

    def wait(self) -> Outcome:
        return self.executor.staging.stage_out(self.attempt, self.process.wait(),
                                               owner=self.executor.sandbox.uid)


class RunningProcess:
    """One command in a session of its own, limited in time; everything it starts ends
    with it, and with the worker, through the `reaper`. `rusage` is where GNU time, if the
    command runs under it, reports."""

    def __init__(self, argv: list[str], env: Mapping[str, str], *, cwd: Path, stdout: Path,
                 stderr: Path, timeout: float, rusage: Path, reaper: Reaper | None = None):
        self.deadlines = _DEADLINES
        self._reaper = reaper
        self._killed: Reason | None = None
        self._lock = threading.Lock()
        self._rusage = rusage
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            try:
                self.proc = subprocess.Popen(
                    argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err, start_new_session=True)
            except OSError as exc:
                self.proc = None
                self.start_error = f"cannot start {argv[0]!r}: {exc.strerror}"
                return
        if reaper is not None:
            reaper.watch(self.proc.pid)
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
        if self._reaper is not None:
            self._reaper.forget(self.proc.pid)
        return measured(self.proc.returncode, Waited.of(usage), self._rusage, self._killed)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
