"""Live logs on the real stack: a follower sees each line while the job still runs, through
any gateway, whichever worker process runs the job (and the next one, when that worker
dies), as Server-Sent Events, as chunked text and through `sluice logs -f`; the chunks
shipped to the job store are gone once the job has ended."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import sqlalchemy as sa
from aiohttp import web

from core.settings import Settings
from core.store import JobStore
from core.store.schema import log_chunks
from gateway.app import create_app
from tests.fixtures.signals import job as job_record
from tests.fixtures.signals import until, wait_status
from tests.fixtures.sse import printed, read_events
from tests.fixtures.stack import ADMIN, Api, settings_env

EVENTS = {"Accept": "text/event-stream"}
TALKER = "echo first; sleep 3; echo oops >&2; echo second"
BIG_LOG = 300 * 1024  # over the job store's inline limit: the log is kept in the object store


async def started(api: Api, name: str, **spec) -> str:
    await api.deploy(name, **spec)
    response = await api.request("POST", f"/v1/functions/{name}/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


def chunks_of(settings: Settings, job_id: str) -> int:
    store = JobStore(settings.database_url)
    try:
        return store.db.read(lambda c: c.execute(sa.select(sa.func.count()).select_from(
            log_chunks).where(log_chunks.c.job_id == job_id)).scalar_one())
    finally:
        store.close()


async def test_a_follower_sees_the_first_line_while_the_job_runs_then_all_then_the_end(
        api, settings):
    job_id = await started(api, "talker", script=TALKER)
    response = await api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1", headers=EVENTS)
    assert response.status == 200 and response.content_type == "text/event-stream"
    first = await read_events(response, until_kind="stdout")
    assert [e["event"] for e in first] == ["attempt", "stdout"]
    assert first[-1]["data"] == "first\n" and first[-1]["id"] == "1:6:0"
    assert (await job_record(api, job_id))["status"] == "running"
    assert chunks_of(settings, job_id) > 0, "the first line came from the job store"
    rest = await asyncio.wait_for(read_events(response), 30)
    assert printed(first + rest, "stdout") == "first\nsecond\n"
    assert printed(rest, "stderr") == "oops\n"
    assert rest[-1]["event"] == "end"
    assert json.loads(rest[-1]["data"]) == {"status": "succeeded", "exit_code": 0,
                                            "reason": None, "attempts": 1}
    assert chunks_of(settings, job_id) == 0


async def test_a_plain_follower_gets_the_bytes_as_they_come_in_chunks(api):
    job_id = await started(api, "talker", script=TALKER)
    response = await api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1&stream=stdout")
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.content_type == "text/plain"
    assert await response.content.readline() == b"first\n"
    assert (await job_record(api, job_id))["status"] == "running"
    assert await asyncio.wait_for(response.content.read(), 30) == b"second\n"
    assert (await job_record(api, job_id))["status"] == "succeeded"


async def test_a_follow_begun_after_the_job_ended_gives_the_whole_log_and_ends(api):
    job_id = await started(api, "big", script=f'echo start; head -c {BIG_LOG} /dev/zero '
                                              '| tr "\\0" x; echo; echo done >&2')
    await wait_status(api, job_id, "succeeded")
    response = await api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1", headers=EVENTS)
    events = await asyncio.wait_for(read_events(response), 30)
    assert printed(events, "stdout") == "start\n" + "x" * BIG_LOG + "\n"
    assert printed(events, "stderr") == "done\n"
    assert json.loads(events[-1]["data"])["status"] == "succeeded"
    plain = await api.request("GET", f"/v1/jobs/{job_id}/logs?follow=true&stream=stderr")
    assert await plain.read() == b"done\n"


async def test_any_gateway_follows_whichever_worker_runs_the_job_even_when_it_dies(
        gateway_only, aiohttp_client, settings):
    """The workers are processes of their own; the follower asks a second gateway."""
    other = Api(await aiohttp_client(create_app(settings)))
    command = [sys.executable, "-m", "sluice.cli", "worker"]
    env = settings_env(settings)
    first = subprocess.Popen(command, env=env, start_new_session=True)
    second = None
    try:
        job_id = await started(gateway_only, "talker", script=TALKER)
        response = await other.request("GET", f"/v1/jobs/{job_id}/logs?follow=1",
                                       headers=EVENTS)
        events = await read_events(response, until_kind="stdout")
        assert events[-1]["data"] == "first\n"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = subprocess.Popen(command, env=env, start_new_session=True)
        events += await asyncio.wait_for(read_events(response), 60)
        attempts = [(e["event"], e["data"]) for e in events if e["event"] in ("attempt", "end")]
        assert attempts[:2] == [("attempt", "1"), ("attempt", "2")], events
        assert json.loads(attempts[-1][1])["status"] == "succeeded"
        assert printed(events, "stdout") == "first\nfirst\nsecond\n"
        assert chunks_of(settings, job_id) == 0, "the dead attempt's chunks went at takeover"
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                process.wait(30)


async def test_sluice_logs_follow_prints_each_line_as_it_comes(api):
    job_id = await started(api, "talker", script=TALKER)
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sluice.cli", "logs", "-f", job_id,
        "--url", str(api.client.make_url("")).rstrip("/"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "SLUICE_TOKEN": ADMIN})
    try:
        assert await asyncio.wait_for(cli.stdout.readline(), 30) == b"first\n"
        assert (await job_record(api, job_id))["status"] == "running"
        out, err = await asyncio.wait_for(cli.communicate(), 30)
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
    assert (cli.returncode, out, err) == (0, b"second\n", b"oops\n")


async def test_sluice_logs_follow_goes_on_through_another_gateway_when_its_own_stops(
        api, settings, unused_tcp_port_factory):
    """The first gateway stops while the job runs; the command follows on from its last
    event on the one that takes the address over."""
    port = unused_tcp_port_factory()
    job_id = await started(api, "talker", script=TALKER)

    async def serve() -> web.AppRunner:
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner
    runner = await serve()
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sluice.cli", "logs", "-f", job_id,
        "--url", f"http://127.0.0.1:{port}", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "SLUICE_TOKEN": ADMIN})
    try:
        assert await asyncio.wait_for(cli.stdout.readline(), 30) == b"first\n"
        await runner.cleanup()
        runner = await serve()
        out, err = await asyncio.wait_for(cli.communicate(), 30)
    finally:
        await runner.cleanup()
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
    assert (cli.returncode, out, err) == (0, b"second\n", b"oops\n")
    await until(lambda: chunks_of(settings, job_id) == 0, what="the chunks going")
