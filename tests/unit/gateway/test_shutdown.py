"""A gateway that stops (SIGTERM) answers every synchronous caller still waiting with 201,
its job and Location, so that no caller loses its job's id."""

from __future__ import annotations

import asyncio

from tests.fixtures.signals import until


async def test_open_waiters_are_answered_with_their_job_when_the_gateway_stops(local_gateway):
    api = local_gateway
    await api.deploy("never-runs", command=["true"])  # no worker consumes here
    calls = [asyncio.create_task(api.request(
        "POST", "/v1/functions/never-runs/invocations", headers={"Prefer": "wait=120"}))
        for _ in range(3)]

    async def accepted():
        listing = await (await api.request("GET", "/v1/jobs?function=never-runs")).json()
        return len(listing["jobs"]) == 3
    # A caller whose wait begins after the release is answered at once too.
    await until(accepted, what="three callers accepted")
    await api.client.app.shutdown()
    answers = await asyncio.wait_for(asyncio.gather(*calls), 10)
    for answer in answers:
        job = await answer.json()
        assert (answer.status, job["status"]) == (201, "queued")
        assert answer.headers["Location"] == f"/v1/jobs/{job['id']}"
        assert answer.headers["Sluice-Job-Id"] == job["id"]
