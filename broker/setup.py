"""Broker construction from settings: RabbitMQ in production, an in-process broker for
`sluice up` on a machine without RabbitMQ."""

from __future__ import annotations

import logging

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

log = logging.getLogger(__name__)


MAX_UNEXPECTED_RETRIES = 20


def _retry_when(retries: int, exception: BaseException) -> bool:
    """The workers' runner decides about retries (see `workers.failures`) and asks for one
    with `dramatiq.Retry`, which is always granted. Anything else escaping an actor is a bug
    of Sluice's own: it is retried a bounded number of times."""
    return isinstance(exception, dramatiq.Retry) or retries < MAX_UNEXPECTED_RETRIES


def _middleware() -> list:
    # Only retries: job timeouts are the executor's business, and a job's age is no reason to
    # drop it.
    return [Retries(min_backoff=1_000, max_backoff=60_000, retry_when=_retry_when)]


def rabbitmq_broker(url: str) -> dramatiq.Broker:
    broker = RabbitmqBroker(url=url, confirm_delivery=True, middleware=_middleware())
    dramatiq.set_broker(broker)
    return broker


def in_process_broker() -> dramatiq.Broker:
    broker = StubBroker(middleware=_middleware())
    broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    return broker


def rabbitmq_reachable(url: str, timeout: float = 2.0) -> bool:
    params = pika.URLParameters(url)
    params.socket_timeout = timeout
    params.blocked_connection_timeout = timeout
    params.connection_attempts = 1
    params.stack_timeout = timeout
    # pika logs a refused connection at ERROR with a traceback; here it is an answer.
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    pika_log.setLevel(logging.CRITICAL)
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPError as exc:
        log.debug("RabbitMQ at %s unreachable: %s", params.host, exc.__class__.__name__)
        return False
    finally:
        pika_log.setLevel(level)
    return True
