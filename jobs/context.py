"""`JobContext`: what the job model's use cases need, built from settings in one place for
every process (gateway, listener, worker)."""

from __future__ import annotations

import dataclasses
import logging

from broker.events import Events
from broker.publishing import Broker, JobPublisher
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.errors import Unavailable
from core.objects import ObjectStore
from core.periodic import Periodic
from core.settings import Settings
from core.store import JobStore
from jobs.finishing import Finisher
from jobs.redriving import Redriver
from jobs.routing import EventRouter
from jobs.scanning import Scanner
from jobs.scheduling import Schedules
from jobs.submission import JobSubmitter

log = logging.getLogger(__name__)
BUCKET_RETRY_SECONDS = 5.0


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
    bucket_maker: Periodic

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

        def make_bucket() -> None:
            blobs.ready()
            log.info("the object store is reachable: system bucket %s ready", blobs.bucket)
            bucket_maker.stopping.set()
        bucket_maker = Periodic("sluice-system-bucket", BUCKET_RETRY_SECONDS, make_bucket)
        return cls(settings=settings, store=store, objects=objects, blobs=blobs,
                   catalog=catalog, publisher=publisher, submitter=submitter, router=router,
                   scanner=Scanner(router, objects, store),
                   finisher=Finisher(store, events, catalog, submitter,
                                     settings.max_chain_depth),
                   redriver=Redriver(store, catalog, submitter),
                   schedules=Schedules(store, catalog, submitter), events=events,
                   bucket_maker=bucket_maker)

    def prepare(self) -> None:
        """Bring the store's schema up to date and make the system bucket: each process
        does it at start, and doing it twice is harmless. A process starts all the same
        while the object store is out of reach, and makes the bucket in the background
        once it is back (or sooner, on its first write there): what needs the object store
        meanwhile fails as `Unavailable`, which each caller treats as passing."""
        self.store.migrate()
        try:
            self.blobs.ready()
        except Unavailable as exc:
            log.warning("%s; starting all the same, trying again every %.0f s", exc.detail,
                        BUCKET_RETRY_SECONDS)
            self.bucket_maker.start()
        self.submitter.pending.start()

    def close(self) -> None:
        self.bucket_maker.stop()
        self.submitter.pending.stop()
        self.store.close()
