"""Job rows: how a `Job` is stored in the jobs table and read back."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.jobs import Job, JobStatus, OutputObject, Reason, Trigger

ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
# How a column's value becomes the `Job` field of the same name, where it is not as stored.
FROM_COLUMN = {
    "trigger": Trigger, "status": JobStatus,
    "reason": lambda value: Reason(value) if value else None,
    "outputs": lambda value: tuple(OutputObject(**o) for o in value or ()),
    "callback_on": lambda value: tuple(value.split(",")) if value else (),
    "params": lambda value: dict(value or {}),
}
TO_COLUMN = {
    "trigger": str, "status": str, "reason": lambda value: str(value) if value else None,
    "outputs": lambda value: [o.to_dict() for o in value],
    "callback_on": lambda value: ",".join(value) or None,
    "params": lambda value: dict(value) or None,
}
JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))


def job_values(job: Job) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in JOB_FIELDS}
    for name, convert in TO_COLUMN.items():
        values[name] = convert(values[name])
    values["published_at"] = job.created_at
    return values


def job_from_row(row) -> Job:
    mapping = row._mapping
    values = {name: mapping[name] for name in JOB_FIELDS}
    for name, convert in FROM_COLUMN.items():
        values[name] = convert(values[name])
    return Job(**values)
