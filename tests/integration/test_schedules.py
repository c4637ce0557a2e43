"""Schedules fired by real listeners on PostgreSQL and RabbitMQ: each tick once, with two
listeners and across a restart, missed ticks once; and, by the real clock, a function
deployed through the API fires and runs within about a second of its time.

The clocked tests give the listeners a clock of the test's (`Listener(clock=...)`), so that
minutes pass at once; a listener's `looked_at` says it has had a round at the clock's time,
after which the tick due then has its job."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from broker.events import RabbitEvents
from broker.setup import rabbitmq_broker
from core.functions import Function
from core.jobs import Trigger
from core.settings import Settings
from core.store import JobStore
from core.times import parse_rfc3339, rfc3339
from storage_events.listener import Listener
from tests.fixtures.signals import counter, eventually, until
from tests.fixtures.stack import delete_queues
from tests.fixtures.store import drop_tables

MINUTE = 60.0


class Clock:
    """The time the listeners see, moved by the test."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class RacingClock(Clock):
    """A clock whose readers, after each move, go on together: the first reading of each
    listener's thread waits for the other's, so both look for the due tick at once."""

    def __init__(self, now: float, parties: int):
        super().__init__(now)
        self._moved = self._barrier = None
        self._parties, self._seen, self._lock = parties, {}, threading.Lock()

    def move(self, moment: float) -> None:
        with self._lock:
            self.now, self._moved = moment, object()
            self._barrier = threading.Barrier(self._parties, timeout=10)

    def __call__(self) -> float:
        with self._lock:
            moved, barrier = self._moved, self._barrier
            first = moved is not None and self._seen.get(threading.get_ident()) is not moved
            self._seen[threading.get_ident()] = moved
        if first:
            barrier.wait()
        return self.now


@pytest.fixture
def shared_settings(settings, postgres_url) -> Settings:
    """The stack's settings on PostgreSQL, the store several listeners share in a cluster."""
    shared = dataclasses.replace(settings, database_url=postgres_url)
    yield shared
    delete_queues(shared)
    drop_tables(postgres_url)


@pytest.fixture
def store(shared_settings):
    store = JobStore(shared_settings.database_url)
    store.migrate()
    yield store
    store.close()


def started(settings: Settings, clock: Clock) -> Listener:
    """A listener with its own connections to the store and the broker, as a process has."""
    listener = Listener(settings, rabbitmq_broker(settings.broker_url),
                        RabbitEvents(settings.broker_url, settings.queue), clock=clock)
    listener.start()
    return listener


def deploy_every_minute(store: JobStore, settings: Settings, now: float) -> float:
    """The function `tick`, on `* * * * *` from `now`; its first tick."""
    fn = Function.from_spec({"name": "tick", "command": ["true"], "schedule": "* * * * *"})
    store.create_function(fn.resolved(settings.s3.bucket), now=now)
    return store.get_schedule("tick").next_fire


def at(clock: Clock, moment: float, *listeners: Listener) -> None:
    """Move the clock to `moment` and wait until every listener has had a round there."""
    if isinstance(clock, RacingClock):
        if moment != clock.now:
            clock.move(moment)
    else:
        clock.now = moment
    eventually(lambda: all((l.scheduler.looked_at or 0) >= moment for l in listeners),
               timeout=10, what=f"a round of every listener at {rfc3339(moment)}")


def fired(store: JobStore) -> list[str]:
    """The fire times of the jobs the schedule made, in order."""
    jobs = store.list_jobs(function="tick", limit=100)
    assert all(j.trigger is Trigger.CRON for j in jobs)
    return sorted(j.idempotency_key.removeprefix("cron:tick:") for j in jobs)


def times(*moments: float) -> list[str]:
    return [rfc3339(m) for m in moments]


def test_two_listeners_fire_each_of_three_ticks_once(shared_settings, store):
    clock = RacingClock(time.time(), parties=2)
    first = deploy_every_minute(store, shared_settings, clock.now)
    duplicates = counter("sluice_schedule_fires", function="tick", outcome="duplicate")
    listeners = [started(shared_settings, clock) for _ in range(2)]
    try:
        at(clock, clock.now, *listeners)
        assert fired(store) == []
        for tick in range(3):
            at(clock, first + tick * MINUTE + 0.5, *listeners)
            assert fired(store) == times(*(first + n * MINUTE for n in range(tick + 1)))
    finally:
        for listener in listeners:
            listener.stop()
    assert store.get_schedule("tick").next_fire == first + 3 * MINUTE
    print(f"{counter('sluice_schedule_fires', function='tick', outcome='duplicate') - duplicates:.0f} "
          "of 3 ticks were seen due by both listeners")


def test_a_listener_stopped_before_a_tick_and_started_after_it_fires_it_once(
        shared_settings, store):
    clock = Clock(time.time())
    first = deploy_every_minute(store, shared_settings, clock.now)
    listener = started(shared_settings, clock)
    at(clock, clock.now, listener)
    listener.stop()
    clock.now = first + 10
    listener = started(shared_settings, clock)
    try:
        at(clock, first + 10, listener)
        assert fired(store) == times(first)
        at(clock, first + MINUTE + 0.5, listener)
        assert fired(store) == times(first, first + MINUTE)
    finally:
        listener.stop()


def test_ticks_missed_while_no_listener_ran_fire_once(shared_settings, store):
    clock = Clock(time.time())
    first = deploy_every_minute(store, shared_settings, clock.now)
    down_until = first + 5 * MINUTE + 10        # six ticks pass with nobody listening
    clock.now = down_until
    listener = started(shared_settings, clock)
    try:
        at(clock, down_until, listener)
        assert fired(store) == times(first + 5 * MINUTE), "one job, for the latest tick"
        assert store.get_schedule("tick").next_fire == first + 6 * MINUTE
        at(clock, first + 6 * MINUTE, listener)
        assert fired(store) == times(first + 5 * MINUTE, first + 6 * MINUTE)
    finally:
        listener.stop()


async def test_a_deployed_schedule_fires_and_runs_within_a_second_of_its_time(
        api, listener, settings):
    """By the real clock: Abaco's `now + 1 hour` fires at once (the current hour is due),
    then a fire time set two seconds ahead, as the store holds it, fires on time."""
    before = time.time()
    deployed = await api.deploy("chime", script="echo chime", schedule="now + 1 hour")
    hour = parse_rfc3339(deployed["next_fire"])
    assert hour in (before // 3600 * 3600, time.time() // 3600 * 3600)

    async def cron_jobs() -> list[dict]:
        answer = await (await api.request("GET", "/v1/jobs?function=chime")).json()
        return [j for j in answer["jobs"] if j["trigger"] == "cron"]
    [job] = await until(cron_jobs, timeout=10, what="the current hour's job")
    assert job["idempotency_key"] == f"cron:chime:{rfc3339(hour)}"
    ended = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")).json()
    assert ended["status"] == "succeeded"
    assert (await api.request("GET", f"/v1/jobs/{job['id']}/logs")).status == 200
    shown = await (await api.request("GET", "/v1/functions/chime")).json()
    assert parse_rfc3339(shown["next_fire"]) == hour + 3600

    store = JobStore(settings.database_url)
    try:
        due = time.time() + 2
        assert store.advance_schedule("chime", hour + 3600, due)
    finally:
        store.close()
    jobs = await until(lambda: _two(cron_jobs), timeout=10, what="the job due in 2 s")
    late = parse_rfc3339(jobs[0]["created_at"]) - due
    print(f"fired {late * 1000:.0f} ms after its time")
    assert 0 <= late < 2.5, "about a second at most (more only on a loaded machine)"
    assert jobs[0]["idempotency_key"] == f"cron:chime:{rfc3339(due)}"


async def _two(jobs):
    found = await jobs()
    return found if len(found) == 2 else None
