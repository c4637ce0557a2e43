"""The launcher inside a worker thread's standing sandbox: bubblewrap makes the sandbox's
namespaces once, and this small program, started in it as root, runs every function of
that thread in turn, so that no invocation pays for new namespaces. Standard library only:
it runs as a script (`python -I launcher.py FD CONFIG`), apart from Sluice's packages.
Without bubblewrap it stands all the same, in the worker's namespaces, as a subreaper (see
the end).

CONFIG (JSON) names the scratch directory, the function's user, the limits and the
worker's PID namespace. Once, at start, the launcher takes the limits, drops its
supplementary groups, every capability a program it starts could gain and the means to
gain any (`no_new_privs`): all it starts inherits that.

On the socket it is given, each request is a JSON document with two file descriptors (the
function's stdout and stderr). It spawns the command (`posix_spawn`: forking the launcher
would copy it at each function) in a session of its own, as the function's user: the
launcher takes that user as its real one for the spawn, and the child, made with
`resetids`, takes it as its effective one too. When the command ends, every process it
left is killed and the sandbox's /tmp emptied, then the answer is
`{"status": ..., "cpu": ..., "inblock": ..., "oublock": ...}` (its `wait4` usage).

Killing "every process left" is `kill(-1)`: everything the launcher may signal. That is
only the sandbox's own when the launcher is in a PID namespace of its own; so it refuses
to run in the worker's, unless told it is a subreaper (`"subreaper": true`, for functions
run without a sandbox). A subreaper is the parent of every process orphaned below it,
whatever session or process group it made for itself, so its descendants are all that
its functions left: those it kills, and it is not asked to empty the machine's /tmp. It
ends its descendants too when it gets SIGTERM (the worker destroying it, or the worker's
end: it asks for SIGTERM when its parent dies), then exits."""

import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import sys
import time

_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP = 1, 24
_PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 36, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_LIMITS = {"nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE}
_EMPTIED = ("/tmp", "/dev/shm")
# Python ignores these; a function must get them as any program does.
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


def _confine_self(config: dict) -> None:
    """What every function inherits: the limits, no supplementary group, no capability to
    gain by exec, and no way to gain privileges. A function without a sandbox run as the
    worker's user keeps what that user may do, as it would without the launcher."""
    for name, value in config["limits"].items():
        resource.setrlimit(_LIMITS[name], (value, value))
    libc = ctypes.CDLL(None, use_errno=True)
    if config["user"] is not None:
        os.setgroups([])
        libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        capability = 0
        while libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) == 0:
            capability += 1
    elif config["subreaper"]:
        return
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs")


def _spawn(request: dict, user: list | None, stdout: int, stderr: int) -> int:
    """Start the function; its pid."""
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    argv = request["argv"]
    if user is None:
        return os.posix_spawn(argv[0], argv, request["env"], file_actions=actions,
                              setsid=True, setsigdef=_DEFAULT_SIGNALS)
    uid, gid = user
    os.setresgid(gid, 0, 0)
    os.setresuid(uid, 0, 0)
    try:
        return os.posix_spawn(argv[0], argv, request["env"], file_actions=actions,
                              setsid=True, setsigdef=_DEFAULT_SIGNALS, resetids=True)
    finally:
        os.setresuid(0, 0, 0)
        os.setresgid(0, 0, 0)


def _reset(config: dict) -> None:
    """Nothing of the last function's is left to the next: its processes, its /tmp. The
    way to the scratch directory, which may lie in /tmp, is left (the worker empties it)."""
    if config["subreaper"]:
        _end_descendants()
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    workdir = config["workdir"]
    for place in _EMPTIED:
        for entry in os.scandir(place):
            if workdir == entry.path or workdir.startswith(entry.path + "/"):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


def _run(request: dict, config: dict, stdout: int, stderr: int) -> dict:
    try:
        pid = _spawn(request, config["user"], stdout, stderr)
    except OSError as exc:
        os.write(stderr, f"sluice: cannot start {request['argv'][0]!r}: {exc.strerror}\n"
                 .encode())
        return {"status": 127 << 8, "cpu": 0.0, "inblock": 0, "oublock": 0}
    finally:
        os.close(stdout)
        os.close(stderr)
    _, status, usage = os.wait4(pid, 0)
    _reset(config)
    return {"status": status, "cpu": usage.ru_utime + usage.ru_stime,
            "inblock": usage.ru_inblock, "oublock": usage.ru_oublock}


def _children() -> list[int]:
    """This launcher's children, zombies among them until they are reaped."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as file:
            return [int(pid) for pid in file.read().split()]
    except FileNotFoundError:
        # A kernel without CONFIG_PROC_CHILDREN: find them by their parent.
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as file:
                    if int(file.read().rpartition(")")[2].split()[1]) == os.getpid():
                        found.append(int(entry))
            except (OSError, ValueError):
                continue
        return found


def _end_descendants(patience: float = 10.0) -> None:
    """Kill every descendant, each child with its process group. A killed child's children
    become this subreaper's, and are killed in the next round, until none is left, or but
    those it may not kill (a set-user-ID program's) once `patience` is over."""
    deadline = time.monotonic() + patience
    while (children := _children()) and time.monotonic() < deadline:
        for child in children:
            for kill, target in ((os.killpg, _group_of(child)), (os.kill, child)):
                try:
                    if target is not None:
                        kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.002)


def _group_of(pid: int) -> int | None:
    """The child's process group, unless it is the launcher's own."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None
    return group if group != os.getpgrp() else None


def _become_subreaper(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot become a subreaper")

    def end(_signal, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _end_descendants()
        os._exit(0)
    signal.signal(signal.SIGTERM, end)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit("sluice launcher: the worker that started it is gone")


def main() -> None:
    fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    if config["subreaper"]:
        _become_subreaper(config["parent"])
    elif os.readlink("/proc/self/ns/pid") == config["worker_namespace"]:
        sys.exit("sluice launcher: not in a PID namespace of its own; refusing to run")
    os.set_inheritable(fd, False)
    channel = socket.socket(fileno=fd)
    os.chdir(config["workdir"])
    _confine_self(config)
    channel.send(b"ready")
    while True:
        message, fds, _flags, _address = socket.recv_fds(channel, 1 << 20, 2)
        if not message:
            return
        for received in fds:
            os.set_inheritable(received, False)
        channel.send(json.dumps(_run(json.loads(message), config, *fds)).encode())


if __name__ == "__main__":
    main()
