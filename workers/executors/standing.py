"""A worker thread's standing sandbox: bubblewrap, started once for the thread's scratch
directory, with the launcher (`launcher.py`) in it. Making namespaces costs several
milliseconds, far more than running a small function; here they are made once, and each
function is forked from the small launcher inside them, as its own user, within its limits.
After each function, the launcher kills what it left and empties the sandbox's /tmp.

A function that may reach the network is run in a standing sandbox of the thread's that
keeps the network. Where no sandbox can stand, each function is run by a bubblewrap of its
own instead (`Sandbox.command`).

Without bubblewrap the launcher stands all the same, unconfined, as a subreaper: whatever
session or process group a function's processes make for themselves, they stay below it,
and it kills them when the function ends, when it is destroyed and when the worker dies
(the worker's reaper also waits for it)."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.jobs import Reason
from workers.executors.base import Execution
from workers.executors.deadlines import Deadlines
from workers.executors.measure import Waited, measured
from workers.executors.sandbox import Sandbox
from workers.reaper import Reaper
from workers.workdir import Workdir

log = logging.getLogger(__name__)
LAUNCHER = Path(__file__).with_name("launcher.py")
START_SECONDS = 10.0
# How long a subreaper launcher may take to kill what it started, once told to end.
END_SECONDS = 15.0


@functools.cache
def _launcher_source() -> str:
    return LAUNCHER.read_text()


def launcher_command(fd: int, config: dict) -> list[str]:
    """The launcher, given as source to the interpreter the worker's is made from: neither
    Sluice's files nor its virtual environment need be visible in the sandbox (they may lie
    in a /tmp or /run it empties)."""
    return [os.path.realpath(sys.executable), "-I", "-c", _launcher_source(), str(fd),
            json.dumps(config)]


class StandingSandbox:
    def __init__(self, sandbox: Sandbox, workdir: Workdir, *, network: bool,
                 reaper: Reaper | None = None):
        self.sandbox, self.workdir, self.network = sandbox, workdir, network
        self.subreaper, self._reaper = sandbox.bwrap is None, reaper
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {"workdir": str(workdir.root), "user": sandbox.user,
                  "limits": sandbox.limits(None), "subreaper": self.subreaper,
                  "parent": os.getpid(), "worker_namespace": os.readlink("/proc/self/ns/pid")}
        argv = sandbox.command(launcher_command(theirs.fileno(), config), workdir,
                               network=network, memory=None, confined=False)
        try:
            self.process = subprocess.Popen(argv, pass_fds=[theirs.fileno()],
                                            stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        if self.subreaper and reaper is not None:
            reaper.watch(self.process.pid)
        self.channel = ours
        self.channel.settimeout(START_SECONDS)
        try:
            ready = self.channel.recv(16)
        except OSError:
            ready = b""
        self.channel.settimeout(None)
        if ready != b"ready":
            self.destroy()
            raise OSError("the launcher did not start in its sandbox")

    def usable_for(self, workdir: Workdir) -> bool:
        return workdir == self.workdir and self.process.poll() is None

    def run(self, argv: Sequence[str], env: Mapping[str, str], stdout: Path, stderr: Path,
            memory: int | None) -> None:
        request = {"argv": self.sandbox.memory_limited(argv, memory), "env": dict(env)}
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            socket.send_fds(self.channel, [json.dumps(request).encode()],
                            [out.fileno(), err.fileno()])

    def result(self) -> dict | None:
        """The launcher's answer for the function it runs; None when the sandbox is gone."""
        try:
            answer = self.channel.recv(4096)
        except OSError:
            return None
        return json.loads(answer) if answer else None

    def destroy(self) -> None:
        """Kill the sandbox and all in it. A subreaper launcher is asked to (SIGTERM): it
        alone knows every process below it."""
        if self.subreaper and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(END_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("a launcher did not end what it started within %.0f s",
                            END_SECONDS)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process.wait()
        if self.subreaper and self._reaper is not None:
            self._reaper.forget(self.process.pid)
        self.channel.close()


class LaunchedProcess:
    """A function the standing sandbox runs; the same face as `RunningProcess`."""

    def __init__(self, standing: StandingSandbox, argv: Sequence[str], env: Mapping[str, str],
                 *, stdout: Path, stderr: Path, timeout: float, memory: int | None,
                 deadlines: Deadlines):
        self.standing, self.deadlines = standing, deadlines
        self._killed: Reason | None = None
        self._done = False
        self._lock = threading.Lock()
        standing.run(argv, env, stdout, stderr, memory)
        self._deadline = deadlines.add(timeout, lambda: self.kill(Reason.TIMEOUT))

    def kill(self, reason: Reason) -> None:
        """Nothing can be killed inside alone: the whole sandbox goes, and the thread's next
        function has a new one."""
        with self._lock:
            if self._done:
                return
            self._killed = self._killed or reason
        self.standing.destroy()

    def wait(self) -> Execution:
        answer = self.standing.result()
        with self._lock:
            self._done = True
        self.deadlines.cancel(self._deadline)
        rusage = self.standing.workdir.rusage
        if answer is None:
            if self._killed is None:
                self.standing.destroy()
                log.warning("a standing sandbox ended while its function ran")
            return measured(-signal.SIGKILL, None, rusage, self._killed or Reason.ERROR)
        waited = Waited(cpu=answer["cpu"], inblock=answer["inblock"], oublock=answer["oublock"])
        return measured(os.waitstatus_to_exitcode(answer["status"]), waited, rusage,
                        self._killed)
