"""Worker pools: a worker can serve chosen functions only, and a flood of one function does
not stop the others from being served."""

import dataclasses

from broker.publishing import function_queue
from tests.fixtures.rabbitmq import queue_depth
from tests.fixtures.stack import start_worker


async def test_a_pool_serves_only_its_functions(gateway_only, settings):
    api = gateway_only
    await api.deploy("pooled", command=["echo", "pooled"], mode="async")
    await api.deploy("elsewhere", command=["echo", "elsewhere"], mode="async")
    pool = start_worker(settings, functions=["pooled"])
    try:
        mine = await (await api.request("POST", "/v1/functions/pooled/invocations")).json()
        other = await (await api.request("POST", "/v1/functions/elsewhere/invocations")).json()
        done = await (await api.request("GET", f"/v1/jobs/{mine['id']}?wait=20")).json()
        assert done["status"] == "succeeded"
        # Nobody consumes the other function's queue: its message waits there.
        assert queue_depth(settings.broker_url,
                           function_queue(settings.queue, "elsewhere")) == (1, 0)
        waiting = await (await api.request("GET", f"/v1/jobs/{other['id']}")).json()
        assert waiting["status"] == "queued"
    finally:
        pool.stop()
    everything = start_worker(settings)
    try:
        done = await (await api.request("GET", f"/v1/jobs/{other['id']}?wait=20")).json()
        assert done["status"] == "succeeded"
    finally:
        everything.stop()


async def test_a_flood_of_one_function_does_not_hold_up_another(gateway_only, settings):
    api = gateway_only
    await api.deploy("flood", command=["sleep", "1"], mode="async")
    await api.deploy("quick", command=["echo", "served"])
    few_threads = dataclasses.replace(settings, worker=dataclasses.replace(settings.worker,
                                                                           threads=2))
    worker = start_worker(few_threads)
    try:
        for _ in range(40):
            await api.request("POST", "/v1/functions/flood/invocations")
        # Forty one-second jobs on two threads take twenty seconds; the quick function is
        # answered well within its five-second bound because it has a queue of its own.
        response = await api.request("POST", "/v1/functions/quick/invocations",
                                     headers={"Prefer": "wait=5"})
        assert response.status == 200 and await response.text() == "served\n"
        flood = await (await api.request("GET", "/v1/jobs?function=flood&status=queued")).json()
        assert len(flood["jobs"]) > 10
    finally:
        worker.stop()
