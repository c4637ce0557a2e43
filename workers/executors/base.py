"""The `Executor` protocol. An executor is given one attempt of a job and owns all of it:
staging the input in, running the function, staging the outputs and the captured output
out. It answers with the attempt's `Outcome`, the shape the store records.

Failures of its own (the object store out of reach, an image that cannot be had) it raises,
as Sluice's errors; the runner's one failure boundary decides what becomes of the job."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from core.functions import Function
from core.jobs import Job, Outcome, Reason
from workers.results import Inbox
from workers.workdir import Workdir


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One attempt of a job: the job as claimed, the revision of the function it was invoked
    with, the worker thread's scratch directory, empty, and where its results go (an
    executor whose functions can reach the worker's disk opens its socket)."""

    job: Job
    function: Function
    workdir: Workdir
    results: Inbox | None = None


@dataclasses.dataclass(frozen=True)
class Execution:
    """What a local process or a container reported, before its outputs are staged out."""

    exit_code: int | None
    reason: Reason | None
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    error: str | None = None


class Running(Protocol):
    def wait(self) -> Outcome:
        """Block until the attempt is over and its outputs are staged out."""

    def kill(self, reason: Reason) -> None:
        """Stop the attempt; `wait` then reports `reason`."""


class Executor(Protocol):
    name: str
    """The `SLUICE_EXECUTOR` it answers to; `core.runnable` says what it needs."""

    def start(self, attempt: Attempt) -> Running:
        """Stage the input in and start the function; raises `CannotRun` when this executor
        cannot run it at all."""

    def close(self) -> None:
        """Release what the executor holds, once the worker stops."""
