"""Podman as these machines run it (see DESIGN.md), for the container benches and tests: its
configuration, and an image built from a busybox rootfs without any registry."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile

CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""
NEEDED = ("podman", "runc", "busybox")


def missing() -> list[str]:
    """The commands the container benches and tests need that are not installed."""
    return [command for command in NEEDED if shutil.which(command) is None]


def busybox_rootfs(busybox: str) -> bytes:
    """A tar of a root file system holding busybox and a link for each of its applets."""
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
    return buffer.getvalue()
