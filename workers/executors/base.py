"""The `Executor` protocol: start an invocation, wait for it, kill it on cancel."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from core.jobs import Reason


@dataclasses.dataclass(frozen=True)
class Invocation:
    """Everything an executor needs to run one attempt, already staged on disk."""

    argv: tuple[str, ...]
    environment: Mapping[str, str]
    workdir: Path
    stdout: Path
    stderr: Path
    timeout: float
    memory: int | None = None
    cpu: float | None = None
    image: str | None = None
    network: bool = False


@dataclasses.dataclass(frozen=True)
class Execution:
    exit_code: int | None
    reason: Reason | None
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    error: str | None = None


class Running(Protocol):
    def wait(self) -> Execution: ...

    def kill(self, reason: Reason) -> None:
        """Stop the invocation; `wait` then reports `reason`."""


class Executor(Protocol):
    name: str

    def start(self, invocation: Invocation) -> Running: ...
