"""How the process executor confines a function, so that it cannot reach the platform's
secrets or outlive its attempt:

- it runs as an unprivileged user of its own (`SLUICE_RUN_AS`) when the worker is root,
  so the worker's environment, memory and files (its data directory is 0700) are not its;
- within bubblewrap when installed: a read-only root, the scratch directory the only
  writable place, private `/proc`, `/tmp`, `/run` (no one's Unix sockets), PID, IPC and UTS
  namespaces, the worker's data directory hidden, and no network unless the function sets
  `network: true`;
- with at most so many processes of its user (a fork bomb stops there) and files of at most
  so many bytes (`prlimit`), and its memory limit as an address-space limit.

Every step is a small program exec'd in turn (`setpriv`, `bwrap`, `prlimit`): a worker that
forked itself to change user would copy its whole address space at every invocation."""

from __future__ import annotations

import dataclasses
import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from core.errors import Invalid
from core.settings import ProcessSettings
from workers.workdir import Workdir

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Sandbox:
    bwrap: str | None
    prlimit: str | None
    setpriv: str | None
    user: tuple[int, int] | None
    hidden: tuple[Path, ...]
    max_processes: int
    max_file_size: int

    @classmethod
    def configure(cls, settings: ProcessSettings, data_dir: Path) -> Sandbox:
        """The sandbox the settings ask for on this machine; `Invalid` when it cannot be
        had (the user is missing, bubblewrap is asked for and missing or unusable)."""
        user = _user(settings.run_as) if os.geteuid() == 0 else None
        setpriv = shutil.which("setpriv")
        if user is not None and setpriv is None:
            raise Invalid("SLUICE_RUN_AS needs setpriv (util-linux) to run functions as "
                          f"{settings.run_as!r}")
        bwrap = None
        if settings.sandbox != "none":
            bwrap = shutil.which("bwrap")
            if bwrap is not None and not _works(bwrap):
                log.warning("bubblewrap is installed but cannot make a sandbox here")
                bwrap = None
            if bwrap is None and settings.sandbox == "bwrap":
                raise Invalid("SLUICE_SANDBOX=bwrap, but bubblewrap is not installed or "
                              "cannot make a sandbox here (apt-get install bubblewrap)")
        return cls(bwrap=bwrap, prlimit=shutil.which("prlimit"), setpriv=setpriv, user=user,
                   hidden=(data_dir.resolve(),), max_processes=settings.max_processes,
                   max_file_size=settings.max_file_size)

    def describe(self) -> str:
        who = f"uid {self.user[0]}" if self.user else "the worker's user"
        return f"as {who}, {'in bubblewrap' if self.bwrap else 'without a sandbox'}"

    def command(self, argv: Sequence[str], workdir: Workdir, *, network: bool,
                memory: int | None, confined: bool = True) -> list[str]:
        """`argv` as it runs confined: as its user, within the limits, within the sandbox.
        A root worker's bubblewrap runs as root (a user namespace costs more) and the user
        changes inside it, dropping every privilege. Without `confined`, `argv` itself
        changes user and sets the limits (the standing sandbox's launcher)."""
        if confined:
            argv = self._as_user() + self._limit_command(self.limits(memory)) + list(argv)
        if self.bwrap is None:
            return list(argv)
        root = str(workdir.root)
        emptied = (Path("/tmp"), Path("/run"), *self.hidden)
        flags = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for place in emptied:
            # /tmp as on any machine: everyone's, sticky; the others no one's.
            flags += ["--perms", "1777" if place == Path("/tmp") else "0755", "--tmpfs",
                      str(place)]
        # The way down to the scratch directory, through what was emptied, stays open.
        for parent in reversed(workdir.root.parents):
            if any(place in parent.parents for place in emptied):
                flags += ["--perms", "0755", "--dir", str(parent)]
        flags += ["--bind", root, root, "--chdir", root, "--unshare-pid", "--unshare-ipc",
                  "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        if not network:
            flags.append("--unshare-net")
        if os.geteuid() != 0:
            flags.insert(0, "--unshare-user")
        elif self.user is None:
            flags += ["--cap-drop", "ALL"]
        return [self.bwrap, *flags, "--", *argv]

    def _as_user(self) -> list[str]:
        if self.user is None:
            return []
        uid, gid = self.user
        return [self.setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]

    def limits(self, memory: int | None) -> dict[str, int]:
        """The function's resource limits, by prlimit's names; a limit of 0 is not set."""
        limits = {"nproc": self.max_processes, "fsize": self.max_file_size, "as": memory or 0}
        return {name: value for name, value in limits.items() if value}

    def memory_limited(self, argv: Sequence[str], memory: int | None) -> list[str]:
        """`argv` within its memory limit (the standing sandbox's launcher set the others)."""
        return self._limit_command({"as": memory}) + list(argv) if memory else list(argv)

    def _limit_command(self, limits: dict[str, int]) -> list[str]:
        if not limits:
            return []
        if self.prlimit is not None:
            return [self.prlimit, *(f"--{name}={value}" for name, value in limits.items()), "--"]
        if "as" in limits:
            # Set before the function's exec, so nothing it starts escapes the limit.
            return ["/bin/sh", "-c", f"ulimit -v {limits['as'] // 1024} && exec \"$@\"",
                    "sluice-limit"]
        return []

    def hand_over(self, workdir: Workdir, input_file: Path) -> None:
        """Give the function its scratch directory and its input, and no one else."""
        if self.user is None:
            return
        uid, gid = self.user
        for path in (workdir.root, *workdir.kept_dirs, input_file):
            os.chown(path, uid, gid)
        workdir.root.chmod(0o700)

    @property
    def uid(self) -> int | None:
        """Whose files the outputs must be, when the function runs as its own user."""
        return self.user[0] if self.user else None


def _user(name: str | None) -> tuple[int, int] | None:
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise Invalid(f"SLUICE_RUN_AS: there is no user {name!r} to run functions as; create "
                      "it (make up does: useradd --system sluice-fn) or set SLUICE_RUN_AS="
                      "'' to run them as the worker's user") from None
    if entry.pw_uid == 0:
        raise Invalid(f"SLUICE_RUN_AS: {name!r} is root; functions must not run as root")
    return entry.pw_uid, entry.pw_gid


def _works(bwrap: str) -> bool:
    """Whether bubblewrap can make a sandbox here (namespaces may be refused)."""
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--", "/bin/true"]
    if os.geteuid() != 0:
        probe.insert(1, "--unshare-user")
    try:
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
