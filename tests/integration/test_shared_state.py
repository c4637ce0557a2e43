"""Job state is shared by every gateway process: two gateways of their own on one job store
and one RabbitMQ, with a worker. A job invoked through one is waited for and read through
the other (on SQLite and PostgreSQL); a caller whose gateway stops (SIGTERM) while it waits
gets its answer from the other gateway, or from a gateway started again, by its
idempotency key."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import sys

import pytest

from bench.fleet import Fleet
from sluice.client import Client
from sluice.ports import free_port_block
from tests.fixtures.balancer import FailoverBalancer
from tests.fixtures.signals import eventually
from tests.fixtures.stack import delete_queues, settings_env

pytestmark = pytest.mark.timeout(180)
SLOW = 'sleep 2; printf "%s seen" "$MESSAGE"'


@pytest.fixture
def gateways(tmp_path, settings):
    """`make(n, database_url)`: n gateways of their own, the first with a worker beside it,
    over one store (the settings' SQLite unless given) and broker; each a `Fleet` whose
    gateway may be started or stopped."""
    queue = f"sluice-shared-{secrets.token_hex(4)}"
    fleets: list[Fleet] = []
    made: list = []

    def make(count: int, database_url: str = settings.database_url) -> list[Fleet]:
        shared = dataclasses.replace(settings, database_url=database_url, queue=queue)
        made.append(shared)
        env = settings_env(shared) | {"SLUICE_WORK_DIR": str(tmp_path / "work"),
                                      "SLUICE_LOG_LEVEL": "INFO"}
        for index in range(count):
            fleets.append(Fleet(env | {"SLUICE_PORT": str(free_port_block(1))},
                                tmp_path / f"gateway-{index + 1}"))
        fleets[0].start_gateway()
        fleets[0].start_worker()
        return fleets

    yield make
    for fleet in fleets:
        fleet.stop()
    for shared in made:
        delete_queues(shared)


def test_a_job_invoked_through_one_gateway_is_waited_for_and_read_through_another(
        database_url, gateways):
    first, second = gateways(2, database_url)
    second.start_gateway()
    one, other = first.client(), second.client()
    one.json("PUT", "/v1/functions/slow", {"script": SLOW})
    invoked = one.invoke("slow", b"shared", {"Content-Type": "text/plain",
                                             "Prefer": "respond-async"}, ok=(201,))
    job_id = invoked.json()["id"]
    assert other.json("GET", f"/v1/jobs/{job_id}")["status"] in ("queued", "running")
    done = other.json("GET", f"/v1/jobs/{job_id}", query={"wait": 30})
    assert (done["status"], done["exit_code"]) == ("succeeded", 0)
    assert other.request("GET", f"/v1/jobs/{job_id}/logs").body == b"shared seen"
    assert one.json("GET", f"/v1/jobs/{job_id}") == done
    depth = other.json("GET", "/v1/functions/slow")
    assert (depth["queued"], depth["running"]) == (0, 0)


@pytest.mark.parametrize("answered_by", ["the other gateway", "a gateway started again"])
def test_a_caller_whose_gateway_stops_gets_its_answer_by_its_key(gateways, answered_by):
    first, second = gateways(2)
    if answered_by == "the other gateway":
        second.start_gateway()
    balancer = FailoverBalancer([int(fleet.env["SLUICE_PORT"]) for fleet in (first, second)])
    try:
        admin = first.client()
        admin.json("PUT", "/v1/functions/slow", {"script": SLOW})
        cli = subprocess.Popen(
            [sys.executable, "-m", "sluice.cli", "invoke", "slow", "--text", "waited"],
            env=os.environ | {"SLUICE_URL": balancer.url, "SLUICE_TOKEN": first.token},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        eventually(lambda: admin.json("GET", "/v1/functions/slow")["running"] == 1,
                   timeout=30, what="the caller's job running")
        stopping = first.gateway
        stopping.send_signal(signal.SIGTERM)
        assert stopping.wait(30) == 0
        if answered_by == "a gateway started again":
            second.start_gateway()
        out, err = cli.communicate(timeout=60)
    finally:
        balancer.close()
    assert (cli.returncode, out) == (0, b"waited seen"), err.decode()
    assert b"is stopping; asking again for the same job" in err
    jobs = Client(second.url, second.token).json("GET", "/v1/jobs",
                                                 query={"function": "slow"})["jobs"]
    assert [(job["status"], job["trigger"]) for job in jobs] == [("succeeded", "http")]
