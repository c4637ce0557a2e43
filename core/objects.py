"""The object store: the `minio` SDK over any S3 API, behind Sluice's own errors."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from core.errors import Conflict, Invalid, NotFound, StorageError, Unavailable
from core.settings import S3Settings

_MISSING = ("NoSuchKey", "NoSuchBucket", "NoSuchObject")


MAX_ETAG = 128


def normalize_etag(etag: Any) -> str | None:
    """An ETag as Sluice compares them: unquoted, lowercase; None when there is none, or
    when what stands for one is no ETag (over 128 characters, or not visible ASCII)."""
    if not isinstance(etag, str):
        return None
    etag = etag.strip('"').lower()
    if not etag or len(etag) > MAX_ETAG or not all("!" <= c <= "~" for c in etag):
        return None
    return etag


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    etag: str
    size: int
    content_type: str
    metadata: dict[str, str]


class ObjectStore:
    def __init__(self, settings: S3Settings):
        url = urllib.parse.urlsplit(settings.url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise StorageError(f"SLUICE_S3_URL must be an http(s) URL, not {settings.url!r}")
        self.endpoint = settings.url
        http = urllib3.PoolManager(
            maxsize=32, timeout=urllib3.Timeout(connect=5, read=120),
            retries=urllib3.Retry(total=3, backoff_factor=0.2,
                                  status_forcelist=(500, 502, 503, 504)))
        self.client = Minio(
            url.netloc, secure=url.scheme == "https", region=settings.region, http_client=http,
            access_key=settings.access_key.reveal() if settings.access_key else None,
            secret_key=settings.secret_key.reveal() if settings.secret_key else None)
        self._buckets: set[str] = set()

    def __repr__(self) -> str:
        return f"ObjectStore({self.endpoint!r})"

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket unless it exists; each bucket is checked once per instance."""
        if bucket in self._buckets:
            return
        with _errors(bucket):
            if not self.client.bucket_exists(bucket):
                try:
                    self.client.make_bucket(bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
        self._buckets.add(bucket)

    def ensure_folder(self, bucket: str, prefix: str) -> None:
        """A zero-byte `prefix/` marker, so that listings show the folder before it fills."""
        folder = prefix.rstrip("/") + "/"
        with _errors(bucket, folder):
            self.client.put_object(bucket, folder, io.BytesIO(b""), 0)

    def put_bytes(self, bucket: str, key: str, data: bytes,
                  content_type: str = "application/octet-stream") -> str:
        """Upload bytes; returns the ETag."""
        with _errors(bucket, key):
            return self.client.put_object(bucket, key, io.BytesIO(data), len(data),
                                          content_type=content_type).etag

    def put_file(self, bucket: str, key: str, path: Path,
                 content_type: str = "application/octet-stream",
                 metadata: dict[str, str] | None = None) -> str:
        """Upload a file; returns its ETag. A file that cannot be read is `Invalid`, not the
        object store's failure."""
        try:
            file = open(path, "rb")
        except OSError as exc:
            raise Invalid(f"{path.name} cannot be read: {exc.strerror}") from exc
        with file, _errors(bucket, key):
            return self.client.put_object(bucket, key, file, os.fstat(file.fileno()).st_size,
                                          content_type=content_type, metadata=metadata).etag

    def get_bytes(self, bucket: str, key: str, etag: str = "") -> bytes:
        """The object's bytes; with `etag`, only while it is still that version (Conflict
        once something else was written there)."""
        with _errors(bucket, key):
            response = self.client.get_object(bucket, key, request_headers=_if_match(etag))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def download(self, bucket: str, key: str, path: Path, chunk: int = 256 * 1024) -> int:
        """Write the object to `path` with one request (the SDK's `fget_object` makes two,
        and a temporary file); returns its size. A local file that cannot be written (a
        full disk) is `Unavailable` too, but says so."""
        with _errors(bucket, key):
            response = self.client.get_object(bucket, key)
        try:
            with _writing(path):
                file = open(path, "wb")
            with file:
                for data in _received(response.stream(chunk), bucket, key):
                    with _writing(path):
                        file.write(data)
        finally:
            response.close()
            response.release_conn()
        return path.stat().st_size

    def stream(self, bucket: str, key: str, chunk: int = 256 * 1024, etag: str = ""
               ) -> Iterator[bytes]:
        with _errors(bucket, key):
            response = self.client.get_object(bucket, key, request_headers=_if_match(etag))
        try:
            yield from _received(response.stream(chunk), bucket, key)
        finally:
            response.close()
            response.release_conn()

    def presign(self, bucket: str, key: str, expires: int = 3600) -> str:
        with _errors(bucket, key):
            return self.client.presigned_get_object(
                bucket, key, expires=datetime.timedelta(seconds=expires))

    def delete(self, bucket: str, key: str) -> None:
        with _errors(bucket, key):
            self.client.remove_object(bucket, key)

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, str, int]]:
        """(key, ETag, size) of every object under the prefix, in key order."""
        with _errors(bucket):
            for item in self.client.list_objects(bucket, prefix, recursive=True):
                yield item.object_name, normalize_etag(item.etag) or "", item.size or 0

    def stat(self, bucket: str, key: str) -> ObjectInfo:
        with _errors(bucket, key):
            info = self.client.stat_object(bucket, key)
        metadata = {k.lower().removeprefix("x-amz-meta-"): v
                    for k, v in (info.metadata or {}).items()
                    if k.lower().startswith("x-amz-meta-")}
        return ObjectInfo(etag=normalize_etag(info.etag) or "", size=info.size or 0,
                          content_type=info.content_type or "application/octet-stream",
                          metadata=metadata)


def _if_match(etag: str) -> dict[str, str] | None:
    return {"If-Match": f'"{etag}"'} if etag else None


@contextlib.contextmanager
def _writing(path: Path):
    """A local file's errors as Sluice's: the worker cannot write its scratch directory
    (a full disk), which another worker, or this one later, may."""
    try:
        yield
    except OSError as exc:
        raise Unavailable(f"the worker cannot write {path.name}: {exc.strerror}") from exc


def _received(chunks: Iterator[bytes], bucket: str, key: str) -> Iterator[bytes]:
    """The chunks of an answer, with a connection lost half way as Sluice's error."""
    iterator = iter(chunks)
    while True:
        with _errors(bucket, key):
            data = next(iterator, None)
        if data is None:
            return
        yield data


class _errors:
    """Translate the SDK's and urllib3's errors into Sluice's, naming the object. Only
    network calls run inside it: an OSError here is a connection's."""

    def __init__(self, bucket: str, key: str | None = None):
        self.where = f"{bucket}/{key}" if key is not None else bucket

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, S3Error):
            if exc.code in _MISSING:
                raise NotFound(f"object {self.where!r} does not exist") from exc
            if exc.code == "PreconditionFailed":
                raise Conflict(f"object {self.where!r} was written again since") from exc
            raise StorageError(f"object store refused {self.where!r}: {exc.code}") from exc
        if isinstance(exc, urllib3.exceptions.MaxRetryError) \
                and isinstance(exc.reason, urllib3.exceptions.ResponseError):
            raise Unavailable(f"the object store kept failing on {self.where!r} (server "
                              "errors; its log says why)") from exc
        if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
            raise Unavailable(f"object store unreachable while accessing {self.where!r}") from exc
        if isinstance(exc, MinioException):
            raise StorageError(f"object store error on {self.where!r}") from exc
        return False
