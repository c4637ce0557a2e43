"""A function's `on_end` against the real stack: every job of it that ends, however it
ends, is handed to another function with its record, once; chains are followed, and a chain
that would come back to where it began is refused when it is deployed, as Abaco refuses a
link that makes a cycle (TACC/abaco at 9e83e1c, actors/controllers.py:691-717 and
776-778)."""

from __future__ import annotations

import json

from tests.fixtures.signals import until, wait_status

PRINT_INPUT = 'cat "$INPUT_FILE_PATH"'


async def handed(api, function: str, count: int = 1) -> list[dict]:
    """The jobs of `function`, oldest first, once there are `count`."""
    async def listed():
        jobs = (await (await api.request("GET", f"/v1/jobs?function={function}")).json())["jobs"]
        return jobs if len(jobs) >= count else None
    return list(reversed(await until(listed, what=f"{count} job(s) of {function}")))


async def record_in(api, job: dict) -> dict:
    """The record a handed job was given, as its function printed it."""
    done = await wait_status(api, job["id"], "succeeded")
    printed = await api.request("GET", f"/v1/jobs/{done['id']}/logs?stream=stdout")
    return json.loads(await printed.read())["job"]


async def test_each_ending_of_a_job_is_handed_to_on_end_with_its_record(api):
    await api.deploy("report", script=PRINT_INPUT)
    await api.deploy("work", script='[ "$(cat "$INPUT_FILE_PATH")" = ok ] || exit 4',
                     on_end="report")
    good = await api.request("POST", "/v1/functions/work/invocations", data=b"ok")
    bad = await api.request("POST", "/v1/functions/work/invocations", data=b"no")
    assert (good.status, bad.status) == (200, 502)
    first, second = await handed(api, "report", 2)
    assert (first["trigger"], first["depth"]) == ("end", 1)
    records = [await record_in(api, first), await record_in(api, second)]
    assert [(r["id"], r["status"], r["exit_code"]) for r in records] == [
        (good.headers["Sluice-Job-Id"], "succeeded", 0),
        (bad.headers["Sluice-Job-Id"], "failed", 4)]


async def test_a_cancelled_job_is_handed_on_too_once(api):
    await api.deploy("report", script=PRINT_INPUT)
    await api.deploy("slow", script="sleep 30", on_end="report", mode="async")
    queued = await (await api.request("POST", "/v1/functions/slow/invocations")).json()
    await wait_status(api, queued["id"], "running")
    cancelled = await api.request("POST", f"/v1/jobs/{queued['id']}/cancel")
    assert (await cancelled.json())["status"] == "cancelled"
    [job] = await handed(api, "report")
    assert (await record_in(api, job))["id"] == queued["id"]
    # The stopped attempt, recorded after the cancel, hands nothing on again.
    await until(lambda: _has_logs(api, queued["id"]), what="the cancelled attempt recorded")
    assert len(await handed(api, "report")) == 1


async def _has_logs(api, job_id: str) -> bool:
    record = await (await api.request("GET", f"/v1/jobs/{job_id}/attempts")).json()
    return bool(record["attempts"])


async def test_chains_of_on_end_are_followed(api):
    await api.deploy("third", script=PRINT_INPUT)
    await api.deploy("second", script=PRINT_INPUT, on_end="third")
    await api.deploy("first", script="true", on_end="second")
    first = await api.request("POST", "/v1/functions/first/invocations")
    [at_second] = await handed(api, "second")
    [at_third] = await handed(api, "third")
    assert (at_third["depth"], (await record_in(api, at_third))["id"]) == (2, at_second["id"])
    assert (await record_in(api, at_second))["id"] == first.headers["Sluice-Job-Id"]


async def test_an_on_end_that_comes_back_round_is_refused(api):
    await api.deploy("a", script="true")
    await api.deploy("b", script="true", on_end="a")
    looped = await api.request("PUT", "/v1/functions/a", json={"script": "true", "on_end": "b"})
    assert looped.status == 422
    [error] = (await looped.json())["errors"]
    assert error["path"] == "on_end" and "a -> b -> a" in error["message"]
    itself = await api.request("PUT", "/v1/functions/c", json={"script": "true", "on_end": "c"})
    assert [e["path"] for e in (await itself.json())["errors"]] == ["on_end"]
