"""A worker, a gateway and a listener started while the object store is down: each starts,
makes the system bucket once the store is back (jobs/context.py), and meanwhile what needs
the store fails as passing: a job's attempts are tried again (workers/failures.py), a
request is answered 503, a scan waits for its next round. SeaweedFS is stopped and started
again on the same port, from an empty directory, so that no bucket is left from before."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from broker.events import RabbitEvents
from broker.setup import rabbitmq_broker
from core.errors import NotFound, Unavailable
from core.objects import ObjectStore
from core.settings import S3Settings, Secret
from sluice.ports import free_port_block
from sluice.seaweed import SeaweedServer
from storage_events.listener import Listener
from tests.fixtures.services import unavailable
from tests.fixtures.signals import eventually, until, wait_status
from tests.fixtures.stack import settings_env


class Outage:
    """An object store on a port of its own, closed until `start`."""

    def __init__(self, base: Path):
        self.base, self.port = base, free_port_block(5, also_plus=10000)
        self.keys = secrets.token_hex(8), secrets.token_hex(16)
        self.server: SeaweedServer | None = None

    def start(self) -> None:
        self.server = SeaweedServer(self.base / secrets.token_hex(4), self.port, *self.keys)
        try:
            self.server.start()
            self.server.wait_ready(60)
        except Unavailable as exc:
            self.stop()
            unavailable(f"SeaweedFS ({exc.detail})")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def outage(tmp_path):
    outage = Outage(tmp_path)
    yield outage
    outage.stop()


@pytest.fixture
def settings(settings, outage):
    access, secret = outage.keys
    return dataclasses.replace(settings, s3=S3Settings(
        url=f"http://127.0.0.1:{outage.port}", access_key=Secret(access),
        secret_key=Secret(secret), system_bucket=f"sys-{secrets.token_hex(4)}",
        bucket=f"data-{secrets.token_hex(4)}"))


def bucket_made(settings) -> bool:
    try:
        list(ObjectStore(settings.s3).list_objects(settings.s3.system_bucket, ""))
    except NotFound:
        return False
    return True


async def test_a_worker_started_while_the_object_store_is_down_runs_the_job_once_it_is_back(
        gateway_only, settings, outage):
    """The gateway, too, started with the store down; the function is deployed while it is
    up (deploying makes its buckets)."""
    api = gateway_only
    outage.start()
    await api.deploy("upper", mode="async",
                     script='tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/upper.txt"')
    outage.stop()
    # Attempts enough, at most 2 s apart, to outlast SeaweedFS starting on two busy cores.
    env = settings_env(settings) | {"SLUICE_MAX_ATTEMPTS": "60"}
    worker = subprocess.Popen([sys.executable, "-m", "sluice.cli", "worker"], env=env,
                              start_new_session=True)
    try:
        response = await api.request("POST", "/v1/functions/upper/invocations",
                                     data=b"quiet words")
        assert response.status == 201, await response.text()
        job_id = (await response.json())["id"]

        async def tried() -> bool:
            answer = await (await api.request("GET", f"/v1/jobs/{job_id}/attempts")).json()
            return any(a["reason"] == "unavailable" for a in answer["attempts"])
        await until(tried, timeout=60, what="an attempt meeting the store down")
        assert worker.poll() is None, "the worker is still running"
        outage.start()
        done = await wait_status(api, job_id, "succeeded", "failed", timeout=180)
        assert done["status"] == "succeeded", done
        (output,) = done["outputs"]
        assert ObjectStore(settings.s3).get_bytes(output["bucket"], output["key"]) == \
            b"QUIET WORDS"
        await until(lambda: bucket_made(settings), timeout=30, what="the system bucket made")
    finally:
        worker.terminate()
        worker.wait(60)


async def test_a_gateway_started_while_the_object_store_is_down_answers_503_until_it_is_back(
        gateway_only, settings, outage):
    """What needs the store (a deploy, which makes the function's buckets; a body too large
    for the job store, kept in the system bucket) is refused as passing; what does not, is
    served."""
    api = gateway_only
    refused = await api.request("PUT", "/v1/functions/big", json={"script": "wc -c"})
    assert refused.status == 503 and refused.content_type == "application/problem+json"
    assert (await api.request("GET", "/v1/functions")).status == 200
    outage.start()
    await api.deploy("big", mode="async", script='wc -c < "$INPUT_FILE_PATH"')
    outage.stop()
    large = b"x" * (settings.inline_max + 1)
    refused = await api.request("POST", "/v1/functions/big/invocations", data=large)
    assert refused.status == 503 and refused.content_type == "application/problem+json"
    outage.start()
    accepted = await api.request("POST", "/v1/functions/big/invocations", data=large)
    assert accepted.status == 201, await accepted.text()
    assert bucket_made(settings)


def test_a_listener_started_while_the_object_store_is_down_makes_the_bucket_once_it_is_back(
        settings, outage):
    """Its scans fail and wait for their next round; the bucket comes within a retry."""
    listener = Listener(settings, rabbitmq_broker(settings.broker_url),
                        RabbitEvents(settings.broker_url, settings.queue))
    listener.start()
    try:
        outage.start()
        eventually(lambda: bucket_made(settings), timeout=30, what="the system bucket made")
    finally:
        listener.stop()
