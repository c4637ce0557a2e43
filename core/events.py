"""Object-created events from any source, in one shape. Parsers for S3 event notifications
(as AWS S3 and MinIO send them) and SeaweedFS filer webhooks; both refuse what they cannot
read with `Invalid`, naming the field."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from core.errors import Invalid
from core.objects import normalize_etag

# User metadata Sluice writes on every output: how many functions made it, in a row.
DEPTH_HEADER = "X-Amz-Meta-Sluice-Depth"
_DEPTH = re.compile(r"^[0-9]{1,6}$")
MAX_SIZE = 2**63
MAX_VERSION = 255
MAX_IDEMPOTENCY_KEY = 1024


@dataclasses.dataclass(frozen=True)
class ObjectEvent:
    """An object appeared (or changed) at `bucket`/`key`. `depth` is how many functions
    produced it in a row (None when the source cannot tell; the object's metadata can)."""

    bucket: str
    key: str
    etag: str | None
    version: str | None = None
    size: int | None = None
    source: str = "s3"
    depth: int | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def version_tag(self) -> str:
        return self.version or self.etag or ""

    def idempotency_key(self, function: str) -> str:
        """One job per function per object version, whichever source saw it first. A long
        key is hashed, so that every key fits the store's column."""
        key = f"{function}:s3:{self.bucket}/{self.key}#{self.version_tag}"
        if len(key) <= MAX_IDEMPOTENCY_KEY:
            return key
        return f"{function}:s3:sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def to_dict(self) -> dict[str, Any]:
        """The event as a function sees it in `EVENT`."""
        return dict(self.raw) or {"bucket": self.bucket, "key": self.key, "etag": self.etag,
                                  "version": self.version, "size": self.size}


def parse_s3_notification(document: Any) -> list[ObjectEvent]:
    """`{"Records": [...]}` with keys URL-encoded (spaces as '+'); events other than
    ObjectCreated are skipped. MinIO's test event (no Records) gives no events."""
    if not isinstance(document, Mapping):
        raise Invalid("an S3 event notification must be a JSON object with Records")
    records = document.get("Records", [])
    if not isinstance(records, list):
        raise Invalid("Records must be a list", errors=[{"path": "Records",
                                                         "message": "expected a list"}])
    events = []
    for index, record in enumerate(records):
        where = f"Records.{index}"
        if not isinstance(record, Mapping):
            raise Invalid(f"{where} must be an object")
        name = record.get("eventName")
        if not isinstance(name, str):
            raise Invalid(f"{where}.eventName is missing",
                          errors=[{"path": f"{where}.eventName", "message": "required"}])
        if not name.removeprefix("s3:").startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3")
        bucket = s3.get("bucket") if isinstance(s3, Mapping) else None
        obj = s3.get("object") if isinstance(s3, Mapping) else None
        if not isinstance(bucket, Mapping) or not isinstance(obj, Mapping) \
                or not isinstance(bucket.get("name"), str) or not isinstance(obj.get("key"), str):
            raise Invalid(f"{where} must have s3.bucket.name and s3.object.key",
                          errors=[{"path": f"{where}.s3", "message": "bucket name and object "
                                                                     "key required"}])
        metadata, version = obj.get("userMetadata"), obj.get("versionId")
        if version is not None and (not isinstance(version, str) or len(version) > MAX_VERSION):
            raise Invalid(f"{where}.s3.object.versionId must be a string of at most "
                          f"{MAX_VERSION} characters", errors=[{
                              "path": f"{where}.s3.object.versionId", "message": "bad version"}])
        events.append(ObjectEvent(
            bucket=bucket["name"], key=urllib.parse.unquote_plus(obj["key"]),
            etag=normalize_etag(obj.get("eTag") or obj.get("etag")),
            version=version or None, size=_size(obj.get("size")),
            source="s3", raw=record,
            # MinIO sends user metadata (AWS does not): with it the depth needs no lookup.
            depth=parse_depth(metadata.get(DEPTH_HEADER)) if isinstance(metadata, Mapping)
            else None))
    return events


def parse_seaweedfs_webhook(document: Any, buckets_dir: str = "/buckets") -> ObjectEvent | None:
    """A filer webhook; None for what is not a file created under a bucket (directories,
    deletions, SeaweedFS's own `.system` entries)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("key"), str):
        raise Invalid("a SeaweedFS filer event must be a JSON object with a key")
    if document.get("event_type") not in ("create", "update"):
        return None
    message = document.get("message")
    entry = message.get("new_entry") if isinstance(message, Mapping) else None
    if not isinstance(entry, Mapping) or entry.get("is_directory"):
        return None
    path = document["key"]
    if not path.startswith(buckets_dir + "/"):
        return None
    bucket, _, key = path[len(buckets_dir) + 1:].partition("/")
    if not key or bucket.startswith("."):
        return None
    attributes = entry.get("attributes") if isinstance(entry.get("attributes"), Mapping) else {}
    extended = entry.get("extended") if isinstance(entry.get("extended"), Mapping) else {}
    depth = extended.get(DEPTH_HEADER)
    try:
        depth = base64.b64decode(depth).decode() if isinstance(depth, str) else None
    except (binascii.Error, UnicodeDecodeError):
        depth = None
    return ObjectEvent(
        bucket=bucket, key=key, etag=_seaweed_etag(extended, attributes),
        size=_size(attributes.get("file_size")), source="seaweedfs", raw=document,
        depth=parse_depth(depth))


def parse_depth(value: Any) -> int:
    """The chain depth Sluice wrote on an object; objects from anyone else, or with a depth
    that is not a few plain digits, are depth 0."""
    return int(value) if isinstance(value, str) and _DEPTH.match(value) else 0


def _size(value: Any) -> int | None:
    """An object's size as a source gave it, if it is one an object can have."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_SIZE:
        return value
    return None


def _seaweed_etag(extended: Mapping, attributes: Mapping) -> str | None:
    """The S3 ETag SeaweedFS stored, else the hex of the content's MD5."""
    try:
        if isinstance(extended.get("Seaweed-X-Amz-ETag"), str):
            return normalize_etag(base64.b64decode(extended["Seaweed-X-Amz-ETag"]).decode())
        if isinstance(attributes.get("md5"), str):
            return base64.b64decode(attributes["md5"]).hex()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return None
