"""Dead letters and redrive: a failed or cancelled job runs again by hand as its next
attempt (`POST /v1/jobs/{id}/retry`, `sluice retry`), on the function's current revision or
its original one; a function's `on_failure` is invoked with each failed job's record."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from sluice import cli
from tests.fixtures.signals import wait_status
from tests.fixtures.stack import unconfined

FAIL_ONCE = 'n=$(cat {c} 2>/dev/null || echo 0); echo $((n + 1)) > {c}; [ "$n" -ge 1 ] || exit 3'


@pytest.fixture
def local_settings(local_settings):
    """The functions below count their runs in a file of the test's."""
    return unconfined(local_settings)


async def ended(api, name: str) -> dict:
    response = await api.request("POST", f"/v1/functions/{name}/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201, await response.text()
    return await wait_status(api, (await response.json())["id"], "succeeded", "failed")


async def run_cli(argv: list[str]) -> int:
    """The CLI, which blocks, beside the gateway it talks to."""
    with ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, cli.main, argv)


async def retried(api, job_id: str, query: str = "") -> dict:
    response = await api.request("POST", f"/v1/jobs/{job_id}/retry{query}")
    assert response.status == 202, await response.text()
    assert response.headers["Location"] == f"/v1/jobs/{job_id}"
    return await wait_status(api, job_id, "succeeded", "failed")


async def test_a_failed_job_runs_again_as_its_next_attempt_on_the_current_revision(
        local_api, tmp_path):
    await local_api.deploy("fix-me", script=FAIL_ONCE.format(c=tmp_path / "n"))
    job = await ended(local_api, "fix-me")
    assert (job["status"], job["exit_code"], job["revision"]) == ("failed", 3, 1)
    await local_api.deploy("fix-me", script=FAIL_ONCE.format(c=tmp_path / "n") + "; echo v2")
    again = await retried(local_api, job["id"])
    assert (again["status"], again["attempts"], again["revision"]) == ("succeeded", 2, 2)
    history = (await (await local_api.request(
        "GET", f"/v1/jobs/{job['id']}/attempts")).json())["attempts"]
    assert [(a["number"], a["exit_code"]) for a in history] == [(1, 3), (2, 0)]
    refused = await local_api.request("POST", f"/v1/jobs/{job['id']}/retry")
    assert refused.status == 409


async def test_on_request_it_runs_on_the_revision_it_was_invoked_with(local_api, tmp_path):
    await local_api.deploy("pinned", script="exit 5")
    job = await ended(local_api, "pinned")
    await local_api.deploy("pinned", script="exit 6")
    again = await retried(local_api, job["id"], "?revision=original")
    assert (again["revision"], again["exit_code"]) == (1, 5)
    bad = await local_api.request("POST", f"/v1/jobs/{job['id']}/retry?revision=newest")
    assert bad.status == 400


async def test_a_redriven_job_gets_its_function_retries_afresh(local_api):
    await local_api.deploy("stubborn", script="exit 2", retries=1,
                           retry_backoff={"initial": "50ms", "max": "100ms"})
    job = await ended(local_api, "stubborn")
    assert (job["attempts"], job["retries"]) == (2, 1)
    again = await retried(local_api, job["id"])
    assert (again["status"], again["attempts"], again["retries"]) == ("failed", 4, 1)


async def test_the_cli_runs_again_every_failed_job_of_a_function(local_api, tmp_path, capsys):
    await local_api.deploy("batch", script=FAIL_ONCE.format(c=tmp_path / "n") + "; exit 0")
    first = await ended(local_api, "batch")
    await local_api.deploy("batch", script="exit 7")
    second = await ended(local_api, "batch")
    await local_api.deploy("batch", script="true")
    argv = ["retry", "--function", "batch", "--failed", "--since", "1h",
            "--url", str(local_api.client.make_url("")), "--token", local_api.token]
    assert await run_cli(argv) == 0
    assert "[2/2]" in capsys.readouterr().out
    for job in (first, second):
        assert (await wait_status(local_api, job["id"], "succeeded"))["attempts"] == 2
    assert await run_cli(argv) == 0
    assert "no failed job to run again" in capsys.readouterr().out


async def test_a_failed_job_is_handed_to_its_functions_on_failure(local_api):
    await local_api.deploy("handler", script='cat "$INPUT_FILE_PATH"; exit 1',
                           on_failure="fragile")
    await local_api.deploy("fragile", script="echo broke >&2; exit 9", on_failure="handler")
    failed = await ended(local_api, "fragile")
    listing = await (await local_api.request("GET", "/v1/jobs?function=handler")).json()
    [handed] = listing["jobs"]
    assert handed["trigger"] == "failure"
    handed = await wait_status(local_api, handed["id"], "failed")
    record = await local_api.request("GET", f"/v1/jobs/{handed['id']}/logs?stream=stdout")
    assert json.loads(await record.text())["job"]["id"] == failed["id"]
    assert json.loads(await record.text())["job"]["exit_code"] == 9
    # The handler failed too, and its own on_failure (fragile) is not run: handlers do not
    # chain.
    assert len((await (await local_api.request(
        "GET", "/v1/jobs?function=fragile")).json())["jobs"]) == 1


async def test_a_function_cannot_be_its_own_failure_handler(local_api):
    response = await local_api.request("PUT", "/v1/functions/loop",
                                       json={"command": ["true"], "on_failure": "loop"})
    assert response.status == 422
    assert [e["path"] for e in (await response.json())["errors"]] == ["on_failure"]
