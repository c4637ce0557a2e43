"""The launcher inside a worker thread's standing sandbox: bubblewrap makes the sandbox's
namespaces once, and this small program, started in it as root, runs every function of
that thread in turn, so that no invocation pays for new namespaces. Standard library only:
it runs as a script (`python -I launcher.py FD CONFIG`), apart from Sluice's packages.

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
`{"status": ..., "cpu": ...}`.

Killing "every process left" is `kill(-1)`: everything the launcher may signal. That is
only the sandbox's own when the launcher is in a PID namespace of its own; so it refuses
to run in the worker's."""

import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import sys

_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 24, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_LIMITS = {"nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE}
_EMPTIED = ("/tmp", "/dev/shm")
# Python ignores these; a function must get them as any program does.
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


def _confine_self(config: dict) -> None:
    """What every function inherits: the limits, no supplementary group, no capability to
    gain by exec, and no way to gain privileges."""
    for name, value in config["limits"].items():
        resource.setrlimit(_LIMITS[name], (value, value))
    libc = ctypes.CDLL(None, use_errno=True)
    if config["user"] is not None:
        os.setgroups([])
        libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        capability = 0
        while libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) == 0:
            capability += 1
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


def _reset(workdir: str) -> None:
    """Nothing of the last function's is left to the next: its processes, its /tmp. The
    way to the scratch directory, which may lie in /tmp, is left (the worker empties it)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
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
        return {"status": 127 << 8, "cpu": 0.0}
    finally:
        os.close(stdout)
        os.close(stderr)
    _, status, usage = os.wait4(pid, 0)
    _reset(config["workdir"])
    return {"status": status, "cpu": usage.ru_utime + usage.ru_stime}


def main() -> None:
    fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    if os.readlink("/proc/self/ns/pid") == config["worker_namespace"]:
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
