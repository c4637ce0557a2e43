"""Synchronous and asynchronous calls over real RabbitMQ, SeaweedFS and a worker: the call
may override its function's mode either way, and a synchronous call is queued like any
other, behind the jobs that came before it."""

from __future__ import annotations

import asyncio
import dataclasses

from tests.fixtures.signals import until
from tests.fixtures.stack import start_worker, unconfined


async def test_an_asynchronous_function_waits_when_the_call_asks(api):
    await api.deploy("later", script="sleep 0.2; echo done", mode="async")
    waited = await api.request("POST", "/v1/functions/later/invocations",
                               headers={"Prefer": "wait=20"})
    assert (waited.status, await waited.text()) == (200, "done\n")
    assert (await api.request("POST", "/v1/functions/later/invocations")).status == 201


async def test_a_synchronous_call_is_queued_behind_the_jobs_before_it(gateway_only, settings,
                                                                      tmp_path):
    """One worker thread takes the function's jobs in the order of its queue; they wait at
    a gate until every invocation is in."""
    api, gate = gateway_only, tmp_path / "gate"
    worker = start_worker(unconfined(dataclasses.replace(
        settings, worker=dataclasses.replace(settings.worker, threads=1))))
    try:
        await api.deploy("gated", script=f'while [ ! -e {gate} ]; do sleep 0.02; done; '
                                         'echo "$JOB_ID"', sync_queue_limit=10)
        before = []
        for _ in range(3):
            answer = await api.request("POST", "/v1/functions/gated/invocations",
                                       headers={"Prefer": "respond-async"})
            before.append((await answer.json())["id"])
        call = asyncio.create_task(api.request("POST", "/v1/functions/gated/invocations",
                                               headers={"Prefer": "wait=60"}))

        async def all_in():
            listing = await (await api.request("GET", "/v1/jobs?function=gated")).json()
            return len(listing["jobs"]) == 4
        await until(all_in, what="the synchronous call's job made")
        gate.touch()
        answer = await call
        assert answer.status == 200, await answer.text()
        sync_id = (await answer.text()).strip()
        jobs = [await (await api.request("GET", f"/v1/jobs/{job_id}?wait=30")).json()
                for job_id in before + [sync_id]]
        assert [job["status"] for job in jobs] == ["succeeded"] * 4
        started = sorted(jobs, key=lambda job: job["started_at"])
        assert [job["id"] for job in started] == before + [sync_id]
    finally:
        worker.stop()
