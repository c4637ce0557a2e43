"""The service layer through the native face, in-process: revisions, times, who may post
events and touch objects, and scans that cannot finish."""

from __future__ import annotations

import json
import re

from tests.fixtures.inprocess import MemoryObjects
from tests.fixtures.signals import wait_status
from workers.worker import Worker

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_a_sync_invocation_answers_with_what_the_function_wrote(local_api):
    await local_api.deploy("upper", script='tr a-z A-Z < "$INPUT_FILE_PATH"')
    response = await local_api.request("POST", "/v1/functions/upper/invocations", data=b"hi")
    assert (response.status, await response.text()) == (200, "HI")


async def test_a_job_runs_the_revision_it_was_invoked_with(local_gateway, local_settings,
                                                            local_bus, memory_objects):
    await local_gateway.deploy("versioned", script="echo first", mode="async")
    job = await (await local_gateway.request(
        "POST", "/v1/functions/versioned/invocations")).json()
    replaced = await local_gateway.deploy("versioned", script="echo second", mode="async")
    assert (job["revision"], replaced["revision"]) == (1, 2)
    worker = Worker(local_settings, *local_bus, objects=memory_objects)
    worker.start()
    try:
        await wait_status(local_gateway, job["id"], "succeeded")
    finally:
        worker.stop()
    log = await local_gateway.request("GET", f"/v1/jobs/{job['id']}/logs")
    assert await log.text() == "first\n"


async def test_times_in_answers_are_rfc3339_in_utc(local_api):
    await local_api.deploy("clock", command=["true"])
    response = await local_api.request("POST", "/v1/functions/clock/invocations",
                                       headers={"Prefer": "respond-async"})
    job = await wait_status(local_api, (await response.json())["id"], "succeeded")
    for field in ("created_at", "started_at", "finished_at"):
        assert RFC3339_UTC.match(job[field]), (field, job[field])
    assert isinstance(job["runtime"], float) and isinstance(job["queue_wait"], float)


async def test_who_may_post_events_and_touch_objects(local_gateway, local_settings):
    events_token = local_settings.events_token.reveal()
    fn = await local_gateway.deploy("watcher", command=["true"], input=[{"bucket": "inbox"}])
    empty = {"Records": []}
    for token, status in ((events_token, 200), (fn["token"], 403), (None, 200)):
        response = await local_gateway.request("POST", "/v1/events/s3", json=empty, token=token)
        assert response.status == status, (token, await response.text())
    for token, status in ((events_token, 403), (fn["token"], 403), (None, 201)):
        response = await local_gateway.request("PUT", "/v1/objects/inbox/a.txt", data=b"a",
                                               token=token)
        assert response.status == status, (token, await response.text())


async def test_a_scan_that_cannot_finish_says_why_in_its_last_line(local_gateway,
                                                                   memory_objects: MemoryObjects):
    await local_gateway.deploy("scanned", command=["true"], input=[{"bucket": "gone-soon"}])
    memory_objects.buckets.discard("gone-soon")
    response = await local_gateway.request("POST", "/v1/functions/scanned/scan")
    assert response.status == 200
    *_, last = (await response.text()).strip().splitlines()
    assert json.loads(last) == {"listed": 0, "submitted": 0, "existing": 0, "refused": 0,
                                "done": True, "error": "object 'gone-soon' does not exist"}


async def test_a_document_of_functions_is_answered_with_the_list_however_many(local_gateway):
    """Found by schemathesis: `functions:` holding one spec was answered as that function,
    breaking the documented list."""
    response = await local_gateway.request(
        "POST", "/v1/functions", json={"functions": {"only": {"command": ["true"]}}})
    assert response.status == 201
    assert [fn["name"] for fn in (await response.json())["functions"]] == ["only"]


async def test_head_on_an_object_describes_it_without_its_bytes(local_gateway):
    """Found by schemathesis: HEAD wrote the body after the headers, and the next request on
    that connection read it as its answer."""
    await local_gateway.request("PUT", "/v1/objects/inbox/h.txt", data=b"hello")
    for _ in range(2):
        head = await local_gateway.request("HEAD", "/v1/objects/inbox/h.txt")
        assert (head.status, head.headers["Content-Length"]) == (200, "5")
        assert await head.read() == b""
    after = await local_gateway.request("GET", "/v1/objects/inbox/h.txt")
    assert (after.status, await after.read()) == (200, b"hello")
