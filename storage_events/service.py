"""The listener (`sluice listener`): routes object events from every queued source to jobs,
and runs the reconciliation scans."""

from __future__ import annotations

import json
import logging

from broker.events import Events, QueueConsumer
from broker.publishing import JobPublisher
from broker.routing import EventRouter
from broker.submission import JobSubmitter
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.errors import Invalid
from core.events import ObjectEvent, parse_s3_notification
from core.objects import ObjectStore
from core.settings import Settings
from core.store import JobStore
from storage_events.reconciling import Reconciler

log = logging.getLogger(__name__)


class ListenerService:
    def __init__(self, settings: Settings, publisher: JobPublisher, events: Events):
        self.settings, self.events = settings, events
        self.store = JobStore(settings.database_url)
        self.objects = ObjectStore(settings.s3)
        submitter = JobSubmitter(
            self.store, Blobs(self.store, self.objects, settings.s3.system_bucket,
                              settings.inline_max),
            publisher)
        self.router = EventRouter(FunctionCatalog(self.store), self.objects, submitter,
                                  settings.max_chain_depth)
        self.reconciler = Reconciler(self.router)
        self._stops = []

    def start(self) -> None:
        self.store.migrate()
        self._stops.append(self.events.subscribe_objects(self.route))
        if self.settings.s3_events_exchange:
            consumer = self._s3_events_consumer(self.settings.s3_events_exchange)
            consumer.start()
            self._stops.append(consumer.stop)
        self.reconciler.start()
        log.info("listener started")

    def route(self, event: ObjectEvent) -> None:
        jobs = self.router.route(event)
        if jobs:
            log.debug("%s/%s started %s", event.bucket, event.key, [j.id for j in jobs])

    def _s3_events_consumer(self, exchange: str) -> QueueConsumer:
        """S3 event notifications that MinIO's AMQP target publishes on `exchange`."""
        queue = f"{self.settings.queue}-s3"

        def declare(channel) -> str:
            channel.exchange_declare(exchange, exchange_type="topic", durable=True)
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, exchange, routing_key="#")
            return queue

        def deliver(body: bytes) -> None:
            try:
                document = json.loads(body)
            except ValueError:
                raise Invalid("an S3 event notification must be JSON") from None
            for event in parse_s3_notification(document):
                self.route(event)
        return QueueConsumer(self.settings.broker_url, declare, deliver, ack=True,
                             name="sluice-s3-events")

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()
        self.reconciler.stop()
        self.store.close()
