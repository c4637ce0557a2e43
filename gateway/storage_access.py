"""The service layer's part that reaches the object store for its callers: objects, the
storage servers' notifications, scans of what is already stored, and where OSCAR's clients
find the store. A mixin of `Service`, whose pool, object store and job context it uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from core.errors import Invalid
from core.events import parse_s3_notification, parse_seaweedfs_webhook
from core.functions import Function
from core.keys import check_key
from core.objects import ObjectInfo, ObjectStore
from core.settings import Settings
from gateway.auth import Caller
from jobs.context import JobContext
from jobs.scanning import ScanProgress

# What the face reads from the request (its body or document) when the service asks: after
# the caller is known to be allowed.
Reader = Callable[[], Awaitable[Any]]


class StorageAccess:
    settings: Settings
    objects: ObjectStore
    context: JobContext
    _run: Callable[..., Awaitable[Any]]
    _iterate: Callable[..., AsyncIterator]
    get_function: Callable[[Caller, str], Awaitable[Function]]

    async def client_store(self, caller: Caller) -> dict[str, Any]:
        """Where clients reach the object store, and with which keys: for the admin only."""
        caller.require_admin()
        s3 = self.settings.s3
        return {"endpoint": s3.client_url, "region": s3.region,
                "access_key": s3.access_key.reveal() if s3.access_key else "",
                "secret_key": s3.secret_key.reveal() if s3.secret_key else ""}

    # -- objects --------------------------------------------------------------------------

    async def list_objects(self, caller: Caller, bucket: str, prefix: str
                           ) -> list[tuple[str, str, int]]:
        caller.require_admin()
        return await self._run(lambda: list(self.objects.list_objects(bucket, prefix)))

    async def put_object(self, caller: Caller, bucket: str, key: str, read: Reader,
                         content_type: str) -> tuple[str, int]:
        """Store the object `read` gives, once the caller may; returns its ETag and size."""
        caller.require_admin()
        check_key(key)
        body = await read()
        await self._run(self.objects.ensure_bucket, bucket)
        return await self._run(self.objects.put_bytes, bucket, key, body, content_type), len(body)

    async def open_object(self, caller: Caller, bucket: str, key: str
                          ) -> tuple[ObjectInfo, AsyncIterator[bytes]]:
        caller.require_admin()
        check_key(key)
        info = await self._run(self.objects.stat, bucket, key)
        chunks = await self._run(self.objects.stream, bucket, key)
        return info, self._iterate(chunks)

    async def delete_object(self, caller: Caller, bucket: str, key: str) -> None:
        caller.require_admin()
        check_key(key)
        await self._run(self.objects.delete, bucket, key)

    # -- storage events -------------------------------------------------------------------

    async def route_notification(self, caller: Caller, source: str, read: Reader
                                 ) -> tuple[int, list[str]]:
        """Start the jobs that a storage server's notification (`s3` or `seaweedfs`, read
        once the caller may send it) triggers; returns how many events it held and the new
        jobs' ids. Objects whose keys no function may be given are refused together, after
        the others were routed."""
        caller.require_event_sender()
        document = await read()
        if source == "s3":
            events = parse_s3_notification(document)
        else:
            events = [e for e in [parse_seaweedfs_webhook(document)] if e is not None]
        started, refused = [], []
        for event in events:
            try:
                jobs = await self._run(self.context.router.route, event)
            except Invalid as exc:
                refused.append({"path": f"{event.bucket}/{event.key}", "message": exc.detail})
                continue
            started.extend(job.id for job in jobs)
        if refused:
            raise Invalid(f"{len(refused)} object(s) refused; the others were processed",
                          errors=refused)
        return len(events), started

    async def scan(self, caller: Caller, name: str) -> AsyncIterator[ScanProgress]:
        """One job per object already under the function's inputs, with the progress after
        each object."""
        fn = await self.get_function(caller, name)
        return self._iterate(self.context.scanner.scan(fn))
