"""Uploads start functions: S3/MinIO and SeaweedFS webhooks, the objects workers write,
MinIO's AMQP target, scans; exactly once per object version."""

import asyncio
import dataclasses
import json
import time

import pika
import pytest

from tests.fixtures.rabbitmq import queue_depth
from tests.fixtures.signals import counter, until
from tests.fixtures.stack import start_listener
from tests.unit.core.test_events import recorded


async def wait_jobs(api, function: str, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = (await (await api.request("GET", f"/v1/jobs?function={function}")).json())["jobs"]
        done = [j for j in jobs if j["status"] in ("succeeded", "failed")]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        await asyncio.sleep(0.1)


def s3_event(bucket: str, key: str, etag: str) -> dict:
    """An AWS-style notification for an object, its key URL-encoded as S3 does."""
    from urllib.parse import quote_plus
    record = recorded("aws-put")["Records"][0]
    record = json.loads(json.dumps(record))
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"].update(key=quote_plus(key), eTag=etag, size=None)
    del record["s3"]["object"]["versionId"]
    return {"Records": [record]}


async def upload(api, bucket: str, key: str, data: bytes) -> str:
    from urllib.parse import quote
    response = await api.request("PUT", f"/v1/objects/{bucket}/{quote(key)}", data=data)
    assert response.status == 201, await response.text()
    return (await response.json())["etag"]


CONTRACT = ('echo "$STORAGE_OBJECT_BUCKET|$STORAGE_OBJECT_KEY|$(basename "$INPUT_FILE_PATH")" '
            '> "$TMP_OUTPUT_DIR/seen.txt"; cat "$INPUT_FILE_PATH" >> "$TMP_OUTPUT_DIR/seen.txt";'
            ' echo "$EVENT" > "$TMP_OUTPUT_DIR/event.json"')


@pytest.mark.parametrize("key", ["in/plain.txt", "in/with space.txt", "in/ünïcode ✓.txt",
                                 "in/plus+sign.txt"])
async def test_an_s3_notification_starts_the_function_with_the_object(api, objects, key):
    await api.deploy("seer", script=CONTRACT, input=[{"bucket": "trig-bucket", "prefix": "in/"}],
                     output={"bucket": "trig-bucket", "prefix": "out"})
    etag = await upload(api, "trig-bucket", key, b"payload")
    response = await api.request("POST", "/v1/events/s3", json=s3_event("trig-bucket", key, etag))
    assert response.status == 200, await response.text()
    [job_id] = (await response.json())["jobs"]
    job = await (await api.request("GET", f"/v1/jobs/{job_id}?wait=20")).json()
    assert job["status"] == "succeeded" and job["trigger"] == "storage"
    assert job["source"]["key"] == key and job["bytes_in"] == 7
    seen = objects.get_bytes("trig-bucket", f"out/{job_id}/seen.txt").decode()
    assert seen == f"trig-bucket|{key}|{key.rsplit('/', 1)[1]}\npayload"
    event = json.loads(objects.get_bytes("trig-bucket", f"out/{job_id}/event.json"))
    assert event["eventName"] == "ObjectCreated:Put"


async def test_one_job_per_object_version_whatever_the_source(api, settings):
    await api.deploy("once", command=["true"], input=[{"bucket": "dedupe-bucket", "prefix": ""}],
                     output={"bucket": "dedupe-out"})
    etag = await upload(api, "dedupe-bucket", "f.txt", b"v1")
    seaweed = recorded("seaweedfs-create") | {"key": "/buckets/dedupe-bucket/f.txt"}
    seaweed["message"]["new_entry"]["extended"] = {}
    seaweed["message"]["new_entry"]["attributes"]["md5"] = __import__("base64").b64encode(
        bytes.fromhex(etag)).decode()
    for _ in range(2):
        await api.request("POST", "/v1/events/s3", json=s3_event("dedupe-bucket", "f.txt", etag))
        await api.request("POST", "/v1/events/seaweedfs", json=seaweed)
    scan = await api.request("POST", "/v1/functions/once/scan")
    last = json.loads((await scan.text()).strip().splitlines()[-1])
    assert (last["listed"], last["submitted"], last["existing"]) == (1, 0, 1)
    assert len(await wait_jobs(api, "once", 1)) == 1
    new_etag = await upload(api, "dedupe-bucket", "f.txt", b"v2, changed")
    await api.request("POST", "/v1/events/s3", json=s3_event("dedupe-bucket", "f.txt", new_etag))
    assert len(await wait_jobs(api, "once", 2)) == 2


async def test_hostile_keys_are_refused_and_start_nothing(api):
    await api.deploy("careful", command=["true"], input=[{"bucket": "hostile-bucket"}])
    for key in ("../../etc/passwd", "a/../../b", "/abs"):
        response = await api.request("POST", "/v1/events/s3",
                                     json=s3_event("hostile-bucket", key, "00"))
        assert response.status == 422
        assert response.content_type == "application/problem+json"
    for path in ("a/..%2F..%2Fx", "%2Fabs"):
        bad_put = await api.request("PUT", f"/v1/objects/hostile-bucket/{path}", data=b"x")
        assert bad_put.status == 422 and "refused" in (await bad_put.json())["detail"]
    jobs = (await (await api.request("GET", "/v1/jobs?function=careful")).json())["jobs"]
    assert jobs == []


async def test_event_webhooks_need_a_token(gateway_only):
    assert (await gateway_only.client.post("/v1/events/s3", json={})).status == 401
    assert (await gateway_only.request("POST", "/v1/events/s3", json={},
                                       token="nope")).status == 403


async def test_a_two_stage_pipeline_chains_through_its_folders(api, listener, objects):
    await api.deploy("stage-one", script='tr a-z A-Z < "$INPUT_FILE_PATH" > '
                                         '"$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"',
                     input=[{"bucket": "pipe-bucket", "prefix": "in/"}],
                     output={"bucket": "pipe-bucket", "prefix": "mid"})
    await api.deploy("stage-two", script='echo "$(cat "$INPUT_FILE_PATH")!" > '
                                         '"$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"',
                     input=[{"bucket": "pipe-bucket", "prefix": "mid/"}],
                     output={"bucket": "pipe-bucket", "prefix": "out"})
    etag = await upload(api, "pipe-bucket", "in/word.txt", b"hello")
    await api.request("POST", "/v1/events/s3", json=s3_event("pipe-bucket", "in/word.txt", etag))
    [second] = await wait_jobs(api, "stage-two", 1)
    assert second["trigger"] == "chain" and second["depth"] == 1
    out = objects.get_bytes("pipe-bucket", f"out/{second['id']}/word.txt")
    assert out == b"HELLO!\n"
    assert len(await wait_jobs(api, "stage-one", 1)) == 1


async def test_a_guarded_self_trigger_stops_at_its_depth(api, listener):
    spec = {"script": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/again.txt"',
            "input": [{"bucket": "loop-bucket", "prefix": "work/"}],
            "output": {"bucket": "loop-bucket", "prefix": "work/next"}}
    refused = await api.request("PUT", "/v1/functions/looper", json=spec)
    assert refused.status == 422
    await api.deploy("looper", **spec, guard={"max_depth": 3})
    refused = counter("sluice_storage_events", source="internal", outcome="depth-limit")
    etag = await upload(api, "loop-bucket", "work/seed.txt", b"x")
    await api.request("POST", "/v1/events/s3", json=s3_event("loop-bucket", "work/seed.txt", etag))
    await wait_jobs(api, "looper", 3)
    # The third job's output is the event that must start nothing.
    await until(lambda: counter("sluice_storage_events", source="internal",
                                outcome="depth-limit") > refused,
                what="the listener refusing the fourth link of the chain")
    jobs = (await (await api.request("GET", "/v1/jobs?function=looper")).json())["jobs"]
    assert sorted(j["depth"] for j in jobs) == [0, 1, 2]


async def test_objects_uploaded_while_no_listener_ran_are_found_when_it_starts(api, settings):
    await api.deploy("catchup", command=["true"],
                     input=[{"bucket": "late-bucket", "prefix": "in/", "scan_interval": 5}])
    for i in range(3):
        await upload(api, "late-bucket", f"in/{i}.txt", b"late")
    service = start_listener(settings)
    try:
        assert len(await wait_jobs(api, "catchup", 3)) == 3
        known = counter("sluice_storage_events", source="scan", outcome="duplicate")
        # The next round lists the same three objects and must find each one's job.
        await until(lambda: counter("sluice_storage_events", source="scan",
                                    outcome="duplicate") >= known + 3,
                    timeout=15, what="a second reconciliation round")
        jobs = (await (await api.request("GET", "/v1/jobs?function=catchup")).json())["jobs"]
        assert len(jobs) == 3 and {j["trigger"] for j in jobs} == {"scan"}
    finally:
        service.stop()


async def test_notifications_from_minios_amqp_target_start_jobs(api, settings, worker):
    exchange = f"minio-{settings.queue}"
    service = start_listener(dataclasses.replace(settings, s3_events_exchange=exchange))
    try:
        await api.deploy("amqp-fn", command=["true"], input=[{"bucket": "amqp-bucket"}])
        etag = await upload(api, "amqp-bucket", "cat picture.png", b"meow")
        document = recorded("minio-put")
        document["Records"][0]["s3"]["bucket"]["name"] = "amqp-bucket"
        document["Records"][0]["s3"]["object"].update(key="cat+picture.png", eTag=etag)
        await until(lambda: queue_depth(settings.broker_url, f"{settings.queue}-s3")[1],
                    what="the listener consuming MinIO's events")
        connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
        connection.channel().basic_publish(exchange, "bucketevents", json.dumps(document))
        connection.close()
        [job] = await wait_jobs(api, "amqp-fn", 1)
        assert job["source"]["key"] == "cat picture.png" and job["status"] == "succeeded"
    finally:
        service.stop()
        connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
        connection.channel().exchange_delete(exchange)
        connection.close()


async def test_objects_can_be_put_listed_read_and_removed(api):
    await upload(api, "files-bucket", "dir/a b.txt", b"content")
    listing = await (await api.request("GET", "/v1/objects/files-bucket?prefix=dir/")).json()
    assert [o["key"] for o in listing["objects"]] == ["dir/a b.txt"]
    read = await api.request("GET", "/v1/objects/files-bucket/dir/a%20b.txt")
    assert await read.read() == b"content"
    assert (await api.request("DELETE", "/v1/objects/files-bucket/dir/a%20b.txt")).status == 204
    missing = await api.request("GET", "/v1/objects/files-bucket/dir/a%20b.txt")
    assert missing.status == 404
