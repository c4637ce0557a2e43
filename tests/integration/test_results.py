"""Results on the real stack (RabbitMQ, SeaweedFS, a worker running functions in its
sandbox as their own user): what a function sends to `$RESULTS_SOCKET` or writes to
`$RESULTS_DIR` is readable while it still runs, popped one at a time as Abaco's
`ResultsResource` pops them, answers a synchronous invocation, and goes when it expires or
its job is deleted; what is too large, or too many, is dropped and the log says so."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import getpass
import os
import shlex
import subprocess
import sys

import sqlalchemy as sa

from core.store import JobStore
from core.store.schema import results as results_table
from tests.fixtures.results import pop, results_of, sent, started, until_sent
from tests.fixtures.signals import job as job_record
from tests.fixtures.signals import until, wait_status
from tests.fixtures.stack import ADMIN, start_worker

# What an Abaco actor does with abacopy's send_bytes_result: one datagram per result.
SENDER = ("import os, socket\n"
          "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
          "p = os.environ['RESULTS_SOCKET']\n")


def python(code: str) -> str:
    """A shell command that runs `code` after SENDER, with `s` and `p` to send with."""
    return "/usr/bin/python3 -c " + shlex.quote(SENDER + code)


def send(*items: str) -> str:
    return python("".join(f"s.sendto({item.encode()!r}, p)\n" for item in items))


def rows(settings, job_id: str) -> int:
    store = JobStore(settings.database_url)
    try:
        return store.db.read(lambda c: c.execute(sa.select(sa.func.count()).select_from(
            results_table).where(results_table.c.job_id == job_id)).scalar_one())
    finally:
        store.close()


async def test_results_are_read_while_the_job_runs_then_popped_one_at_a_time_in_order(api):
    job_id = await started(api, "publisher", send("one", "two") + "; sleep 60", timeout=90)
    assert await until_sent(api, job_id, 2) == [b"one", b"two"]
    listed = (await results_of(api, job_id))["results"]
    assert listed[0]["sequence"] < listed[1]["sequence"] and listed[0]["size"] == 3
    assert listed[0]["created_at"].endswith("Z") and listed[0]["expires_at"] > \
        listed[0]["created_at"]
    assert (await job_record(api, job_id))["status"] == "running"
    assert [await pop(api, job_id) for _ in range(3)] == [b"one", b"two", b""]
    assert await sent(api, job_id) == []
    await api.request("POST", f"/v1/jobs/{job_id}/cancel")


async def test_the_socket_is_writable_by_the_functions_user_alone(api, settings):
    await api.deploy("owner", script='stat -c "%a %U" "$RESULTS_SOCKET"')
    response = await api.request("POST", "/v1/functions/owner/invocations")
    user = settings.worker.process.run_as if os.geteuid() == 0 else getpass.getuser()
    assert (response.status, await response.text()) == (200, f"600 {user}\n")


async def test_a_synchronous_invocation_answers_with_its_first_result(api):
    await api.deploy("answerer", script=send("first", "second") + "; echo printed")
    response = await api.request("POST", "/v1/functions/answerer/invocations")
    assert response.status == 200, await response.text()
    assert response.content_type == "application/octet-stream"
    assert await response.read() == b"first"
    assert response.headers["Sluice-Job-Status"] == "succeeded"
    assert await sent(api, response.headers["Sluice-Job-Id"]) == [b"first", b"second"]


async def test_a_datagram_over_128_kib_is_dropped_and_the_log_says_so(api):
    """Abaco's frame limit: MAX_RESULT_FRAME_SIZE = 131072 (actors/docker_utils.py line 35
    at 9e83e1c); Abaco cuts a longer one short, Sluice drops it and says so."""
    await api.deploy("oversize", script=python(
        "s.sendto(b'x' * 200000, p)\ns.sendto(b'small', p)\n") + "; echo done")
    response = await api.request("POST", "/v1/functions/oversize/invocations")
    assert (response.status, await response.read()) == (200, b"small")
    job_id = response.headers["Sluice-Job-Id"]
    log = await (await api.request("GET", f"/v1/jobs/{job_id}/logs?stream=stderr")).text()
    assert log == "sluice: 1 result(s) dropped: over 131072 bytes (the largest 200000)\n"
    again = await api.request("POST", "/v1/functions/oversize/invocations")
    assert (again.status, await again.read()) == (200, b"small"), "the worker goes on"


async def test_a_job_keeps_at_most_1000_results_and_the_log_says_so(api):
    job_id = await started(api, "chatty", python(
        "for n in range(1005):\n    s.sendto(b'%d' % n, p)\n"))
    await wait_status(api, job_id, "succeeded")
    page = await results_of(api, job_id, limit="1000")
    assert [base64.b64decode(r["data"]) for r in page["results"]] == [
        b"%d" % n for n in range(1000)]
    assert page["next_cursor"] == page["results"][-1]["sequence"]
    assert (await results_of(api, job_id, cursor=str(page["next_cursor"])))["results"] == []
    log = await (await api.request("GET", f"/v1/jobs/{job_id}/logs?stream=stderr")).text()
    assert log == "sluice: 5 result(s) dropped: a job keeps at most 1000\n"


async def test_files_in_the_results_dir_are_results_once_they_stop_changing(api):
    """A file that stays the same for a second is read while the job runs; one written at
    the end, when the job ends. A hidden one is still being written; a link is no result."""
    job_id = await started(api, "filer", (
        'printf early > "$RESULTS_DIR/1-early"; printf half > "$RESULTS_DIR/.2-partial"; '
        'ln -s /etc/hostname "$RESULTS_DIR/3-link"; sleep 15; '
        'printf late > "$RESULTS_DIR/4-late"'), timeout=60)
    assert await until_sent(api, job_id, 1) == [b"early"]
    assert (await job_record(api, job_id))["status"] == "running"
    await wait_status(api, job_id, "succeeded", timeout=60)
    assert await sent(api, job_id) == [b"early", b"late"]
    log = await (await api.request("GET", f"/v1/jobs/{job_id}/logs?stream=stderr")).text()
    assert log == "sluice: result file '3-link' is a link, not a file the function wrote\n"


async def test_results_expire_and_the_janitor_removes_them(gateway_only, settings):
    worker = start_worker(dataclasses.replace(settings, worker=dataclasses.replace(
        settings.worker, results_ttl_seconds=1)))
    try:
        job_id = await started(gateway_only, "brief", send("fleeting"))
        await wait_status(gateway_only, job_id, "succeeded")
        assert rows(settings, job_id) == 1
        await until(lambda: _none(gateway_only, job_id), what="the result expiring")
        assert await pop(gateway_only, job_id) == b""
        assert rows(settings, job_id) == 1, "expired, not yet removed"
        worker.janitor.sweep()
        assert rows(settings, job_id) == 0
    finally:
        worker.stop()


async def _none(api, job_id: str) -> bool:
    return await sent(api, job_id) == []


async def test_results_go_with_their_job(api, settings):
    job_id = await started(api, "deleted", send("gone"))
    await wait_status(api, job_id, "succeeded")
    assert rows(settings, job_id) == 1
    assert (await api.request("DELETE", f"/v1/jobs/{job_id}")).status == 204
    assert rows(settings, job_id) == 0


async def test_bad_queries_are_400_and_unknown_jobs_404(api):
    job_id = await started(api, "quiet", "true")
    for query in ("pop=maybe", "limit=0", "limit=1001", "cursor=-1", "cursor=x"):
        response = await api.request("GET", f"/v1/jobs/{job_id}/results?{query}")
        assert (response.status, response.content_type) == (400, "application/problem+json")
    missing = await api.request("GET", "/v1/jobs/01m825f3237gegxtzw42asbwd1/results?pop=1")
    assert missing.status == 404


async def test_sluice_results_prints_each_result_and_pops_them(api):
    job_id = await started(api, "printed", send("one", "two\n"))
    await wait_status(api, job_id, "succeeded")
    url = str(api.client.make_url("")).rstrip("/")

    async def sluice(*args: str) -> tuple[int, bytes, bytes]:
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sluice.cli", "results", job_id, *args, "--url", url,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SLUICE_TOKEN": ADMIN})
        out, err = await asyncio.wait_for(cli.communicate(), 30)
        return cli.returncode, out, err
    assert await sluice() == (0, b"one\ntwo\n", b"")
    assert await sluice("--pop") == (0, b"one", b"")
    assert await sluice("--pop") == (0, b"two\n", b"")
    assert await sluice("--pop") == (1, b"", f"{job_id}: no result\n".encode())
