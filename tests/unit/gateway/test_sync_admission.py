"""Synchronous calls and the queue: a synchronous call is refused (429) while more of its
function's jobs wait than the function's `sync_queue_limit`; asynchronous calls are not
limited by it, and the call's Prefer decides which kind it is. No worker consumes here, so
every invocation stays queued."""

from __future__ import annotations

import pytest


async def invoke(api, name: str, prefer: str | None, **headers) -> object:
    headers = {"Prefer": prefer, **headers} if prefer else headers
    return await api.request("POST", f"/v1/functions/{name}/invocations", data=b"x",
                             headers=headers)


async def fill(api, name: str, count: int) -> None:
    for _ in range(count):
        assert (await invoke(api, name, "respond-async")).status == 201


async def test_a_synchronous_call_is_refused_while_more_than_its_limit_wait(local_gateway):
    api = local_gateway
    await api.deploy("bounded", command=["true"], sync_queue_limit=1)
    first = await invoke(api, "bounded", "respond-async", **{"Idempotency-Key": "k1"})
    await fill(api, "bounded", 1)
    refused = await invoke(api, "bounded", "wait=0")
    assert (refused.status, refused.content_type, refused.headers["Retry-After"]) == \
        (429, "application/problem+json", "5")
    assert (await refused.json())["detail"] == (
        "function 'bounded' has 2 jobs waiting to start, more than its sync_queue_limit of 1: "
        "a synchronous call would wait behind them; try again later, or invoke it "
        "asynchronously (Prefer: respond-async)")
    assert (await invoke(api, "bounded", "respond-async")).status == 201
    again = await invoke(api, "bounded", "wait=0", **{"Idempotency-Key": "k1"})
    assert (again.status, (await again.json())["id"]) == (201, (await first.json())["id"])
    await api.request("DELETE", "/v1/functions/bounded/queue")
    assert (await invoke(api, "bounded", "wait=0")).status == 201


@pytest.mark.parametrize("spec, allowed", [({}, 3), ({"sync_queue_limit": 0}, 0)])
async def test_the_limit_is_3_unless_set_and_0_means_none_may_wait(local_gateway, spec,
                                                                    allowed):
    api = local_gateway
    await api.deploy("limited", command=["true"], **spec)
    await fill(api, "limited", allowed)
    assert (await invoke(api, "limited", "wait=0")).status == 201
    # That synchronous call's job waits too, now one more than allowed.
    assert (await invoke(api, "limited", "wait=0")).status == 429


async def test_the_call_decides_whether_it_is_synchronous(local_gateway):
    api = local_gateway
    await api.deploy("sync-fn", command=["true"], sync_queue_limit=0)
    await api.deploy("async-fn", command=["true"], mode="async", sync_queue_limit=0)
    await fill(api, "sync-fn", 1)
    await fill(api, "async-fn", 1)
    assert (await invoke(api, "sync-fn", None)).status == 429
    assert (await invoke(api, "sync-fn", "respond-async")).status == 201
    assert (await invoke(api, "async-fn", None)).status == 201
    assert (await invoke(api, "async-fn", "wait=5")).status == 429
    assert (await invoke(api, "async-fn", "respond-async, wait=5")).status == 201


async def test_a_content_type_that_cannot_be_kept_is_a_bad_request(local_gateway):
    api = local_gateway
    await api.deploy("typed", command=["true"])
    answer = await invoke(api, "typed", "respond-async", **{"Content-Type": "x/" + "y" * 300})
    assert (answer.status, (await answer.json())["detail"]) == (
        400, "Content-Type must be at most 255 visible ASCII characters")


async def test_a_function_shows_its_queue_and_the_list_stays_as_it_was(local_gateway):
    api = local_gateway
    await api.deploy("waits", command=["true"])
    await fill(api, "waits", 2)
    shown = await (await api.request("GET", "/v1/functions/waits")).json()
    assert (shown["queued"], shown["running"], shown["sync_queue_limit"]) == (2, 0, 3)
    [listed] = (await (await api.request("GET", "/v1/functions")).json())["functions"]
    assert "queued" not in listed and "running" not in listed
