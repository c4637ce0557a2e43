"""Finished-job events reach a subscriber for the functions it follows, and only those."""

import queue
import secrets
import socket

import pytest

from broker.events import RabbitEvents

WAIT = 10


@pytest.fixture
def events(rabbitmq_url):
    return RabbitEvents(rabbitmq_url, f"sluice-test-{secrets.token_hex(4)}")


@pytest.fixture
def received(events):
    got: queue.Queue = queue.Queue()
    subscription = events.subscribe(got.put)
    yield got, subscription
    subscription.close()


def test_only_followed_functions_are_delivered(events, received):
    got, subscription = received
    subscription.follow("resize")
    events.publish_finished("job-1", "gray", "succeeded")
    events.publish_finished("job-2", "resize", "succeeded")
    event = got.get(timeout=WAIT)
    assert (event["id"], event["function"], event["status"]) == ("job-2", "resize", "succeeded")
    subscription.follow("gray")
    events.publish_finished("job-3", "gray", "failed")
    assert got.get(timeout=WAIT)["id"] == "job-3"
    assert got.empty()


def test_following_survives_a_lost_connection(events, received):
    got, subscription = received
    subscription.follow("resize")
    first_queue = subscription._queue
    _drop_connection(subscription)
    # The consumer reconnects on a new queue and binds what it followed again.
    for attempt in range(WAIT * 4):
        events.publish_finished(f"job-{attempt}", "resize", "succeeded")
        try:
            got.get(timeout=0.25)
            assert subscription._queue != first_queue
            return
        except queue.Empty:
            continue
    pytest.fail("no event arrived after the consumer reconnected")


def _drop_connection(subscription) -> None:
    """Cut the consumer's TCP connection, as a broker restart or a network failure would."""
    connection, _channel = subscription._consumer._connected
    connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)
