"""Child processes of `sluice up` that end with it, even when it is killed outright."""

from __future__ import annotations

import ctypes
import signal
import subprocess

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    """Start a child that receives SIGTERM if `sluice up` dies without stopping it."""
    return subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs)
