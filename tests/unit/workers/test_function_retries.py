"""A function's own retries (`retries`, `retry_backoff`, `retry_on`): what fails the way
the policy names runs again, up to its count; every attempt is kept with how it ended and
its own log (`GET /v1/jobs/{id}/attempts`, `logs?attempt=N`). Through the in-process stack."""

from __future__ import annotations

import pytest

from tests.fixtures.signals import wait_status
from tests.fixtures.stack import unconfined

FAST = {"retry_backoff": {"initial": "50ms", "max": "200ms"}}


@pytest.fixture
def local_settings(local_settings):
    """The function below counts its attempts in a file of the test's."""
    return unconfined(local_settings)


async def invoked(api, name: str, **spec) -> dict:
    await api.deploy(name, **spec)
    response = await api.request("POST", f"/v1/functions/{name}/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201, await response.text()
    return await wait_status(api, (await response.json())["id"], "succeeded", "failed")


async def history(api, job_id: str) -> list[dict]:
    response = await api.request("GET", f"/v1/jobs/{job_id}/attempts")
    assert response.status == 200, await response.text()
    return (await response.json())["attempts"]


async def test_a_function_that_fails_twice_succeeds_on_its_third_attempt(local_api, tmp_path):
    counter = tmp_path / "count"
    script = (f'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n + 1)) > {counter}; '
              'echo "attempt $((n + 1))"; [ "$n" -ge 2 ] || exit 3')
    job = await invoked(local_api, "flaky", script=script, retries=3, **FAST)
    assert (job["status"], job["attempts"], job["retries"]) == ("succeeded", 3, 2)
    attempts = await history(local_api, job["id"])
    assert [(a["number"], a["exit_code"], a["reason"]) for a in attempts] == [
        (1, 3, "error"), (2, 3, "error"), (3, 0, None)]
    assert "retry 1 of 3" in attempts[0]["error"] and attempts[0]["worker"]
    for attempt in attempts:
        log = await local_api.request("GET", attempt["logs"] + "&stream=stdout")
        assert await log.text() == f"attempt {attempt['number']}\n"
    last = await local_api.request("GET", f"/v1/jobs/{job['id']}/logs?stream=stdout")
    assert await last.text() == "attempt 3\n"


async def test_retries_run_out_and_the_job_fails_with_the_last_attempts_outcome(local_api):
    job = await invoked(local_api, "broken", script="echo no >&2; exit 4", retries=2, **FAST)
    assert (job["status"], job["exit_code"], job["attempts"], job["retries"]) == \
        ("failed", 4, 3, 2)
    assert [a["exit_code"] for a in await history(local_api, job["id"])] == [4, 4, 4]


async def test_only_the_failures_the_policy_names_are_retried(local_api):
    job = await invoked(local_api, "picky", script="exit 3", retries=5, retry_on=[75, "oom"],
                        **FAST)
    assert (job["status"], job["attempts"], job["retries"]) == ("failed", 1, 0)
    job = await invoked(local_api, "tempfail", script="exit 75", retries=1, retry_on=[75],
                        **FAST)
    assert (job["attempts"], job["retries"]) == (2, 1)


async def test_a_timeout_is_retried_when_the_policy_names_it(local_api):
    job = await invoked(local_api, "slow", script="sleep 30", timeout="300ms", retries=1,
                        retry_on=["timeout"], **FAST)
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "timeout", 2)
    assert [a["reason"] for a in await history(local_api, job["id"])] == ["timeout", "timeout"]


async def test_without_retries_a_failure_is_final_and_kept_as_the_one_attempt(local_api):
    job = await invoked(local_api, "once", script="exit 1")
    assert (job["status"], job["attempts"], job["retries"]) == ("failed", 1, 0)
    [only] = await history(local_api, job["id"])
    assert (only["number"], only["exit_code"], only["error"]) == (1, 1, None)
    missing = await local_api.request("GET", f"/v1/jobs/{job['id']}/logs?attempt=2")
    assert missing.status == 404
