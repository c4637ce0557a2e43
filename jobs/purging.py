"""Removing a finished job for good: its outputs (those no later job wrote over) and the
blobs it kept in the object store first, then its record with its attempts and the blobs
kept in the job store, so that a purge the object store interrupts can be asked again and
leaves nothing behind."""

from __future__ import annotations

from core.errors import Conflict, NotFound
from core.jobs import Job, OutputObject
from core.objects import ObjectStore
from core.store import JobStore


def purge(store: JobStore, objects: ObjectStore, job: Job) -> None:
    """Delete `job`, which must have ended (409 otherwise: cancel it first)."""
    if not job.status.terminal:
        raise Conflict(f"job {job.id} is {job.status}; cancel it first, then delete it")
    purge_ended(store, objects, [job])


def purge_ended(store: JobStore, objects: ObjectStore, ended: list[Job]) -> int:
    """Delete jobs that ended, in one transaction once their objects are gone; how many."""
    for job in ended:
        refs = [job.input_ref, job.stdout_ref, job.stderr_ref]
        refs += [ref for attempt in store.list_attempts(job.id)
                 for ref in (attempt.stdout_ref, attempt.stderr_ref)]
        for ref in {ref for ref in refs if ref and ref.startswith("s3:")}:
            bucket, _, key = ref.removeprefix("s3:").partition("/")
            objects.delete(bucket, key)
        for output in job.outputs:
            if _still_its(objects, job, output):
                objects.delete(output.bucket, output.key)
    return store.delete_jobs([job.id for job in ended])


def _still_its(objects: ObjectStore, job: Job, output: OutputObject) -> bool:
    """Whether the object is still the job's output: in the flat layout a later job may
    have written its own file of that name there, which must stay."""
    if f"/{job.id}/" in f"/{output.key}":
        return True
    try:
        return objects.stat(output.bucket, output.key).metadata.get("sluice-job") == job.id
    except NotFound:
        return False
