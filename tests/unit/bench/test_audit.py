"""The fault scenarios' audit catches what it is there to catch: two runs of a job at once, a
run after the job ended, outputs missing or from another run, a job left queued, a job no
invocation made, a function's process left running."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from bench.audit import RecordedFunction, Run, audit
from core.ids import new_id
from core.jobs import Job, JobStatus, Outcome, OutputObject, Trigger
from tests.fixtures.signals import eventually

OWNER = "test/1/0"


@pytest.fixture
def objects(memory_objects):
    memory_objects.ensure_bucket("data")
    return memory_objects


@pytest.fixture
def fn(tmp_path) -> RecordedFunction:
    return RecordedFunction("audited", tmp_path / "runs", "data", seconds=0.2)


def accepted(store, fn: RecordedFunction) -> Job:
    job = Job(id=new_id(), function=fn.name, revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=time.time())
    store.create_job(job)
    return job


def run_function(fn: RecordedFunction, job: Job, output_dir, *, seconds: float | None = None
                 ) -> subprocess.Popen:
    argv = fn.spec()["command"]
    if seconds is not None:
        argv[5] = str(seconds)
    output_dir.mkdir(exist_ok=True)
    return subprocess.Popen(argv, env=dict(os.environ, JOB_ID=job.id,
                                           TMP_OUTPUT_DIR=str(output_dir)),
                            start_new_session=True)


def finish(store, objects, fn: RecordedFunction, job: Job, run: Run | None) -> None:
    """The job's attempt ends, its output holding what `run` wrote (none without a run)."""
    claimed = store.claim(job.id, OWNER, time.time())
    outputs = ()
    if run is not None:
        key = f"{fn.prefix}/{job.id}/result.txt"
        data = run.output("result.txt")
        etag = objects.put_bytes(fn.bucket, key, data)
        outputs = (OutputObject("result.txt", fn.bucket, key, len(data), "text/plain", etag),)
    store.finish(claimed, OWNER, Outcome(exit_code=0, outputs=outputs), time.time())


def test_a_job_run_once_with_its_output_is_clean(store, objects, fn, tmp_path):
    job = accepted(store, fn)
    run_function(fn, job, tmp_path / "out").wait()
    [run] = fn.runs()[job.id]
    finish(store, objects, fn, job, run)
    report = audit("clean", [job.id], store, objects, fn, fault_ended=job.created_at)
    assert report.clean, report
    assert (report.accepted, report.succeeded) == (1, 1)


def test_two_runs_of_one_job_at_once_are_counted(store, objects, fn, tmp_path):
    job = accepted(store, fn)
    first = run_function(fn, job, tmp_path / "first", seconds=1)
    eventually(lambda: fn.runs().get(job.id), what="the first run starting")
    run_function(fn, job, tmp_path / "second").wait()
    first.wait()
    finish(store, objects, fn, job, fn.runs()[job.id][-1])
    report = audit("twice", [job.id], store, objects, fn, fault_ended=job.created_at)
    assert report.concurrent == 1 and not report.clean


def test_an_output_of_another_run_than_the_last_is_a_duplicated_effect(store, objects, fn,
                                                                        tmp_path):
    job = accepted(store, fn)
    run_function(fn, job, tmp_path / "first").wait()
    run_function(fn, job, tmp_path / "second").wait()
    finish(store, objects, fn, job, fn.runs()[job.id][0])
    report = audit("stale", [job.id], store, objects, fn, fault_ended=job.created_at)
    assert report.duplicated == 1 and report.concurrent == 0


def test_a_run_after_the_job_ended_is_counted_duplicated(store, objects, fn, tmp_path):
    job = accepted(store, fn)
    run_function(fn, job, tmp_path / "first").wait()
    finish(store, objects, fn, job, fn.runs()[job.id][0])
    run_function(fn, job, tmp_path / "again").wait()
    report = audit("again", [job.id], store, objects, fn, fault_ended=job.created_at)
    assert report.duplicated == 1


def test_missing_outputs_a_stuck_job_and_a_stranger_are_counted(store, objects, fn):
    lost, stuck, stranger = accepted(store, fn), accepted(store, fn), accepted(store, fn)
    finish(store, objects, fn, lost, None)
    report = audit("bad", [lost.id, stuck.id, new_id()], store, objects, fn,
                   fault_ended=lost.created_at)
    assert (report.accepted, report.succeeded, report.lost, report.stuck,
            report.duplicated) == (3, 1, 2, 1, 1), report
    assert any(stranger.id in problem for problem in report.problems)


def test_a_function_process_left_running_is_counted(store, objects, fn, tmp_path):
    job = accepted(store, fn)
    process = run_function(fn, job, tmp_path / "out", seconds=30)
    try:
        eventually(lambda: fn.runs().get(job.id), what="the run starting")
        finish(store, objects, fn, job, None)
        report = audit("left", [job.id], store, objects, fn, fault_ended=job.created_at)
        assert report.left_running == 1
    finally:
        process.kill()
        process.wait()
