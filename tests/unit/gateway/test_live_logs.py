"""Following a job's log (`GET /v1/jobs/{id}/logs?follow=1`), in-process: attempt after
attempt, cancelled jobs, going on from an event's id, a stopping gateway, bad parameters,
and the text of events."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from core.jobs import Job, JobStatus, Trigger
from gateway import serving
from gateway.app import create_app
from gateway.following import Piece, Position
from gateway.log_stream import Frames
from tests.fixtures.signals import counter, until, wait_status
from tests.fixtures.sse import printed, read_events
from tests.fixtures.stack import Api

EVENTS = {"Accept": "text/event-stream"}


async def started(api, name: str, **spec) -> str:
    await api.deploy(name, **spec)
    response = await api.request("POST", f"/v1/functions/{name}/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def test_a_retried_job_is_followed_into_its_next_attempt(local_api):
    job_id = await started(local_api, "flaky", script="echo try; exit 3", retries=1,
                           retry_backoff="0.1s")
    response = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                       headers=EVENTS)
    events = await read_events(response)
    kinds = [e["event"] for e in events if e["event"] != "stderr"]
    assert kinds == ["attempt", "stdout", "attempt", "stdout", "end"], events
    assert [e["data"] for e in events if e["event"] == "attempt"] == ["1", "2"]
    assert printed(events, "stdout") == "try\ntry\n"
    assert json.loads(events[-1]["data"]) == {"status": "failed", "exit_code": 3,
                                              "reason": "error", "attempts": 2}


async def test_a_cancelled_job_is_followed_to_its_end_with_what_it_printed(local_api):
    job_id = await started(local_api, "long", script="echo started; sleep 30")
    response = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                       headers=EVENTS)
    first = await read_events(response, until_kind="stdout")
    assert printed(first, "stdout") == "started\n"
    await local_api.request("POST", f"/v1/jobs/{job_id}/cancel")
    rest = await asyncio.wait_for(read_events(response), 20)
    assert rest[-1]["event"] == "end" and json.loads(rest[-1]["data"])["status"] == "cancelled"
    assert printed(rest, "stdout") == ""


async def test_a_job_deleted_while_it_is_followed_ends_its_follow(local_api):
    job_id = await started(local_api, "doomed", script="echo here; sleep 30")
    response = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                       headers=EVENTS)
    await read_events(response, until_kind="stdout")
    deleted = await local_api.request("DELETE", f"/system/logs/doomed/{job_id}")
    assert deleted.status == 204, await deleted.text()
    events = await asyncio.wait_for(read_events(response), 20)
    assert [e["event"] for e in events][-2:] == ["notice", "end"]
    assert events[-2]["data"] == "sluice: the job was deleted\n"


async def test_a_follower_goes_on_from_the_id_of_the_last_event_it_had(local_api):
    job_id = await started(local_api, "counter", script="printf 'one\\ntwo\\n'; echo err >&2")
    await wait_status(local_api, job_id, "succeeded")
    again = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                    headers={**EVENTS, "Last-Event-ID": "1:4:0"})
    events = await read_events(again)
    assert printed(events, "stdout") == "two\n" and printed(events, "stderr") == "err\n"
    assert events[-2]["id"] == "1:8:4"


async def test_a_stopping_gateway_ends_its_open_follows(local_api):
    job_id = await started(local_api, "sleeper", script="echo awake; sleep 30")
    plain = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1")
    response = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                       headers=EVENTS)
    await read_events(response, until_kind="stdout")
    await local_api.client.app.shutdown()
    events = await asyncio.wait_for(read_events(response), 10)
    assert events[-1]["event"] == "end"
    assert json.loads(events[-1]["data"])["status"] == "running"
    assert await asyncio.wait_for(plain.read(), 10) == b"awake\n"
    await local_api.request("POST", f"/v1/jobs/{job_id}/cancel")


async def test_a_follow_whose_client_hung_up_stops(local_settings, local_bus, memory_objects,
                                                  unused_tcp_port_factory):
    """Served as `sluice gateway` serves, whose handlers go on when a client hangs up. No
    worker consumes here: the job stays queued, and only the hang-up ends the follow."""
    broker, events = local_bus
    port = unused_tcp_port_factory()
    runner = await serving.start(create_app(local_settings, broker=broker, events=events,
                                            object_store=memory_objects), "127.0.0.1", port)
    ended = {"route": "/v1/jobs/{id}/logs", "method": "GET", "status": "200"}
    before = counter("sluice_http_requests", **ended)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            api = Api(http)
            job_id = await started(api, "queued", command=["true"])
            for headers in ({}, EVENTS):
                response = await api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                             headers=headers)
                assert response.status == 200
                response.close()
            await until(lambda: counter("sluice_http_requests", **ended) == before + 2,
                        timeout=10, what="both follows ending")
    finally:
        await runner.cleanup()


async def test_bad_follow_parameters_are_refused(local_api):
    job_id = await started(local_api, "quick", command=["true"])
    await wait_status(local_api, job_id, "succeeded")
    for query, headers in (("follow=yes", {}), ("follow=1", {"Last-Event-ID": "1:x:0"}),
                           ("follow=1", {"Last-Event-ID": "0:0:0"})):
        response = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?{query}",
                                           headers=headers)
        assert response.status == 400, (query, headers, await response.text())
        assert response.content_type == "application/problem+json"
    missing = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1&attempt=2")
    assert missing.status == 404


def test_a_character_split_between_chunks_arrives_whole_and_line_breaks_start_lines():
    text = Frames()
    text.frame(Piece("attempt", 1, start=Position(1)))
    assert text.frame(Piece("stdout", 1, "caf\xc3".encode("latin-1"), 0)) == \
        b"event: stdout\nid: 1:3:0\ndata: caf\n\n"
    assert text.frame(Piece("stdout", 1, b"\xa9\r\nok\rno", 4)) == \
        "event: stdout\nid: 1:12:0\ndata: \xe9\ndata: ok\ndata: no\n\n".encode()
    job = Job(id="j", function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.SUCCEEDED, created_at=0, exit_code=0, attempts=1)
    assert text.frame(Piece("end", 1, job=job)) == (
        b'event: end\ndata: {"status": "succeeded", "exit_code": 0, "reason": null, '
        b'"attempts": 1}\n\n')
