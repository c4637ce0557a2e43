"""Schedules through the API and the CLI: `next_fire` on every function, starts in the past
refused with the current UTC time, a changed schedule computed again and an unchanged one
kept, `schedule_enabled`, and `sluice schedule`."""

from __future__ import annotations

import asyncio
import datetime
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.store import JobStore
from core.times import parse_rfc3339, rfc3339
from sluice import cli

UTC = datetime.UTC
HOURLY = "0 * * * *"


def next_hour(now: float) -> float:
    return (now // 3600 + 1) * 3600


def is_next_hour(answer: str, before: float) -> bool:
    """The hour after `before`, or after now when one began meanwhile."""
    return parse_rfc3339(answer) in (next_hour(before), next_hour(time.time()))


@pytest.fixture
def store(local_settings):
    """The gateway's job store, on a connection of the test's own."""
    store = JobStore(local_settings.database_url)
    yield store
    store.close()


async def function(api, name: str) -> dict:
    response = await api.request("GET", f"/v1/functions/{name}")
    assert response.status == 200, await response.text()
    return await response.json()


async def refused(api, name: str, spec: dict) -> list[dict]:
    response = await api.request("PUT", f"/v1/functions/{name}", json=spec)
    assert response.status == 422, await response.text()
    assert response.content_type == "application/problem+json"
    return (await response.json())["errors"]


async def test_a_scheduled_function_shows_when_it_fires_next(local_gateway):
    before = time.time()
    deployed = await local_gateway.deploy("hourly", command=["true"], schedule=HOURLY)
    assert deployed["schedule"] == HOURLY and deployed["schedule_enabled"] is True
    assert is_next_hour(deployed["next_fire"], before)
    assert (await function(local_gateway, "hourly"))["next_fire"] == deployed["next_fire"]
    listing = await (await local_gateway.request("GET", "/v1/functions")).json()
    assert [f["next_fire"] for f in listing["functions"]] == [deployed["next_fire"]]
    plain = await local_gateway.deploy("plain", command=["true"])
    assert plain["next_fire"] is None and "schedule" not in plain


async def test_abacos_now_form_fires_in_the_current_hour(local_gateway):
    """actors/models.py:912-918 (TACC/abaco): `now` is the current UTC hour."""
    before = time.time()
    deployed = await local_gateway.deploy("soon", command=["true"], schedule="now + 6 hours")
    assert parse_rfc3339(deployed["next_fire"]) in (before // 3600 * 3600,
                                                   time.time() // 3600 * 3600)


async def test_a_start_in_the_past_is_refused_with_the_current_utc_time(local_gateway):
    """As Abaco's `set_cron` refuses it (actors/models.py:929-931): 'The starting datetime
    is old. The current UTC time is ...'."""
    before = time.time()
    last_hour = datetime.datetime.fromtimestamp(before - 3600, UTC).strftime("%Y-%m-%d %H")
    [error] = await refused(local_gateway, "late", {"command": ["true"],
                                                    "schedule": f"{last_hour} + 1 day"})
    assert error["path"] == "schedule"
    found = re.fullmatch(r"the starting datetime (\S+) is old; the current UTC time is (\S+)",
                         error["message"])
    assert found, error["message"]
    assert parse_rfc3339(found.group(1)) == (before - 3600) // 3600 * 3600
    assert before - 0.001 <= parse_rfc3339(found.group(2)) <= time.time()
    assert (await local_gateway.request("GET", "/v1/functions/late")).status == 404


async def test_malformed_schedules_are_refused_by_path_in_a_document(local_gateway):
    response = await local_gateway.request("POST", "/v1/functions", json={"functions": {
        "good": {"command": ["true"], "schedule": "*/5 * * * *"},
        "bad": {"command": ["true"], "schedule": "every day"},
        "worse": {"command": ["true"], "schedule": "now + 2 fortnights",
                  "schedule_enabled": "yes"}}})
    assert response.status == 422, await response.text()
    errors = {e["path"]: e["message"] for e in (await response.json())["errors"]}
    assert set(errors) == {"functions.bad.schedule", "functions.worse.schedule",
                           "functions.worse.schedule_enabled"}
    assert "'fortnights' is an invalid unit of time" in errors["functions.worse.schedule"]
    assert all("the current UTC time is " in errors[f"functions.{name}.schedule"]
               for name in ("bad", "worse"))
    assert (await local_gateway.request("GET", "/v1/functions/good")).status == 404


async def test_a_changed_schedule_is_computed_again_and_an_unchanged_one_kept(
        local_gateway, store):
    first = await local_gateway.deploy("report", command=["true"], schedule="0 6 * * *")
    # As a listener that fired it would have: moved on by a day.
    seen = parse_rfc3339(first["next_fire"])
    assert store.advance_schedule("report", seen, seen + 86400)
    kept = await local_gateway.deploy("report", command=["echo", "new"], schedule="0 6 * * *")
    assert kept["revision"] == 2 and parse_rfc3339(kept["next_fire"]) == seen + 86400
    before = time.time()
    changed = await local_gateway.deploy("report", command=["true"], schedule=HOURLY)
    assert is_next_hour(changed["next_fire"], before)
    unscheduled = await local_gateway.deploy("report", command=["true"])
    assert unscheduled["next_fire"] is None and store.get_schedule("report") is None


async def test_an_unchanged_start_that_has_passed_is_kept_on_redeploy(local_gateway, store):
    """Redeploying the same file must not be refused once its start has passed: the start
    is checked only when the schedule is new or changed."""
    hour = datetime.datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d %H")
    spec = {"command": ["true"], "schedule": f"{hour} + 1 day"}
    first = await local_gateway.deploy("daily", **spec)
    row = store.get_schedule("daily")
    assert store.advance_schedule("daily", row.next_fire, row.next_fire - 7200)
    again = await local_gateway.deploy("daily", **spec)
    assert parse_rfc3339(again["next_fire"]) == parse_rfc3339(first["next_fire"]) - 7200


async def test_a_disabled_schedule_is_kept_and_enabled_again_skips_what_it_missed(
        local_gateway, store):
    """Abaco moves the next execution on while `cron_on` is false (actors/controllers.py,
    `actor_exec`): ticks that fell due while it was off are not made up."""
    await local_gateway.deploy("paused", command=["true"], schedule=HOURLY)
    off = await local_gateway.deploy("paused", command=["true"], schedule=HOURLY,
                                     schedule_enabled=False)
    assert (off["schedule"], off["schedule_enabled"], off["next_fire"]) == (HOURLY, False, None)
    row = store.get_schedule("paused")
    assert store.advance_schedule("paused", row.next_fire, row.next_fire - 3 * 3600)
    before = time.time()
    on = await local_gateway.deploy("paused", command=["true"], schedule=HOURLY)
    assert is_next_hour(on["next_fire"], before)


async def test_a_deleted_function_takes_its_schedule_with_it(local_gateway, store):
    await local_gateway.deploy("gone", command=["true"], schedule=HOURLY)
    assert (await local_gateway.request("DELETE", "/v1/functions/gone")).status == 204
    assert store.get_schedule("gone") is None


async def run_cli(argv: list[str]) -> int:
    with ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, cli.main, argv)


async def test_sluice_schedule_lists_scheduled_functions_in_local_time(local_gateway, capfd,
                                                                      monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30: minutes differ from UTC's too
    time.tzset()
    try:
        await local_gateway.deploy("nightly", command=["true"], schedule="30 2 * * *")
        await local_gateway.deploy("held", command=["true"], schedule=HOURLY,
                                   schedule_enabled=False)
        await local_gateway.deploy("plain", command=["true"])
        nightly = await function(local_gateway, "nightly")
        options = ["--url", str(local_gateway.client.make_url("")), "--token",
                   local_gateway.token]
        assert await run_cli(["schedule", *options]) == 0
        local = datetime.datetime.fromtimestamp(parse_rfc3339(nightly["next_fire"]))
        out = capfd.readouterr().out.splitlines()
        assert [line.split() for line in out] == [
            ["NAME", "SCHEDULE", "NEXT", "FIRE"], ["held", *HOURLY.split(), "(disabled)"],
            ["nightly", "30", "2", "*", "*", "*", *local.strftime("%Y-%m-%d %H:%M:%S").split()]]
        assert local.strftime("%H:%M") == "08:00"
        assert await run_cli(["schedule", "--json", *options]) == 0
        assert rfc3339(parse_rfc3339(nightly["next_fire"])) in capfd.readouterr().out
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
