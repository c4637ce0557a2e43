"""Scanning a function's inputs (SCAR's `run`): one job per object already there that has
none yet. Objects are looked up a page at a time, so that a rescan of a folder already
processed costs one query a page rather than a write per object."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

from core import metrics
from core.errors import Invalid
from core.events import ObjectEvent
from core.functions import Function
from core.jobs import Trigger
from core.keys import check_key
from core.objects import ObjectStore
from core.store import JobStore
from jobs.routing import EventRouter

SCAN_PAGE = 500


@dataclasses.dataclass
class ScanProgress:
    listed: int = 0
    submitted: int = 0
    existing: int = 0
    refused: int = 0


class Scanner:
    def __init__(self, router: EventRouter, objects: ObjectStore, store: JobStore):
        self.router, self.objects, self.store = router, objects, store

    def scan(self, fn: Function) -> Iterator[ScanProgress]:
        """Submit the jobs, yielding the progress after each object."""
        progress = ScanProgress()
        for spec in fn.input or ():
            listing = self.objects.list_objects(spec.bucket, spec.prefix)
            for page in _pages(listing, SCAN_PAGE):
                events = [ObjectEvent(bucket=spec.bucket, key=key, etag=etag, size=size,
                                      source="scan", depth=0)
                          for key, etag, size in page
                          if not key.endswith("/") and spec.matches(spec.bucket, key)]
                keys = [event.idempotency_key(fn.name) for event in events]
                known = self.store.existing_keys(keys)
                for event, key in zip(events, keys):
                    progress.listed += 1
                    if not _safe(event.key):
                        progress.refused += 1
                    elif key in known:
                        metrics.EVENTS.labels("scan", "duplicate").inc()
                        progress.existing += 1
                    elif self.router.submit(fn, event, Trigger.SCAN) is None:
                        progress.existing += 1
                    else:
                        progress.submitted += 1
                    yield progress


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
