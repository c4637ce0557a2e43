"""`sluice function NAME` shows how many of its jobs are queued and running, as
`GET /v1/functions/{name}` counts them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import yaml

from sluice import cli
from tests.fixtures.signals import until


async def test_the_cli_shows_the_queued_and_running_jobs(local_api, capfd):
    api = local_api
    await api.deploy("busy", script="sleep 30", concurrency=1)
    ids = []
    for _ in range(3):
        answer = await api.request("POST", "/v1/functions/busy/invocations",
                                   headers={"Prefer": "respond-async"})
        ids.append((await answer.json())["id"])

    async def depth():
        shown = await (await api.request("GET", "/v1/functions/busy")).json()
        return (shown["queued"], shown["running"]) == (2, 1)
    try:
        await until(depth, what="one job running and two queued")
        argv = ["function", "busy", "--url", str(api.client.make_url("")).rstrip("/"),
                "--token", api.token]
        with ThreadPoolExecutor(1) as pool:
            await asyncio.get_running_loop().run_in_executor(pool, cli.main, argv)
        shown = yaml.safe_load(capfd.readouterr().out)
        assert (shown["name"], shown["queued"], shown["running"]) == ("busy", 2, 1)
    finally:
        for job_id in ids:
            await api.request("POST", f"/v1/jobs/{job_id}/cancel")
