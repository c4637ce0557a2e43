"""Results in the job store, on SQLite and PostgreSQL: kept in the order they came up to a
job's limit, never read once expired, each popped by one reader only, however many pop at
once, and removed by the janitor's query once expired."""

from __future__ import annotations

import threading
import time

import pytest

from core.store import JobStore


@pytest.fixture
def store(database_url):
    store = JobStore(database_url)
    store.migrate()
    yield store
    store.close()


def test_results_are_kept_in_order_up_to_the_jobs_limit(store):
    now = time.time()
    assert store.add_results("a", [b"1", b"2", b"3"], now=now, expires_at=now + 60,
                             most=4) == 3
    assert store.add_results("b", [b"other"], now=now, expires_at=now + 60, most=4) == 1
    assert store.add_results("a", [b"4", b"5"], now=now, expires_at=now + 60, most=4) == 1
    kept = store.results("a", now)
    assert [r.data for r in kept] == [b"1", b"2", b"3", b"4"]
    assert [r.data for r in store.results("a", now, after=kept[1].sequence, limit=1)] == [b"3"]


def test_an_expired_result_is_never_read_and_makes_room(store):
    now = time.time()
    store.add_results("a", [b"old"], now=now - 10, expires_at=now - 1, most=1)
    assert store.results("a", now) == [] and store.pop_result("a", now) is None
    assert store.add_results("a", [b"new"], now=now, expires_at=now + 60, most=1) == 1
    assert store.pop_result("a", now).data == b"new"
    assert store.expire_results(now, 100) == 1
    assert store.expire_results(now, 100) == 0


def test_results_popped_at_once_are_each_taken_by_one_reader(store):
    now = time.time()
    sent = [b"%d" % n for n in range(40)]
    store.add_results("a", sent, now=now, expires_at=now + 60, most=100)
    taken: list[bytes] = []
    lock = threading.Lock()

    def reader() -> None:
        while (result := store.pop_result("a", now)) is not None:
            with lock:
                taken.append(result.data)
    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(30)
    assert sorted(taken) == sorted(sent)
    assert store.results("a", now) == []


def test_a_sequence_is_never_given_again(store):
    """A page's cursor stays good after the newest result was popped."""
    now = time.time()
    store.add_results("a", [b"first"], now=now, expires_at=now + 60, most=10)
    popped = store.pop_result("a", now)
    store.add_results("a", [b"second"], now=now, expires_at=now + 60, most=10)
    assert [r.data for r in store.results("a", now, after=popped.sequence)] == [b"second"]
