"""Event payloads as AWS S3, MinIO and SeaweedFS send them, parsed field by field."""

import json
from pathlib import Path

import pytest

from core.errors import Invalid
from core.events import parse_s3_notification, parse_seaweedfs_webhook

RECORDED = Path(__file__).parents[2] / "fixtures" / "events"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def test_aws_put_notification():
    [event] = parse_s3_notification(recorded("aws-put"))
    assert event.bucket == "photos"
    assert event.key == "holiday/beach day über+1.jpg"
    assert event.etag == "d41d8cd98f00b204e9800998ecf8427e"
    assert event.version == "096fKKXTRTtl3on89fVO.nfljtsv6qko"
    assert event.size == 1024 and event.depth is None
    assert event.idempotency_key("thumb") == \
        "thumb:s3:photos/holiday/beach day über+1.jpg#096fKKXTRTtl3on89fVO.nfljtsv6qko"
    assert event.to_dict()["s3"]["object"]["sequencer"] == "0055AED6DCD90281E5"


def test_minio_webhook_notification():
    [event] = parse_s3_notification(recorded("minio-put"))
    assert (event.bucket, event.key) == ("photos", "in/cat picture.png")
    assert event.etag == "9b2cf535f27731c974343645a3985328"
    assert event.version is None and event.size == 2048
    assert event.idempotency_key("f").endswith("#9b2cf535f27731c974343645a3985328")


def test_removals_and_test_events_start_nothing():
    assert parse_s3_notification(recorded("aws-delete")) == []
    assert parse_s3_notification({}) == []


@pytest.mark.parametrize("document", [
    [], {"Records": "x"}, {"Records": [1]}, {"Records": [{"eventName": "ObjectCreated:Put"}]},
    {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
                                                          "object": {"key": 3}}}]},
])
def test_unreadable_notifications_are_refused(document):
    with pytest.raises(Invalid):
        parse_s3_notification(document)


def test_seaweedfs_filer_create():
    event = parse_seaweedfs_webhook(recorded("seaweedfs-create"))
    assert (event.bucket, event.key) == ("bkt1", "in/a b+ü.txt")
    assert event.etag == "5d41402abc4b2a76b9719d911017c592"
    assert event.size == 5 and event.source == "seaweedfs"


def test_seaweedfs_directories_and_system_entries_are_ignored():
    assert parse_seaweedfs_webhook(recorded("seaweedfs-directory")) is None
    system = recorded("seaweedfs-create") | {"key": "/buckets/.system/owners/x"}
    assert parse_seaweedfs_webhook(system) is None
    deleted = recorded("seaweedfs-create") | {"event_type": "delete"}
    assert parse_seaweedfs_webhook(deleted) is None
    with pytest.raises(Invalid):
        parse_seaweedfs_webhook({"event_type": "create"})


def test_the_chain_depth_comes_with_seaweedfs_and_minio_events():
    from_sluice = recorded("seaweedfs-create")
    from_sluice["message"]["new_entry"]["extended"]["X-Amz-Meta-Sluice-Depth"] = "Mg=="
    assert parse_seaweedfs_webhook(from_sluice).depth == 2
    assert parse_seaweedfs_webhook(recorded("seaweedfs-create")).depth == 0
    [minio] = parse_s3_notification(recorded("minio-put"))
    assert minio.depth == 0
    [aws] = parse_s3_notification(recorded("aws-put"))
    assert aws.depth is None
