"""Bytes that belong to a job (its input, its captured output): small ones live in the job
store, larger ones in the system bucket. A reference names where: `db:KEY` or `s3:BUCKET/KEY`."""

from __future__ import annotations

from core.objects import ObjectStore
from core.store import JobStore


class Blobs:
    def __init__(self, store: JobStore, objects: ObjectStore, bucket: str, inline_max: int):
        self.store, self.objects = store, objects
        self.bucket, self.inline_max = bucket, inline_max

    def ref_for(self, key: str, size: int) -> str:
        return f"db:{key}" if size <= self.inline_max else f"s3:{self.bucket}/{key}"

    def prepare(self, key: str, data: bytes) -> tuple[str | None, dict[str, bytes]]:
        """Place `data`: a large one is written to the object store now; a small one is
        returned as `{key: data}` for the caller to write in its own job-store transaction,
        so that recording an outcome stays one commit. Empty data needs no blob at all."""
        if not data:
            return None, {}
        ref = self.ref_for(key, len(data))
        if ref.startswith("db:"):
            return ref, {key: data}
        self._write(ref, data)
        return ref, {}

    def ready(self) -> None:
        """Make the system bucket unless this process has; `Unavailable` while the object
        store is out of reach. Checked before each write, since a process may start before
        the object store does (once made, checking costs nothing)."""
        self.objects.ensure_bucket(self.bucket)

    def _write(self, ref: str, data: bytes) -> None:
        self.ready()
        self.objects.put_bytes(*_object(ref), data)

    def get(self, ref: str) -> bytes:
        if ref.startswith("db:"):
            return self.store.get_blob(ref.removeprefix("db:"))
        return self.objects.get_bytes(*_object(ref))

    def in_object_store(self, ref: str) -> tuple[str, str]:
        """Where the blob is in the object store (bucket, key); one kept in the job store is
        copied to the system bucket, under the same key, first."""
        if not ref.startswith("db:"):
            return _object(ref)
        key = ref.removeprefix("db:")
        self.ready()
        self.objects.put_bytes(self.bucket, key, self.store.get_blob(key))
        return self.bucket, key


def _object(ref: str) -> tuple[str, str]:
    bucket, _, key = ref.removeprefix("s3:").partition("/")
    return bucket, key
