"""Retention: the janitor deletes ended jobs past their function's `retention` (default
`SLUICE_RETENTION`, 30 days; also for the jobs of deleted functions) with their attempts,
logs and outputs, a batch at a time; what is younger, or still running, stays."""

from __future__ import annotations

import time

from jobs import retention
from tests.fixtures.inprocess import MemoryObjects
from tests.fixtures.signals import wait_status

DAY = 86400


async def ran(api, name: str) -> dict:
    response = await api.request("POST", f"/v1/functions/{name}/invocations",
                                 headers={"Prefer": "respond-async"})
    return await wait_status(api, (await response.json())["id"], "succeeded", "failed")


async def status(api, job_id: str) -> int:
    return (await api.request("GET", f"/v1/jobs/{job_id}")).status


async def test_jobs_past_their_retention_go_with_their_outputs(local_api, local_worker,
                                                                memory_objects: MemoryObjects):
    writes = 'echo out > "$TMP_OUTPUT_DIR/o.txt"'
    await local_api.deploy("brief", script=writes, retention="1h")
    await local_api.deploy("kept", script=writes)
    await local_api.deploy("gone", script="true")
    brief, kept, gone = [await ran(local_api, name) for name in ("brief", "kept", "gone")]
    await local_api.request("DELETE", "/v1/functions/gone")
    janitor, now = local_worker.janitor, time.time()

    assert janitor.sweep(now + 60) == 0
    assert janitor.sweep(now + 2 * 3600) == 1
    assert await status(local_api, brief["id"]) == 404
    assert not [key for _, key in memory_objects.objects if brief["id"] in key]
    assert [await status(local_api, j["id"]) for j in (kept, gone)] == [200, 200]
    assert [o["key"] for o in kept["outputs"]][0] in {k for _, k in memory_objects.objects}

    assert janitor.sweep(now + 31 * DAY) == 2
    assert [await status(local_api, j["id"]) for j in (kept, gone)] == [404, 404]


async def test_the_janitor_works_in_batches_and_leaves_running_jobs(local_api, local_worker,
                                                                    monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    await local_api.deploy("many", command=["true"], retention="1s")
    done = [await ran(local_api, "many") for _ in range(5)]
    await local_api.deploy("slow", script="sleep 30", retention="1s")
    running = await local_api.request("POST", "/v1/functions/slow/invocations",
                                      headers={"Prefer": "respond-async"})
    running = await wait_status(local_api, (await running.json())["id"], "running")
    assert local_worker.janitor.sweep(time.time() + 10) == 5
    assert [await status(local_api, j["id"]) for j in done] == [404] * 5
    assert await status(local_api, running["id"]) == 200
    await local_api.request("POST", f"/v1/jobs/{running['id']}/cancel")
