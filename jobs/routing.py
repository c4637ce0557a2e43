"""Routing object events to the functions they trigger: one job per function per object
version, whichever source saw it first, and no deeper in a chain than its limit."""

from __future__ import annotations

import dataclasses
import logging

from core import metrics
from core.catalog import FunctionCatalog
from core.errors import NotFound
from core.events import ObjectEvent, parse_depth
from core.functions import Function
from core.jobs import Job, Trigger
from core.keys import check_key
from core.objects import ObjectStore
from jobs.submission import JobSubmitter

log = logging.getLogger(__name__)


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
        targets = self._targets(event, self.catalog.all())
        if not targets:
            # The cached list may predate a function deployed a moment ago.
            targets = self._targets(event, self.catalog.all(fresh=True))
        if not targets:
            return []
        check_key(event.key)
        if event.depth is None or event.etag is None:
            event = self._completed(event)
            if event is None:
                return []
        jobs = []
        for fn in targets:
            job = self.submit(fn, event, Trigger.CHAIN if event.depth else Trigger.STORAGE)
            if job is not None:
                jobs.append(job)
        return jobs

    def submit(self, fn: Function, event: ObjectEvent, trigger: Trigger) -> Job | None:
        """The job of `fn` for the object, unless the object already has one or the chain
        that made it is as deep as it may go; None then."""
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

    @staticmethod
    def _targets(event: ObjectEvent, functions: list[Function]) -> list[Function]:
        return [fn for fn in functions
                if any(i.matches(event.bucket, event.key) for i in fn.input or ())]

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
