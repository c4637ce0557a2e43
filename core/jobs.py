"""The job: one invocation of a function, its state machine and what it measured."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from core.times import rfc3339


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DISMISSED = "dismissed"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


TERMINAL = tuple(s for s in JobStatus if s.terminal)
# The bytes a job may have, kept as blobs under `<kind>/<job id>`.
BLOB_KINDS = ("inputs", "stdout", "stderr")


def blob_key(kind: str, job_id: str) -> str:
    return f"{kind}/{job_id}"


def log_key(kind: str, job_id: str, attempt: int) -> str:
    """Where one attempt's `stdout` or `stderr` is kept: each attempt's log is its own."""
    return f"{kind}/{job_id}/{attempt}"


class Reason(enum.StrEnum):
    TIMEOUT = "timeout"
    OOM = "oom"
    ERROR = "error"
    CANCELLED = "cancelled"
    UNAVAILABLE = "unavailable"
    """What the attempts needed (the object store, the container engine...) stayed out of
    reach until the retries ran out."""
    INTERRUPTED = "interrupted"
    """The worker stopped before the attempt ended: the job was queued again (an attempt's
    reason only, never a job's)."""


FAILED_STATUS = {Reason.TIMEOUT: 504, Reason.UNAVAILABLE: 503}


class Trigger(enum.StrEnum):
    HTTP = "http"
    STORAGE = "storage"
    CRON = "cron"
    SCAN = "scan"
    CHAIN = "chain"
    FAILURE = "failure"
    """Another function's job failed, and this function is its `on_failure`."""
    END = "end"
    """Another function's job ended, and this function is its `on_end`."""


@dataclasses.dataclass(frozen=True)
class OutputObject:
    name: str
    bucket: str
    key: str
    size: int
    content_type: str
    etag: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    function: str
    revision: int
    trigger: Trigger
    status: JobStatus
    created_at: float
    idempotency_key: str | None = None
    input_ref: str | None = None
    input_size: int = 0
    content_type: str | None = None
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The invocation's query parameters: its function sees them as `PARAM_<NAME>`."""
    attempts: int = 0
    retries: int = 0
    """How many times the function's own retry policy ran it again."""
    resumed_after: int = 0
    """The attempts the platform's count of its own leaves out: those before the job was
    last run again by hand (a redrive), and those a stopping worker interrupted."""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: Reason | None = None
    error: str | None = None
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    """What the function itself read from and wrote to block devices (`bytes_in` and
    `bytes_out` are what was staged in and out for it); None where it cannot be measured."""
    bytes_in: int = 0
    bytes_out: int = 0
    outputs: tuple[OutputObject, ...] = ()
    stdout_ref: str | None = None
    stderr_ref: str | None = None
    owner: str | None = None
    """The worker of the last attempt (while it runs, and once the job has ended)."""
    heartbeat_at: float | None = None
    depth: int = 0
    source_bucket: str | None = None
    source_key: str | None = None
    source_version: str | None = None
    event: dict[str, Any] | None = dataclasses.field(default=None, repr=False)
    callback_url: str | None = None
    """Where its record is POSTed when it ends (`core.callbacks`), for the endings in
    `callback_on`."""
    callback_on: tuple[str, ...] = ()
    callback_state: str | None = None
    """None until it ends; then `pending` (to be sent), `delivered`, `failed` (given up)
    or `skipped` (an ending not called back)."""
    callback_attempts: int = 0
    callback_error: str | None = None
    callback_due_at: float | None = None
    """When the next POST is due; while one is under way, when its claim lapses."""
    callback_delivered_at: float | None = None
    synchronous: bool = False
    """Its caller waited for its answer (OSCAR's `/run`, a native call without
    respond-async), whether or not the wait ran out."""

    @property
    def runtime(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def queue_wait(self) -> float | None:
        return None if self.started_at is None else self.started_at - self.created_at

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it (no internal references)."""
        return {
            "id": self.id,
            "function": self.function,
            "revision": self.revision,
            "trigger": str(self.trigger),
            "status": str(self.status),
            "attempts": self.attempts,
            "retries": self.retries,
            "created_at": rfc3339(self.created_at),
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
            "worker": self.owner,
            "queue_wait": self.queue_wait,
            "runtime": self.runtime,
            "exit_code": self.exit_code,
            "reason": str(self.reason) if self.reason else None,
            "error": self.error,
            "cpu_seconds": self.cpu_seconds,
            "peak_memory": self.peak_memory,
            "io_read_bytes": self.io_read_bytes,
            "io_write_bytes": self.io_write_bytes,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "idempotency_key": self.idempotency_key,
            "params": dict(self.params),
            "depth": self.depth,
            "source": ({"bucket": self.source_bucket, "key": self.source_key,
                        "version": self.source_version} if self.source_key else None),
            "outputs": [o.to_dict() for o in self.outputs],
            "callback": None if self.callback_url is None else {
                "url": self.callback_url, "on": list(self.callback_on),
                "state": self.callback_state or "waiting", "attempts": self.callback_attempts,
                "last_error": self.callback_error,
                "delivered_at": rfc3339(self.callback_delivered_at)},
        }

    @property
    def answer_status(self) -> int:
        """The HTTP status a synchronous invocation answers for a job that ended so: a
        failed function is the gateway's upstream failing (502; 504 when it ran out of
        time, 503 when what it needed stayed out of reach), a cancelled one a conflict."""
        if self.status is JobStatus.FAILED:
            return FAILED_STATUS.get(self.reason, 502)
        return 409 if self.status in (JobStatus.CANCELLED, JobStatus.DISMISSED) else 200


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What an attempt produced, from the executor to the store, where it is recorded in one
    compare-and-set from `running`. Small captured output travels as `inline_blobs`, to be
    written in that same transaction."""

    exit_code: int | None = None
    reason: Reason | None = None
    error: str | None = None
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    outputs: tuple[OutputObject, ...] = ()
    stdout_ref: str | None = None
    stderr_ref: str | None = None
    inline_blobs: dict[str, bytes] = dataclasses.field(default_factory=dict, repr=False)
    live_log: bool = False
    """The attempt's output was shipped while it ran, for those who follow it: the chunks
    are deleted in the transaction that records this."""

    @property
    def status(self) -> JobStatus:
        if self.reason is Reason.CANCELLED:
            return JobStatus.CANCELLED
        failed = self.reason is not None or self.exit_code != 0
        return JobStatus.FAILED if failed else JobStatus.SUCCEEDED

    @property
    def bytes_out(self) -> int:
        return sum(output.size for output in self.outputs)


@dataclasses.dataclass(frozen=True)
class AttemptRecord:
    """One attempt of a job, as it ended: kept for every attempt, retried or last."""

    job_id: str
    number: int
    finished_at: float
    owner: str | None = None
    started_at: float | None = None
    exit_code: int | None = None
    reason: Reason | None = None
    error: str | None = None
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    stdout_ref: str | None = None
    stderr_ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        runtime = None if self.started_at is None else self.finished_at - self.started_at
        return {"number": self.number, "worker": self.owner,
                "started_at": rfc3339(self.started_at), "finished_at": rfc3339(self.finished_at),
                "runtime": runtime, "exit_code": self.exit_code,
                "reason": str(self.reason) if self.reason else None, "error": self.error,
                "cpu_seconds": self.cpu_seconds, "peak_memory": self.peak_memory,
                "io_read_bytes": self.io_read_bytes, "io_write_bytes": self.io_write_bytes}
