"""The one failure boundary, through the whole in-process stack: whatever an attempt
raises, the job reaches a terminal state, at once when trying again cannot help, after
its attempts when it might (workers/failures.py)."""

from __future__ import annotations

import logging
import math
import time

import pytest

from core.errors import CannotRun, Unavailable
from core.store import JobStore
from tests.fixtures.signals import wait_status
from workers.leases import HOST
from workers.worker import Worker


class Failing:
    """The worker's executor, except that its first `times` attempts raise `error`."""

    name = "process"

    def __init__(self, real, error: BaseException, times: float = math.inf):
        self.real, self.error, self.times = real, error, times
        self.jobs = []

    @property
    def calls(self) -> int:
        return len(self.jobs)

    def start(self, attempt):
        self.jobs.append(attempt.job)
        if self.calls <= self.times:
            raise self.error
        return self.real.start(attempt)

    def close(self) -> None:
        self.real.close()


@pytest.fixture
def failing(local_worker):
    def install(error: BaseException, times: float = math.inf) -> Failing:
        executor = Failing(local_worker.runner.executor, error, times)
        local_worker.runner.executor = executor
        return executor
    return install


async def invoke(api, name: str = "work") -> str:
    await api.deploy(name, script="echo done", mode="async")
    response = await api.request("POST", f"/v1/functions/{name}/invocations")
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def finished(api, job_id: str) -> dict:
    return await wait_status(api, job_id, "succeeded", "failed", timeout=20)


async def test_a_permanent_failure_fails_the_job_at_once(local_api, failing):
    executor = failing(CannotRun("image 'x' is not on this worker"))
    job = await finished(local_api, await invoke(local_api))
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "error", 1)
    assert job["error"] == "image 'x' is not on this worker"
    assert executor.calls == 1
    log = await local_api.request("GET", f"/v1/jobs/{job['id']}/logs")
    assert await log.text() == "sluice: image 'x' is not on this worker\n"


async def test_a_passing_failure_is_tried_again_until_the_job_succeeds(local_api, failing):
    failing(Unavailable("object store unreachable while accessing 'b/k'"), times=2)
    job = await finished(local_api, await invoke(local_api))
    assert (job["status"], job["attempts"]) == ("succeeded", 3)
    log = await local_api.request("GET", f"/v1/jobs/{job['id']}/logs")
    assert await log.text() == "done\n"


async def test_the_store_records_each_attempt_that_will_be_tried_again(local_api, failing):
    executor = failing(Unavailable("the container engine is out of reach"), times=1)
    job = await finished(local_api, await invoke(local_api))
    first, second = executor.jobs
    assert (first.attempts, second.attempts) == (1, 2)
    assert second.error.startswith("attempt 1: the container engine is out of reach; "
                                   "trying again in ")
    assert job["status"] == "succeeded" and job["error"] is None


async def test_a_failure_that_lasts_ends_the_job_unavailable(local_api, failing,
                                                           local_settings):
    failing(Unavailable("object store unreachable while accessing 'b/k'"))
    job = await finished(local_api, await invoke(local_api))
    attempts = local_settings.worker.retry.max_attempts
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "unavailable",
                                                                attempts)
    assert job["error"] == ("object store unreachable while accessing 'b/k' "
                            f"(gave up after {attempts} attempts)")


async def test_an_unexpected_error_is_logged_with_an_incident_and_fails_the_last_attempt(
        local_api, failing, local_settings, caplog):
    failing(RuntimeError("a bug of Sluice's own"))
    with caplog.at_level(logging.ERROR, logger="workers.failures"):
        job = await finished(local_api, await invoke(local_api))
    assert (job["status"], job["reason"]) == ("failed", "error")
    assert job["attempts"] == local_settings.worker.retry.max_attempts
    incident = job["error"].rsplit(" ", 1)[1]
    assert "a bug of Sluice's own" not in job["error"]
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged and logged[-1].exc_info[1].args == ("a bug of Sluice's own",)


async def test_an_output_whose_name_is_not_utf8_fails_the_job_and_keeps_the_log(local_api):
    await local_api.deploy("bad-name", script=(
        """printf x > "$TMP_OUTPUT_DIR/$(printf 'bad\\377.txt')"; echo said"""))
    response = await local_api.request("POST", "/v1/functions/bad-name/invocations")
    assert response.status == 502
    assert response.headers["Sluice-Reason"] == "error"
    body = await response.text()
    assert body.startswith("said\n") and "is not UTF-8; no output was uploaded" in body
    job = await (await local_api.request(
        "GET", f"/v1/jobs/{response.headers['Sluice-Job-Id']}")).json()
    assert job["attempts"] == 1 and job["outputs"] == []


async def test_an_outcome_that_cannot_be_recorded_is_recorded_as_an_error(local_api,
                                                                        local_worker):
    store = local_worker.context.store
    finish, refused = store.finish, []

    def refusing_once(job, owner, outcome, now):
        if not refused:
            refused.append(outcome)
            raise RuntimeError("the database refused the outcome's bytes")
        return finish(job, owner, outcome, now)
    store.finish = refusing_once
    job = await finished(local_api, await invoke(local_api))
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "error", 1)
    assert "incident" in job["error"] and refused[0].exit_code == 0


async def test_a_job_whose_attempts_keep_dying_with_their_workers_ends(
        local_gateway, local_settings, local_bus, memory_objects):
    """Each attempt's worker died (a function that kills it, say): past the last attempt
    the job fails instead of running once more, and for ever."""
    job_id = await invoke(local_gateway)
    store = JobStore(local_settings.database_url)
    try:
        dead = f"{HOST}/999999999/gone"
        store.claim(job_id, dead, time.time())
        for _ in range(local_settings.worker.retry.max_attempts - 1):
            store.claim(job_id, dead, time.time(), take_over_from=dead)
    finally:
        store.close()
    worker = Worker(local_settings, *local_bus, objects=memory_objects)
    worker.start()
    try:
        job = await finished(local_gateway, job_id)
    finally:
        worker.stop()
    attempts = local_settings.worker.retry.max_attempts
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "error", attempts + 1)
    assert job["error"].startswith(f"gave up after {attempts} attempts")
