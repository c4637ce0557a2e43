"""The files a function leaves in `RESULTS_DIR`, read as results: the regular files at its
top, never through a link, in the order of their names. A name that starts with a dot is
one being written (to be renamed when done): it is never a result, nor is an empty file.

The directory is the function's own, so everything is read through a descriptor of it,
opened without following links (a link is no result, and the attempt's log says so), and a
file is checked once it is open: a function cannot have a file of the worker's read in its
place. Used by the worker and by a Kubernetes
pod's uploader alike."""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from pathlib import Path

from core.results import MAX_BYTES

_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A file that may become a result, as it was when listed."""

    name: str
    size: int
    signature: tuple[int, int, int]
    """Inode, size and modification time: unchanged from one look to the next, the file
    has stopped changing."""


def open_dir(directory: Path) -> int | None:
    """A descriptor of the directory, or None when it is not one (gone, or a link)."""
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None


def candidates(dir_fd: int, most: int) -> tuple[list[Candidate], bool]:
    """The files in the directory that may be results, by name, among its first `most`
    entries; and whether there were more."""
    found = []
    with os.scandir(dir_fd) as entries:
        for seen, entry in enumerate(entries):
            if seen == most:
                return sorted(found, key=lambda candidate: candidate.name), True
            if entry.name.startswith("."):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            # A link is listed, to be refused by `read` (and said so).
            if stat.S_ISLNK(info.st_mode) or stat.S_ISREG(info.st_mode) and info.st_size:
                found.append(Candidate(entry.name, info.st_size,
                                       (info.st_ino, info.st_size, info.st_mtime_ns)))
    return sorted(found, key=lambda candidate: candidate.name), False


def read(dir_fd: int, name: str, owner: int | None) -> bytes | str:
    """The file's bytes, or why it is no result: too large, or not a regular file that the
    function's user (`owner`, when it has one of its own) made."""
    try:
        fd = os.open(name, _OPEN, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"result file {name!r} is a link, not a file the function wrote"
        return f"result file {name!r} cannot be read ({exc.strerror})"
    with open(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (owner is not None and info.st_uid != owner):
            return f"result file {name!r} is not a file the function made"
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return f"result file {name!r} is over {MAX_BYTES} bytes"
    return data
