"""Nothing accepted is lost and nothing finished runs twice: redeliveries, dead workers,
jobs committed but never published."""

import os
import signal
import subprocess
import sys
import time

from broker.publishing import JobPublisher
from broker.setup import rabbitmq_broker
from core.ids import new_id
from core.jobs import Job, JobStatus, Trigger
from core.store import JobStore
from tests.fixtures.signals import counter, running, until, wait_status
from tests.fixtures.stack import settings_env, unconfined


def sleepy(pids) -> str:
    """A function whose first attempt would outlive the second by far if it were left
    running; the second says whether the first still runs (not a zombie) as it starts."""
    return (f"if [ ! -e {pids} ]; then echo $$ > {pids}; sleep 60; fi; p=$(cat {pids}); "
            "if [ -e /proc/$p ] && ! grep -q ') Z ' /proc/$p/stat; then "
            "echo 'the first attempt still runs'; fi; echo rested")


async def test_redelivered_message_for_finished_job_is_dropped(api, settings, objects):
    await api.deploy("stamp", script='date +%s%N > "$TMP_OUTPUT_DIR/stamp"', mode="async")
    job = await (await api.request("POST", "/v1/functions/stamp/invocations")).json()
    first = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")).json()
    where = (settings.s3.bucket, f"stamp/output/{job['id']}/stamp")
    stamp = objects.get_bytes(*where)
    def dropped() -> float:
        # "running-here" if it arrives while the worker still records the first attempt.
        return sum(counter("sluice_messages_dropped", why=why)
                   for why in ("finished", "running-here"))
    before = dropped()
    JobPublisher(rabbitmq_broker(settings.broker_url), settings.queue).publish(job["id"],
                                                                               "stamp")
    await until(lambda: dropped() > before, what="the worker dropping the message")
    again = await (await api.request("GET", f"/v1/jobs/{job['id']}")).json()
    assert again["attempts"] == 1 and again["finished_at"] == first["finished_at"]
    assert objects.get_bytes(*where) == stamp


async def test_a_job_committed_but_never_published_is_run_by_the_sweeper(api, settings):
    fn = await api.deploy("orphan", command=["echo", "found"])
    store = JobStore(settings.database_url)
    job = Job(id=new_id(), function="orphan", revision=fn["revision"], trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=time.time())
    store.create_job(job)
    store.close()
    done = await wait_status(api, job.id, "succeeded", timeout=20)
    assert done["attempts"] == 1


async def test_a_job_whose_worker_was_killed_runs_again_to_completion(gateway_only, settings):
    api = gateway_only
    env = settings_env(unconfined(settings))
    command = [sys.executable, "-m", "sluice.cli", "worker"]
    first = subprocess.Popen(command, env=env, start_new_session=True)
    second = None
    try:
        pids = settings.data_dir / "attempt-pids"
        await api.deploy("sleepy", mode="async", script=sleepy(pids))
        job = await (await api.request("POST", "/v1/functions/sleepy/invocations")).json()
        await wait_status(api, job["id"], "running", timeout=30)
        await until(pids.exists, what="the first attempt starting its function")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = subprocess.Popen(command, env=env, start_new_session=True)
        done = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=60")).json()
        assert done["status"] == "succeeded" and done["attempts"] == 2
        first_attempt = int(pids.read_text().split()[0])
        assert not running(first_attempt), "the dead worker's function was left running"
        logs = await api.request("GET", f"/v1/jobs/{job['id']}/logs")
        assert await logs.text() == "rested\n"
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                process.wait(30)


async def test_a_worker_never_takes_over_a_job_while_its_dead_worker_s_function_runs(
        gateway_only, settings):
    """A running worker takes the job over as soon as the broker hands it the message of
    the killed one; the function the killed worker started must be gone by then, not left
    running to completion beside the new attempt (issue 11, part 9)."""
    api = gateway_only
    env = settings_env(unconfined(settings))
    command = [sys.executable, "-m", "sluice.cli", "worker"]
    workers = [subprocess.Popen(command, env=env, start_new_session=True) for _ in range(2)]
    try:
        pids = settings.data_dir / "attempt-pids"
        await api.deploy("sleepy", mode="async", script=sleepy(pids))
        job = await (await api.request("POST", "/v1/functions/sleepy/invocations")).json()
        await until(pids.exists, what="the first attempt starting its function")
        store = JobStore(settings.database_url)
        owner = store.get_job(job["id"]).owner
        store.close()
        victim = next(w for w in workers if f"/{w.pid}/" in owner)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        done = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=60")).json()
        assert done["status"] == "succeeded" and done["attempts"] == 2
        logs = await api.request("GET", f"/v1/jobs/{job['id']}/logs")
        assert await logs.text() == "rested\n"
    finally:
        for process in workers:
            if process.poll() is None:
                process.terminate()
                process.wait(30)

