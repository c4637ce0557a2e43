"""A broker outage, on a RabbitMQ node of the test's own: invocations accepted while it was
away start as soon as it is back, published by the gateway that accepted them, not by the
sweeper (which here would wait an hour)."""

from __future__ import annotations

import json
import urllib.request

from tests.fixtures.up import start_up, stop


def call(env: dict, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    token = (env["SLUICE_DATA_DIR"] + "/admin-token")
    request = urllib.request.Request(
        env["SLUICE_URL"] + path, method=method,
        data=json.dumps(body).encode() if body is not None else b"",
        headers={"Authorization": f"Bearer {open(token).read().strip()}",
                 "Content-Type": "application/json", "Prefer": "respond-async"})
    with urllib.request.urlopen(request, timeout=90) as answer:
        return answer.status, json.loads(answer.read() or b"{}")


def test_jobs_accepted_while_the_broker_is_away_start_when_it_returns(tmp_path, own_rabbitmq):
    env, up, log = start_up(tmp_path, SLUICE_BROKER_URL=own_rabbitmq.url,
                            SLUICE_REQUEUE_AFTER="3600")
    try:
        assert call(env, "PUT", "/v1/functions/echo", {"command": ["echo", "hi"]})[0] == 201
        own_rabbitmq.stop_app()
        accepted = [call(env, "POST", "/v1/functions/echo/invocations") for _ in range(5)]
        assert [status for status, _ in accepted] == [201] * 5
        assert {job["status"] for _, job in accepted} == {"queued"}
        own_rabbitmq.start_app()
        for _, job in accepted:
            status, record = call(env, "GET", f"/v1/jobs/{job['id']}?wait=60")
            assert record["status"] == "succeeded", (record, log.read_text()[-3000:])
        assert "accepted while the broker was away" in log.read_text()
    finally:
        stop(up)
