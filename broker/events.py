"""Completion events: workers publish `job.finished.<function>` on a topic exchange; each
gateway process consumes them on its own exclusive queue to wake its waiters. An in-process
variant serves the one-process stack. Events only hurry waiters along: they re-read the store."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Protocol

import pika

log = logging.getLogger(__name__)

EXCHANGE = "sluice.events"
Listener = Callable[[dict], None]


class Events(Protocol):
    def publish_finished(self, job_id: str, function: str, status: str) -> None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each event until the returned function is called."""


class RabbitEvents:
    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()

    def __repr__(self) -> str:
        return "RabbitEvents()"

    def publish_finished(self, job_id: str, function: str, status: str) -> None:
        body = json.dumps({"type": "job.finished", "id": job_id, "function": function,
                           "status": status}).encode()
        for attempt in range(2):
            try:
                self._channel().basic_publish(EXCHANGE, f"job.finished.{function}", body)
                return
            except pika.exceptions.AMQPError:
                self._local.channel = None
                if attempt:
                    log.warning("could not publish completion of job %s; waiters will see it "
                                "when they re-read the store", job_id)

    def _channel(self):
        channel = getattr(self._local, "channel", None)
        if channel is None or channel.is_closed:
            connection = pika.BlockingConnection(pika.URLParameters(self.url))
            channel = connection.channel()
            channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
            self._local.channel = channel
        return channel

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        consumer = _Consumer(self.url, listener)
        consumer.start()
        return consumer.stop


class _Consumer(threading.Thread):
    """Consumes events on an exclusive, auto-deleted queue; reconnects until stopped."""

    def __init__(self, url: str, listener: Listener):
        super().__init__(name="sluice-events", daemon=True)
        self.url, self.listener = url, listener
        self.stopping = threading.Event()
        self.connection: pika.BlockingConnection | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.connection = pika.BlockingConnection(pika.URLParameters(self.url))
                channel = self.connection.channel()
                channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
                queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
                channel.queue_bind(queue, EXCHANGE, routing_key="job.finished.#")
                channel.basic_consume(queue, self._deliver, auto_ack=True)
                while not self.stopping.is_set():
                    self.connection.process_data_events(time_limit=0.5)
            except pika.exceptions.AMQPError as exc:
                log.warning("completion events interrupted (%s); reconnecting",
                            exc.__class__.__name__)
                self.stopping.wait(1.0)
        if self.connection and self.connection.is_open:
            self.connection.close()

    def _deliver(self, _channel, _method, _properties, body: bytes) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            return
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            self.listener(event)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class LocalEvents:
    """Events within one process, for the stack that runs without RabbitMQ."""

    def __init__(self):
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def publish_finished(self, job_id: str, function: str, status: str) -> None:
        event = {"type": "job.finished", "id": job_id, "function": function, "status": status}
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.remove(listener)
        return unsubscribe
