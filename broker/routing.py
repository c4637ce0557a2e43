"""Routing object events to the functions they trigger, and scanning a function's inputs
(SCAR's `run`): one job per function per object version, whichever source saw it first."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterable, Iterator

from broker.submission import JobSubmitter
from core import metrics
from core.catalog import FunctionCatalog
from core.errors import Invalid, NotFound
from core.events import ObjectEvent, parse_depth
from core.functions import Function
from core.jobs import Job, Trigger
from core.keys import check_key
from core.objects import ObjectStore

log = logging.getLogger(__name__)
SCAN_PAGE = 500


@dataclasses.dataclass
class ScanProgress:
    listed: int = 0
    submitted: int = 0
    existing: int = 0
    refused: int = 0


class EventRouter:
    def __init__(self, catalog: FunctionCatalog, objects: ObjectStore,
                 submitter: JobSubmitter, max_depth: int):
        self.catalog, self.objects, self.submitter = catalog, objects, submitter
        self.max_depth = max_depth

    def route(self, event: ObjectEvent) -> list[Job]:
        """Submit a job for every function the event triggers; returns the new jobs.
        Raises Invalid for a key no function may be given (`..`, NUL, absolute)."""
        if event.key.endswith("/"):
            return []
        targets = self._targets(event, self.functions())
        if not targets:
            # The cached list may predate a function deployed a moment ago.
            targets = self._targets(event, self.functions(fresh=True))
        if not targets:
            return []
        check_key(event.key)
        if event.depth is None or event.etag is None:
            event = self._completed(event)
            if event is None:
                return []
        jobs = []
        for fn in targets:
            job = self._submit(fn, event, Trigger.CHAIN if event.depth else Trigger.STORAGE)
            if job is not None:
                jobs.append(job)
        return jobs

    def scan(self, fn: Function) -> Iterator[ScanProgress]:
        """Submit one job per object already under the function's inputs, yielding progress
        after each object. Objects are looked up a page at a time, so that a rescan of a
        folder already processed costs one query a page rather than a write per object."""
        progress = ScanProgress()
        for spec in fn.input or ():
            listing = self.objects.list_objects(spec.bucket, spec.prefix)
            for page in _pages(listing, SCAN_PAGE):
                events = [ObjectEvent(bucket=spec.bucket, key=key, etag=etag, size=size,
                                      source="scan", depth=0)
                          for key, etag, size in page
                          if not key.endswith("/") and spec.matches(spec.bucket, key)]
                keys = [event.idempotency_key(fn.name) for event in events]
                known = self.submitter.store.existing_keys(keys)
                for event, key in zip(events, keys):
                    progress.listed += 1
                    if not _safe(event.key):
                        progress.refused += 1
                    elif key in known:
                        metrics.EVENTS.labels("scan", "duplicate").inc()
                        progress.existing += 1
                    elif self._submit(fn, event, Trigger.SCAN) is None:
                        progress.existing += 1
                    else:
                        progress.submitted += 1
                    yield progress

    def functions(self, *, fresh: bool = False) -> list[Function]:
        return self.catalog.all(fresh=fresh)

    @staticmethod
    def _targets(event: ObjectEvent, functions: list[Function]) -> list[Function]:
        return [fn for fn in functions
                if any(i.matches(event.bucket, event.key) for i in fn.input or ())]

    def _submit(self, fn: Function, event: ObjectEvent, trigger: Trigger) -> Job | None:
        depth = event.depth or 0
        limit = min(self.max_depth, fn.guard_depth or self.max_depth)
        if depth >= limit:
            log.warning("not starting %s for %s/%s: chain depth %d reached its limit %d",
                        fn.name, event.bucket, event.key, depth, limit)
            metrics.EVENTS.labels(event.source, "depth-limit").inc()
            return None
        job, created = self.submitter.submit(
            fn, trigger=trigger, source=event, depth=depth,
            idempotency_key=event.idempotency_key(fn.name))
        metrics.EVENTS.labels(event.source, "submitted" if created else "duplicate").inc()
        return job if created else None

    def _completed(self, event: ObjectEvent) -> ObjectEvent | None:
        """Fill in what the source did not say (ETag, size, chain depth) from the object
        itself; None when the object is already gone."""
        try:
            info = self.objects.stat(event.bucket, event.key)
        except NotFound:
            metrics.EVENTS.labels(event.source, "gone").inc()
            return None
        return dataclasses.replace(
            event, etag=event.etag or info.etag, size=event.size or info.size,
            depth=event.depth if event.depth is not None
            else parse_depth(info.metadata.get("sluice-depth")))


def _safe(key: str) -> bool:
    try:
        check_key(key)
    except Invalid:
        return False
    return True


def _pages(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while page := list(itertools.islice(iterator, size)):
        yield page
