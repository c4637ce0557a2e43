"""Backpressure: past a function's `max_queued` jobs waiting to start, or the platform's
`SLUICE_MAX_QUEUED`, new invocations are answered 429 with Retry-After instead of growing
the queue without bound. No worker consumes here, so every invocation stays queued."""

from __future__ import annotations

import dataclasses

import pytest


async def invoke(api, name: str, **headers) -> object:
    return await api.request("POST", f"/v1/functions/{name}/invocations", data=b"x",
                             headers={"Prefer": "respond-async", **headers})


async def test_a_full_function_queue_answers_429_until_it_drains(local_gateway):
    api = local_gateway
    await api.deploy("bounded", command=["true"], max_queued=2)
    await api.deploy("free", command=["true"])
    first = await invoke(api, "bounded", **{"Idempotency-Key": "k1"})
    assert first.status == 201 and (await invoke(api, "bounded")).status == 201
    full = await invoke(api, "bounded")
    assert (full.status, full.content_type, full.headers["Retry-After"]) == \
        (429, "application/problem+json", "5")
    assert "2 jobs waiting to start" in (await full.json())["detail"]
    again = await invoke(api, "bounded", **{"Idempotency-Key": "k1"})
    assert (await again.json())["id"] == (await first.json())["id"]
    assert (await invoke(api, "free")).status == 201
    oscar = await api.request("POST", "/job/bounded", data=b"eA==")
    assert oscar.status == 429
    await api.request("DELETE", "/v1/functions/bounded/queue")
    assert (await invoke(api, "bounded")).status == 201


class TestThePlatformsLimit:
    @pytest.fixture
    def local_settings(self, local_settings):
        return dataclasses.replace(local_settings, max_queued=3)

    async def test_it_holds_across_functions(self, local_gateway):
        api = local_gateway
        for name in ("one", "two"):
            await api.deploy(name, command=["true"])
        for name in ("one", "two", "one"):
            assert (await invoke(api, name)).status == 201
        full = await invoke(api, "two")
        assert full.status == 429 and "the platform" in (await full.json())["detail"]
