"""The `Executor` protocol: start an invocation, wait for it, kill it on cancel."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from core.functions import Function
from core.jobs import Job, OutputObject, Reason


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
    job: Job | None = None
    function: Function | None = None


@dataclasses.dataclass(frozen=True)
class Execution:
    exit_code: int | None
    reason: Reason | None
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    error: str | None = None
    outputs: tuple[OutputObject, ...] | None = None
    """What an executor that stages by itself uploaded; None: the worker uploads them."""
    stdout_ref: str | None = None
    """Where such an executor left a stdout too large for the job store (a blob reference);
    None: the stdout is in the attempt's `stdout` file."""


class Running(Protocol):
    def wait(self) -> Execution: ...

    def kill(self, reason: Reason) -> None:
        """Stop the invocation; `wait` then reports `reason`."""


class Executor(Protocol):
    name: str
    stages_itself: bool
    """Whether the executor moves the input and the outputs itself (in a Kubernetes pod)."""

    def start(self, invocation: Invocation) -> Running: ...
