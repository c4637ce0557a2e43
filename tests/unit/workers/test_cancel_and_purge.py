"""Cancel is not purge: cancelling stops a job and keeps what it had logged; deleting a job
(`DELETE /v1/jobs/{id}`) removes its record, its logs and its outputs, and only once it has
ended; `DELETE /v1/functions/{name}/queue` cancels what has not started. In-process."""

from __future__ import annotations

from tests.fixtures.inprocess import MemoryObjects
from tests.fixtures.signals import until, wait_status

BIG_LOG = 300 * 1024  # over the job store's inline limit: this log is kept in the object store


async def started(api, name: str, **spec) -> str:
    await api.deploy(name, **spec)
    response = await api.request("POST", f"/v1/functions/{name}/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def test_a_deleted_job_leaves_no_record_log_or_output(local_api,
                                                           memory_objects: MemoryObjects):
    job_id = await started(
        local_api, "writer", script=f'head -c {BIG_LOG} /dev/zero | tr "\\0" x; '
                                    'echo out > "$TMP_OUTPUT_DIR/result.txt"')
    job = await wait_status(local_api, job_id, "succeeded", "failed")
    assert job["status"] == "succeeded", job
    [output] = job["outputs"]
    kept = {key for _, key in memory_objects.objects}
    assert output["key"] in kept and any(job_id in key and "stdout" in key for key in kept)
    deleted = await local_api.request("DELETE", f"/v1/jobs/{job_id}")
    assert deleted.status == 204, await deleted.text()
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/logs", f"/v1/jobs/{job_id}/attempts"):
        assert (await local_api.request("GET", path)).status == 404, path
    assert not [key for _, key in memory_objects.objects if job_id in key]
    again = await local_api.request("DELETE", f"/v1/jobs/{job_id}")
    assert again.status == 404


async def test_a_running_job_is_not_deleted_and_a_cancelled_one_keeps_its_log(local_api):
    job_id = await started(local_api, "long", script="echo started; sleep 30")
    await wait_status(local_api, job_id, "running")
    refused = await local_api.request("DELETE", f"/v1/jobs/{job_id}")
    assert refused.status == 409 and "cancel it first" in (await refused.json())["detail"]
    cancel = await local_api.request("POST", f"/v1/jobs/{job_id}/cancel")
    assert (await cancel.json())["status"] == "cancelled"

    async def logged():
        response = await local_api.request("GET", f"/v1/jobs/{job_id}/logs?stream=stdout")
        return await response.text() == "started\n"
    await until(logged, timeout=10, what="the cancelled attempt's log being kept")
    [attempt] = (await (await local_api.request(
        "GET", f"/v1/jobs/{job_id}/attempts")).json())["attempts"]
    assert attempt["reason"] == "cancelled"
    assert (await local_api.request("DELETE", f"/v1/jobs/{job_id}")).status == 204


async def test_a_functions_queue_is_cancelled_and_nothing_else(local_gateway):
    """No worker consumes here, so every invocation stays queued."""
    queued = [await started(local_gateway, "backlog", command=["true"]) for _ in range(3)]
    other = await started(local_gateway, "other", command=["true"])
    response = await local_gateway.request("DELETE", "/v1/functions/backlog/queue")
    assert response.status == 200
    assert sorted((await response.json())["cancelled"]) == sorted(queued)
    for job_id in queued:
        assert (await wait_status(local_gateway, job_id, "cancelled"))["reason"] == "cancelled"
    assert (await wait_status(local_gateway, other, "queued"))["status"] == "queued"
    again = await local_gateway.request("DELETE", "/v1/functions/backlog/queue")
    assert (await again.json())["cancelled"] == []
    missing = await local_gateway.request("DELETE", "/v1/functions/nope/queue")
    assert missing.status == 404
