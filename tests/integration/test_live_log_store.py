"""Live-log chunks in the job store, on SQLite and PostgreSQL: read past any offset, kept
once when shipped twice, and gone with the attempt's outcome, at takeover and with the job."""

from __future__ import annotations

import time

import pytest

from core.ids import new_id
from core.jobs import Job, JobStatus, Outcome, Trigger
from core.store import JobStore


@pytest.fixture
def store(database_url):
    store = JobStore(database_url)
    store.migrate()
    yield store
    store.close()


def running_job(store: JobStore, owner: str = "me") -> Job:
    job = Job(id=new_id(), function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=time.time())
    store.create_job(job)
    return store.claim(job.id, owner, time.time())


def ship(store: JobStore, job: Job, *chunks: tuple[str, int, bytes]) -> None:
    store.append_log_chunks([{"job_id": job.id, "attempt": job.attempts, "stream": stream,
                              "position": position, "data": data}
                             for stream, position, data in chunks])


def past(store: JobStore, job: Job, **offsets: int) -> list[tuple[str, int, bytes]]:
    _, chunks = store.live_log(job.id, job.attempts, offsets)
    return [(c.stream, c.position, c.data) for c in chunks]


def test_chunks_are_read_past_any_offset_stdout_first_and_with_the_end_marker(store):
    job = running_job(store)
    ship(store, job, ("stderr", 0, b"err\n"), ("stdout", 0, b"one\n"))
    ship(store, job, ("stdout", 4, b"two\n"), ("stdout", 4, b"two\n"), ("stdout", 8, b""))
    assert past(store, job, stdout=0, stderr=0) == [
        ("stdout", 0, b"one\n"), ("stdout", 4, b"two\n"), ("stdout", 8, b""),
        ("stderr", 0, b"err\n")]
    assert past(store, job, stdout=5) == [("stdout", 4, b"two\n"), ("stdout", 8, b"")]
    assert past(store, job, stdout=9, stderr=4) == []
    live, _ = store.live_log(job.id, job.attempts, {})
    assert live.status is JobStatus.RUNNING


def test_an_outcome_with_a_live_log_takes_the_attempts_chunks_and_only_then(store):
    kept, shipped = running_job(store), running_job(store)
    for job in (kept, shipped):
        ship(store, job, ("stdout", 0, b"printed\n"))
    store.finish(kept, "me", Outcome(exit_code=0), time.time())
    store.finish(shipped, "me", Outcome(exit_code=0, live_log=True), time.time())
    assert past(store, kept, stdout=0) == [("stdout", 0, b"printed\n")]
    assert past(store, shipped, stdout=0) == []
    store.delete_jobs([kept.id])
    assert store.db.read(lambda c: c.exec_driver_sql(
        "SELECT count(*) FROM log_chunks").scalar_one()) == 0


def test_a_dead_attempts_chunks_go_when_its_job_is_taken_over(store):
    job = running_job(store, owner="dead")
    ship(store, job, ("stdout", 0, b"half\n"))
    again = store.claim(job.id, "alive", time.time(), take_over_from="dead")
    assert again.attempts == 2
    assert past(store, job, stdout=0) == []
