"""A job as Abaco shows an execution (models.py, `Execution` and `ExecutionsSummary`), in the
camelCase of Abaco's hosted API (docs/specs/openapi_v3.yml). Line numbers here are those
of TACC/abaco at 9e83e1c."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.jobs import Job, JobStatus, Reason, Trigger
from core.times import rfc3339

SUBMITTED, RUNNING, COMPLETE, ERROR = "SUBMITTED", "RUNNING", "COMPLETE", "ERROR"
OWNER = "admin"
"""Who owns every actor: Sluice has no accounts, and a function's token acts for the admin
who made the function, as an Abaco nonce acts for its actor's owner (auth.py:123)."""
# Who sent the message, where it was not a person (controllers.py:135, events.py:77).
EXECUTORS = {Trigger.CRON: "cron", Trigger.END: "Abaco Event"}


def status(job: Job) -> str:
    """Abaco's execution status. Abaco calls COMPLETE every execution whose container ran
    to its end, whatever its exit code, and one stopped by a timeout or a force quit
    (docker_utils.py:815-822, then worker.py:551); ERROR one that could not run
    (worker.py:491, 507, 527). A job cancelled before it started will never run: ERROR too."""
    if job.status is JobStatus.QUEUED:
        return SUBMITTED
    if job.status is JobStatus.RUNNING:
        return RUNNING
    if job.status is JobStatus.SUCCEEDED or ran(job):
        return COMPLETE
    return ERROR


def ran(job: Job) -> bool:
    """Whether the function ran to an end: an exit, a timeout or memory limit, or a cancel
    once it had started."""
    return job.exit_code is not None or job.reason in (Reason.TIMEOUT, Reason.OOM) \
        or (job.status is JobStatus.CANCELLED and job.started_at is not None)


def execution(job: Job, api_server: str) -> dict[str, Any]:
    """The fields of models.py's `Execution` (lines 1444-1462), displayed (1677-1693).
    `runtime` is whole seconds and `cpu` nanoseconds, as Abaco measures them
    (docker_utils.py:948 and 754, Docker's `cpu_usage.total_usage`); null where Sluice
    measured nothing. `io` is null: Abaco's counts the bytes received on eth0
    (docker_utils.py:759), which Sluice does not measure (its block I/O is another figure)."""
    return {
        "id": job.id, "actorId": job.function, "apiServer": api_server,
        "executor": EXECUTORS.get(job.trigger, OWNER), "workerId": job.owner,
        "status": status(job), "messageReceivedTime": rfc3339(job.created_at),
        "startTime": rfc3339(job.started_at), "finishTime": rfc3339(job.finished_at),
        "runtime": None if job.runtime is None else int(job.runtime),
        "cpu": None if job.cpu_seconds is None else int(job.cpu_seconds * 1e9),
        "io": None, "exitCode": job.exit_code, "finalState": final_state(job),
    }


def final_state(job: Job) -> dict[str, Any] | None:
    """What Docker's `inspect` says of an exited container (the `State` Abaco keeps,
    docker_utils.py:836), for a job that ran to its end; null before, or if it never
    ran."""
    if not job.status.terminal or status(job) != COMPLETE:
        return None
    return {"Status": "exited", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": job.reason is Reason.OOM, "Dead": False, "Pid": 0,
            "ExitCode": job.exit_code, "Error": job.error or "",
            "StartedAt": rfc3339(job.started_at), "FinishedAt": rfc3339(job.finished_at)}


def summary(actor_id: str, jobs: Iterable[Job], api_server: str) -> dict[str, Any]:
    """models.py's `ExecutionsSummary` (lines 1712-1749): each execution in brief and the
    totals of what was measured (null when nothing was)."""
    records = [execution(job, api_server) for job in jobs]
    return {
        "actorId": actor_id, "apiServer": api_server, "owner": OWNER,
        "executions": [{field: record[field] for field in (
            "id", "status", "startTime", "finishTime", "messageReceivedTime")}
            for record in records],
        "totalExecutions": len(records),
        **{total: _total(record[field] for record in records) for total, field in (
            ("totalCpu", "cpu"), ("totalIo", "io"), ("totalRuntime", "runtime"))},
    }


def _total(values: Iterable[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None
