"""Events on one topic exchange. `job.finished.<function>`: workers tell the gateways that a
job ended, to wake its waiters (they also re-read the store, so a lost event only delays).
Each gateway has its own exclusive queue, bound only to the functions it has waited on, so
that jobs nobody waits for cost the gateways nothing. `object.created`: workers announce the
objects they wrote, durably and confirmed, on one queue that listeners share, so chains work
on any S3 server. An in-process variant serves the one-process stack."""

from __future__ import annotations

import collections
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pika

from core import metrics
from core.errors import Failure, Invalid, Unavailable, classify
from core.events import ObjectEvent

log = logging.getLogger(__name__)

EXCHANGE = "sluice.events"
Listener = Callable[[dict], None]
ObjectListener = Callable[[ObjectEvent], None]


class Subscription(Protocol):
    def follow(self, function: str) -> None:
        """Deliver the finished-job events of `function` from now on; returns once they
        will be (or once the subscription is reconnecting, which binds it again)."""

    def close(self) -> None: ...


class Events(Protocol):
    def publish_finished(self, job_id: str, function: str, status: str) -> None: ...

    def publish_object_created(self, event: ObjectEvent) -> None: ...

    def subscribe(self, listener: Listener) -> Subscription:
        """Call `listener` with each finished-job event of the functions followed, until the
        subscription is closed."""

    def subscribe_objects(self, listener: ObjectListener) -> Callable[[], None]:
        """Call `listener` with each object event; an event whose listener met a passing
        failure (`Unavailable`) is delivered again (see `QueueConsumer`)."""


def object_event_body(event: ObjectEvent) -> bytes:
    return json.dumps({"bucket": event.bucket, "key": event.key, "etag": event.etag,
                       "size": event.size, "depth": event.depth}).encode()


def object_event_from(document: Any) -> ObjectEvent:
    if not isinstance(document, dict) or not isinstance(document.get("bucket"), str) \
            or not isinstance(document.get("key"), str):
        raise Invalid("an object event must be a JSON object with a bucket and a key")
    etag, size, depth = document.get("etag"), document.get("size"), document.get("depth")
    return ObjectEvent(bucket=document["bucket"], key=document["key"],
                       etag=etag if isinstance(etag, str) else None,
                       size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                       depth=depth if isinstance(depth, int) and not isinstance(depth, bool)
                       else None, source="internal")


class RabbitEvents:
    """Events of one stack: `namespace` (its job queue's name) keeps stacks that share a
    RabbitMQ apart."""

    def __init__(self, url: str, namespace: str):
        self.url, self.namespace = url, namespace
        self.objects_queue = f"{namespace}-objects"
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"RabbitEvents({self.namespace!r})"

    def publish_finished(self, job_id: str, function: str, status: str) -> None:
        body = json.dumps({"type": "job.finished", "id": job_id, "function": function,
                           "status": status}).encode()
        try:
            self._publish(f"job.finished.{self.namespace}.{function}", body, confirmed=False)
        except pika.exceptions.AMQPError:
            log.warning("could not publish completion of job %s; waiters will see it when "
                        "they re-read the store", job_id)

    def publish_object_created(self, event: ObjectEvent) -> None:
        """Confirmed by RabbitMQ before returning; raises Unavailable when it was not."""
        try:
            self._publish(f"object.created.{self.namespace}", object_event_body(event),
                          confirmed=True)
        except pika.exceptions.AMQPError as exc:
            raise Unavailable(f"could not publish the creation of {event.bucket}/{event.key}: "
                              f"{exc.__class__.__name__}") from exc

    def _publish(self, routing_key: str, body: bytes, *, confirmed: bool) -> None:
        for attempt in range(2):
            try:
                channel = self._channel(confirmed)
                channel.basic_publish(EXCHANGE, routing_key, body, properties=pika.BasicProperties(
                    delivery_mode=2 if confirmed else 1, content_type="application/json"))
                return
            except pika.exceptions.AMQPError:
                setattr(self._local, "confirmed" if confirmed else "plain", None)
                if attempt:
                    raise

    def _channel(self, confirmed: bool):
        name = "confirmed" if confirmed else "plain"
        channel = getattr(self._local, name, None)
        if channel is None or channel.is_closed:
            channel = pika.BlockingConnection(pika.URLParameters(self.url)).channel()
            channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
            if confirmed:
                # Declared by publishers too: object events wait for a listener that is down.
                self._declare_objects_queue(channel)
                channel.confirm_delivery()
            setattr(self._local, name, channel)
        return channel

    def subscribe(self, listener: Listener) -> Subscription:
        return _FinishedJobs(self.url, self.namespace, listener)

    def subscribe_objects(self, listener: ObjectListener) -> Callable[[], None]:
        def declare(channel) -> str:
            self._declare_objects_queue(channel)
            return self.objects_queue
        consumer = QueueConsumer(self.url, declare,
                                 lambda document: listener(object_event_from(document)),
                                 ack=True, name="sluice-object-events")
        consumer.start()
        return consumer.stop

    def _declare_objects_queue(self, channel) -> None:
        channel.queue_declare(self.objects_queue, durable=True)
        channel.queue_bind(self.objects_queue, EXCHANGE,
                           routing_key=f"object.created.{self.namespace}")


class _FinishedJobs:
    """A queue of this process's own, bound to the functions it follows."""

    def __init__(self, url: str, namespace: str, listener: Listener):
        self.namespace, self.listener = namespace, listener
        self._functions: set[str] = set()
        self._lock = threading.Lock()
        self._following = threading.Lock()
        self._queue = ""
        self._consumer = QueueConsumer(url, self._declare, self._deliver, ack=False,
                                       name="sluice-job-events")
        self._consumer.start()

    def follow(self, function: str) -> None:
        # One at a time, so that a second caller for the same function cannot return before
        # the first one's binding is in place.
        with self._following:
            with self._lock:
                if function in self._functions:
                    return
                self._functions.add(function)
            self._consumer.call(lambda channel: self._bind(channel, function))

    def close(self) -> None:
        self._consumer.stop()

    def _declare(self, channel) -> str:
        self._queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        with self._lock:
            functions = list(self._functions)
        for function in functions:
            self._bind(channel, function)
        return self._queue

    def _bind(self, channel, function: str) -> None:
        channel.queue_bind(self._queue, EXCHANGE,
                           routing_key=f"job.finished.{self.namespace}.{function}")

    def _deliver(self, event: Any) -> None:
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            self.listener(event)


class QueueConsumer(threading.Thread):
    """Consumes a queue until stopped, and never dies of an error: a lost connection, or any
    other failure of its own, is logged and followed by a new connection. `declare` sets up
    the queue on a new channel and returns its name; `deliver` is given each message's body
    as parsed JSON. With `ack`, a message is acknowledged once `deliver` returns. What
    `deliver` raises is classified (`core.errors.classify`): a passing failure puts the
    message back for later; a refusal drops it; an unexpected error puts it back up to
    `UNEXPECTED_TRIES` times, then drops it. Bodies that are not JSON are dropped too, and
    every drop is counted."""

    RETRY_PAUSE = 1.0
    UNEXPECTED_TRIES = 5
    _REMEMBERED = 1024

    def __init__(self, url: str, declare: Callable, deliver: Callable[[Any], None], *,
                 ack: bool, name: str):
        super().__init__(name=name, daemon=True)
        self.url, self.declare, self.deliver, self.ack = url, declare, deliver, ack
        self.stopping = threading.Event()
        self._connected: tuple[pika.BlockingConnection, object] | None = None
        self._ready = threading.Event()
        self._failures: collections.OrderedDict[bytes, int] = collections.OrderedDict()

    def run(self) -> None:
        while not self.stopping.is_set():
            connection = None
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url))
                channel = connection.channel()
                channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
                channel.basic_qos(prefetch_count=64)
                channel.basic_consume(self.declare(channel), self._on_message,
                                      auto_ack=not self.ack)
                self._connected = connection, channel
                self._ready.set()
                while not self.stopping.is_set():
                    connection.process_data_events(time_limit=0.5)
            except pika.exceptions.AMQPError as exc:
                log.warning("%s interrupted (%s: %s); reconnecting", self.name,
                            exc.__class__.__name__, exc)
                self.stopping.wait(self.RETRY_PAUSE)
            except Exception:
                log.exception("%s failed; reconnecting", self.name)
                self.stopping.wait(self.RETRY_PAUSE)
            finally:
                self._ready.clear()
                self._connected = None
                _close_quietly(connection)

    def call(self, work: Callable[[object], None], timeout: float = 2.0) -> None:
        """Run `work(channel)` on the consumer's own thread (pika's connections are not
        thread-safe) and wait for it, or for `timeout` if the consumer is not connected:
        `declare` sets the queue up again on each new connection."""
        connected = self._connected if self._ready.wait(timeout) else None
        if connected is None:
            return
        connection, channel = connected
        done = threading.Event()

        def run() -> None:
            try:
                work(channel)
            finally:
                done.set()
        try:
            connection.add_callback_threadsafe(run)
        except (pika.exceptions.AMQPError, RuntimeError):
            return
        done.wait(timeout)

    def _on_message(self, channel, method, _properties, body: bytes) -> None:
        if self._handled(body) or not self.ack:
            if self.ack:
                channel.basic_ack(method.delivery_tag)
            return
        self.stopping.wait(self.RETRY_PAUSE)
        channel.basic_nack(method.delivery_tag, requeue=True)

    def _handled(self, body: bytes) -> bool:
        """Deliver one message; False when it should be delivered again later."""
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            self._drop("not-json", "a message that is not JSON")
            return True
        try:
            self.deliver(document)
        except Exception as exc:
            return self._failed(body, exc)
        self._failures.pop(body, None)
        return True

    def _failed(self, body: bytes, exc: Exception) -> bool:
        kind = classify(exc)
        if kind is Failure.PERMANENT:
            self._drop("refused", f"a message it refuses: {exc.detail}")
            return True
        if kind is Failure.TRANSIENT:
            log.warning("%s will retry a message: %s", self.name, exc.detail)
            return False
        tries = self._failures.pop(body, 0) + 1
        incident = uuid.uuid4().hex[:12]
        log.error("%s failed on a message, try %d of %d (incident %s)", self.name, tries,
                  self.UNEXPECTED_TRIES, incident, exc_info=exc)
        if tries >= self.UNEXPECTED_TRIES:
            self._drop("failed", f"a message after {tries} unexpected errors")
            return True
        self._failures[body] = tries
        while len(self._failures) > self._REMEMBERED:
            self._failures.popitem(last=False)
        return False

    def _drop(self, why: str, what: str) -> None:
        metrics.EVENT_MESSAGES_DROPPED.labels(self.name, why).inc()
        log.warning("%s dropped %s", self.name, what)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


def _close_quietly(connection: pika.BlockingConnection | None) -> None:
    if connection is None or not connection.is_open:
        return
    try:
        connection.close()
    except pika.exceptions.AMQPError:
        pass


class LocalEvents:
    """Events within one process, for the stack that runs without RabbitMQ."""

    def __init__(self):
        self._listeners: list[Listener] = []
        self._object_listeners: list[ObjectListener] = []
        self._lock = threading.Lock()

    def publish_finished(self, job_id: str, function: str, status: str) -> None:
        event = {"type": "job.finished", "id": job_id, "function": function, "status": status}
        for listener in self._snapshot(self._listeners):
            listener(event)

    def publish_object_created(self, event: ObjectEvent) -> None:
        for listener in self._snapshot(self._object_listeners):
            listener(event)

    def subscribe(self, listener: Listener) -> Subscription:
        return _LocalSubscription(self._add(self._listeners, listener))

    def subscribe_objects(self, listener: ObjectListener) -> Callable[[], None]:
        return self._add(self._object_listeners, listener)

    def _snapshot(self, listeners: list) -> list:
        with self._lock:
            return list(listeners)

    def _add(self, listeners: list, listener) -> Callable[[], None]:
        with self._lock:
            listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                listeners.remove(listener)
        return unsubscribe


class _LocalSubscription:
    """In one process every event reaches every listener: there is nothing to follow."""

    def __init__(self, unsubscribe: Callable[[], None]):
        self.close = unsubscribe

    def follow(self, function: str) -> None:
        pass
