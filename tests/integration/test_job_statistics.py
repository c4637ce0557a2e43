"""What a job's record says its function used, through the whole stack (real RabbitMQ,
SeaweedFS and a worker running functions as their own user in bubblewrap's standing
sandbox): the job, its attempts and `sluice job` agree, and the figures are the
function's."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from jsonschema import Draft202012Validator

from core.times import parse_rfc3339
from sluice import cli
from tests.fixtures.signals import wait_status
from tests.fixtures.usage import ALLOCATE, BURN, MiB, on_block_device, write


async def run_cli(argv: list[str]) -> int:
    """The CLI, which blocks, beside the gateway it talks to."""
    with ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, cli.main, argv)


async def conforms(api, name: str, value: dict) -> None:
    """`value` is what the API document's schema `name` describes."""
    document = await (await api.request("GET", "/openapi.json")).json()
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER) \
        .validate(value)


async def finished(api, name: str, script: str) -> dict:
    await api.deploy(name, script=script, mode="async")
    response = await api.request("POST", f"/v1/functions/{name}/invocations", data=b"1234")
    assert response.status == 201, await response.text()
    return await wait_status(api, (await response.json())["id"], "succeeded", "failed")


async def test_a_job_and_its_attempt_show_what_its_function_used(api, settings):
    job = await finished(api, "busy", f'{ALLOCATE}; {BURN}; {write("$HOME/written")}')
    assert (job["status"], job["exit_code"], job["reason"]) == ("succeeded", 0, None)
    assert 50 * MiB <= job["peak_memory"] < 56 * MiB
    assert 0.5 <= job["cpu_seconds"] < 0.8
    if on_block_device(settings.worker.work_dir):
        assert 20 * MiB <= job["io_write_bytes"] < 21 * MiB
    assert (job["bytes_in"], job["bytes_out"]) == (4, 0), "what was staged, as before"
    started, ended = parse_rfc3339(job["started_at"]), parse_rfc3339(job["finished_at"])
    assert job["runtime"] >= job["cpu_seconds"] * 0.9
    assert abs(job["runtime"] - (ended - started)) < 0.01
    assert abs(job["queue_wait"] - (started - parse_rfc3339(job["created_at"]))) < 0.01
    history = await (await api.request("GET", f"/v1/jobs/{job['id']}/attempts")).json()
    await conforms(api, "Job", job)
    await conforms(api, "Attempts", history)
    [attempt] = history["attempts"]
    assert attempt["worker"] == job["worker"] and job["worker"]
    for field in ("started_at", "finished_at", "runtime", "exit_code", "cpu_seconds",
                  "peak_memory", "io_read_bytes", "io_write_bytes"):
        assert attempt[field] == job[field], field


async def test_sluice_job_shows_the_figures_of_the_job_and_of_each_attempt(api, settings,
                                                                          capsys):
    job = await finished(api, "writer", write("$HOME/written"))
    argv = ["--url", str(api.client.make_url("")), "--token", api.token, "job", job["id"]]
    assert await run_cli(argv) == 0
    # `key         value` lines, the key padded to 12 characters.
    shown = {line[:12].rstrip(): line[13:] for line in capsys.readouterr().out.splitlines()}
    assert shown["worker"] == job["worker"]
    assert shown["started"] != "-" and shown["CPU"].endswith(" ms")
    assert shown["peak memory"].endswith(" MiB") or shown["peak memory"].endswith(" KiB")
    if on_block_device(settings.worker.work_dir):
        assert shown["block I/O"].endswith(" read, 20.0 MiB written")
        assert shown["attempt"].endswith(" read, 20.0 MiB written")
    assert "  CPU " in shown["attempt"] and "  peak " in shown["attempt"]
    assert await run_cli([*argv[:4], "--json", *argv[4:]]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["io_write_bytes"] == job["io_write_bytes"]
    assert record["attempt_history"][0]["io_write_bytes"] == job["io_write_bytes"]


async def test_a_failed_attempt_keeps_its_figures(api):
    job = await finished(api, "fails-late", f"{ALLOCATE}; exit 3")
    assert (job["status"], job["exit_code"]) == ("failed", 3)
    assert job["peak_memory"] >= 50 * MiB and job["cpu_seconds"] > 0
