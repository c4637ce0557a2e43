"""Faults against real services: the object store stopped while a job uploads its outputs,
and consumers whose handlers fail. Every accepted job ends; no consumer dies."""

from __future__ import annotations

import dataclasses
import secrets

import pika
import pytest

from broker.events import EXCHANGE, QueueConsumer
from core.errors import Invalid, Unavailable
from core.settings import RetrySettings
from gateway.app import create_app
from tests.fixtures.rabbitmq import queue_depth
from tests.fixtures.seaweed import s3_settings_for, start_seaweed
from tests.fixtures.signals import counter, eventually, until, wait_status
from tests.fixtures.stack import Api, delete_queues, start_worker, unconfined


@pytest.fixture
def own_seaweed(tmp_path):
    """A SeaweedFS the test may stop and start again."""
    server = start_seaweed(tmp_path / "seaweed")
    yield server
    server.stop()


@pytest.fixture
def outage_settings(settings, own_seaweed):
    """Attempts every second or two, for longer than SeaweedFS takes to start; functions
    that can see the test's files."""
    retry = RetrySettings(max_attempts=12, backoff_seconds=0.5, backoff_max_seconds=2)
    return unconfined(dataclasses.replace(settings, s3=s3_settings_for(own_seaweed),
                                          worker=dataclasses.replace(settings.worker,
                                                                     retry=retry)))


async def test_a_job_whose_object_store_stops_during_stage_out_succeeds_once_it_is_back(
        aiohttp_client, outage_settings, own_seaweed, tmp_path):
    worker = start_worker(outage_settings)
    try:
        api = Api(await aiohttp_client(create_app(outage_settings)))
        go = tmp_path / "go"
        await api.deploy("writer", mode="async", script=(
            f'echo kept > "$TMP_OUTPUT_DIR/out.txt"; while [ ! -e {go} ]; do sleep 0.05; done'))
        job_id = (await (await api.request("POST", "/v1/functions/writer/invocations")).json()
                  )["id"]
        await wait_status(api, job_id, "running")
        own_seaweed.stop()
        go.touch()

        async def queued_again():
            record = await (await api.request("GET", f"/v1/jobs/{job_id}")).json()
            return record if record["status"] == "queued" and record["attempts"] else None
        waiting = await until(queued_again, what="the attempt being released for another")
        assert "object store unreachable" in waiting["error"]
        own_seaweed.start()
        own_seaweed.wait_ready()
        done = await wait_status(api, job_id, "succeeded", "failed", timeout=60)
        assert done["status"] == "succeeded" and done["attempts"] >= 2, done
        [output] = done["outputs"]
        answer = await api.request("GET", f"/v1/jobs/{job_id}/outputs/out.txt")
        assert (output["name"], await answer.read()) == ("out.txt", b"kept\n")
    finally:
        worker.stop()
        delete_queues(outage_settings)


def test_a_consumer_whose_handler_raises_goes_on_consuming(rabbitmq_url):
    """A passing failure or a bug in the handler puts the message back; a body that is
    not JSON, or that the handler refuses, is dropped and counted, and so is one the handler
    keeps failing on; a failure while setting up the queue is followed by a new connection."""
    queue, name = f"sluice-test-consumer-{secrets.token_hex(4)}", "sluice-test-consumer"
    delivered, declared, failures = [], [], {"boom": 1, "away": 2}

    def declare(channel) -> str:
        declared.append(channel)
        if len(declared) == 1:
            raise RuntimeError("a bug while declaring")
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, EXCHANGE, routing_key=queue)
        return queue

    def deliver(document) -> None:
        if document == "invalid":
            raise Invalid("no function may be given this")
        if document == "poison":
            raise RuntimeError("a bug the handler always meets")
        if failures.get(document):
            failures[document] -= 1
            raise (RuntimeError("a bug in the handler") if document == "boom"
                   else Unavailable("the job store is away"))
        delivered.append(document)

    dropped = {why: counter("sluice_event_messages_dropped", consumer=name, why=why)
               for why in ("not-json", "refused", "failed")}
    consumer = QueueConsumer(rabbitmq_url, declare, deliver, ack=True, name=name)
    consumer.RETRY_PAUSE = 0.05
    consumer.start()
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        eventually(lambda: queue_depth(rabbitmq_url, queue)[1], what="the consumer consuming")
        channel = connection.channel()
        for body in (b'"boom"', b"{not json", b"[" * 100_000, b'"invalid"', b'"away"',
                     b'"poison"', b'"a"', b'"b"'):
            channel.basic_publish(EXCHANGE, queue, body)
        eventually(lambda: sorted(delivered) == ["a", "away", "b", "boom"],
                   what="every readable message delivered")
        eventually(lambda: counter("sluice_event_messages_dropped", consumer=name,
                                   why="failed") > dropped["failed"],
                   what="the message the handler always fails on dropped")
        assert {why: counter("sluice_event_messages_dropped", consumer=name, why=why) - before
                for why, before in dropped.items()} == {"not-json": 2, "refused": 1,
                                                        "failed": 1}
        eventually(lambda: queue_depth(rabbitmq_url, queue) == (0, 1),
                   what="the queue emptied")
        assert consumer.is_alive() and len(declared) == 2
    finally:
        consumer.stop()
        connection.channel().queue_delete(queue)
        connection.close()
