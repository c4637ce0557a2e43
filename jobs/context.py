"""`JobContext`: what the job model's use cases need, built from settings in one place for
every process (gateway, listener, worker)."""

from __future__ import annotations

import dataclasses

from broker.events import Events
from broker.publishing import Broker, JobPublisher
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.objects import ObjectStore
from core.settings import Settings
from core.store import JobStore
from jobs.finishing import Finisher
from jobs.redriving import Redriver
from jobs.routing import EventRouter
from jobs.scanning import Scanner
from jobs.scheduling import Schedules
from jobs.submission import JobSubmitter


@dataclasses.dataclass(frozen=True)
class JobContext:
    settings: Settings
    store: JobStore
    objects: ObjectStore
    blobs: Blobs
    catalog: FunctionCatalog
    publisher: JobPublisher
    submitter: JobSubmitter
    router: EventRouter
    scanner: Scanner
    finisher: Finisher
    redriver: Redriver
    schedules: Schedules
    events: Events

    @classmethod
    def build(cls, settings: Settings, *, broker: Broker, events: Events,
              objects: ObjectStore | None = None) -> JobContext:
        """Connect to the job store and the object store (`objects` replaces the latter,
        for the tests that run without one) and wire the use cases over them."""
        store = JobStore(settings.database_url)
        objects = objects if objects is not None else ObjectStore(settings.s3)
        blobs = Blobs(store, objects, settings.s3.system_bucket, settings.inline_max)
        catalog = FunctionCatalog(store)
        publisher = JobPublisher(broker, settings.queue)
        submitter = JobSubmitter(store, blobs, publisher)
        router = EventRouter(catalog, objects, submitter, settings.max_chain_depth)
        return cls(settings=settings, store=store, objects=objects, blobs=blobs,
                   catalog=catalog, publisher=publisher, submitter=submitter, router=router,
                   scanner=Scanner(router, objects, store),
                   finisher=Finisher(store, events, catalog, submitter),
                   redriver=Redriver(store, catalog, submitter),
                   schedules=Schedules(store, catalog, submitter), events=events)

    def prepare(self) -> None:
        """Bring the store's schema up to date and make the system bucket: each process
        does it at start, and doing it twice is harmless."""
        self.store.migrate()
        self.objects.ensure_bucket(self.settings.s3.system_bucket)
        self.submitter.pending.start()

    def close(self) -> None:
        self.submitter.pending.stop()
        self.store.close()
