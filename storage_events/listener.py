"""A listener process (`sluice listener`): routes object events from every queued source
to jobs, runs the reconciliation scans and fires the schedules."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from broker.events import Events, QueueConsumer
from broker.publishing import Broker
from core.events import ObjectEvent, parse_s3_notification
from core.objects import ObjectStore
from core.settings import Settings
from jobs.context import JobContext
from storage_events.reconciling import Reconciler
from storage_events.scheduler import Scheduler

log = logging.getLogger(__name__)


class Listener:
    def __init__(self, settings: Settings, broker: Broker, events: Events, *,
                 objects: ObjectStore | None = None, clock: Callable[[], float] = time.time):
        self.settings, self.events = settings, events
        self.context = JobContext.build(settings, broker=broker, events=events, objects=objects)
        self.reconciler = Reconciler(self.context.catalog, self.context.scanner)
        self.scheduler = Scheduler(self.context.schedules, clock)
        self._stops = []

    def start(self) -> None:
        self.context.prepare()
        self._stops.append(self.events.subscribe_objects(self.route))
        if self.settings.s3_events_exchange:
            consumer = self._s3_events_consumer(self.settings.s3_events_exchange)
            consumer.start()
            self._stops.append(consumer.stop)
        self.reconciler.start()
        self.scheduler.start()
        log.info("listener started")

    def route(self, event: ObjectEvent) -> None:
        jobs = self.context.router.route(event)
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

        def deliver(document: Any) -> None:
            for event in parse_s3_notification(document):
                self.route(event)
        return QueueConsumer(self.settings.broker_url, declare, deliver, ack=True,
                             name="sluice-s3-events")

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()
        self.reconciler.stop()
        self.scheduler.stop()
        self.context.close()
