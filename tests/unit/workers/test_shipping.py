"""The log shipper: what running attempts print reaches the job store round by round, new
bytes only, bounded; an attempt that ends within its first round costs no write."""

from __future__ import annotations

import threading
import time

from core.ids import new_id
from core.jobs import Job, JobStatus, Outcome, Trigger
from tests.fixtures.signals import eventually
from workers import shipping
from workers.shipping import LogShipper


def running_job(store) -> Job:
    job = Job(id=new_id(), function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=time.time())
    store.create_job(job)
    return store.claim(job.id, "me", time.time())


def files(tmp_path):
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    stdout.write_bytes(b"")
    stderr.write_bytes(b"")
    return stdout, stderr


def shipped(store, job: Job) -> dict[str, bytes]:
    _, chunks = store.live_log(job.id, job.attempts, {"stdout": 0, "stderr": 0})
    printed = {"stdout": b"", "stderr": b""}
    for chunk in chunks:
        assert chunk.position == len(printed[chunk.stream]), "chunks follow one another"
        printed[chunk.stream] += chunk.data
    return printed


def older_than_a_round(shipment) -> None:
    shipment.since -= shipping.SHIP_SECONDS


def test_an_attempt_that_ends_within_its_first_round_costs_no_write(store, tmp_path):
    shipper, job = LogShipper(store), running_job(store)
    stdout, stderr = files(tmp_path)
    shipment = shipper.watch(job.id, job.attempts, stdout, stderr)
    stdout.write_bytes(b"quick\n")
    assert shipper.ship() == 0
    assert shipper.unwatch(shipment) is False
    assert shipped(store, job) == {"stdout": b"", "stderr": b""}


def test_each_round_ships_only_what_is_new_and_nothing_when_nothing_is(store, tmp_path):
    shipper, job = LogShipper(store), running_job(store)
    stdout, stderr = files(tmp_path)
    shipment = shipper.watch(job.id, job.attempts, stdout, stderr)
    older_than_a_round(shipment)
    with open(stdout, "ab") as out, open(stderr, "ab") as err:
        out.write(b"one\n")
        out.flush()
        assert shipper.ship() == 1
        assert shipper.ship() == 0
        out.write(b"two\n")
        err.write(b"oops\n")
        out.flush()
        err.flush()
        assert shipper.ship() == 2
    assert shipped(store, job) == {"stdout": b"one\ntwo\n", "stderr": b"oops\n"}
    assert shipper.unwatch(shipment) is True


def test_the_outcome_recorded_takes_the_attempts_chunks_with_it(store, tmp_path):
    shipper, job = LogShipper(store), running_job(store)
    stdout, stderr = files(tmp_path)
    shipment = shipper.watch(job.id, job.attempts, stdout, stderr)
    older_than_a_round(shipment)
    stdout.write_bytes(b"printed\n")
    shipper.ship()
    assert shipper.unwatch(shipment)
    store.finish(job, "me", Outcome(exit_code=0, live_log=True), time.time())
    assert shipped(store, job) == {"stdout": b"", "stderr": b""}


def test_a_stream_past_its_limit_is_marked_and_shipped_no_further(store, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setattr(shipping, "LIMIT_BYTES", 10)
    monkeypatch.setattr(shipping, "ROUND_BYTES", 4)
    shipper, job = LogShipper(store), running_job(store)
    stdout, stderr = files(tmp_path)
    older_than_a_round(shipper.watch(job.id, job.attempts, stdout, stderr))
    stdout.write_bytes(b"0123456789abcdef")
    while shipper.ship():
        pass
    _, chunks = store.live_log(job.id, job.attempts, {"stdout": 0})
    assert [(c.position, c.data) for c in chunks] == [
        (0, b"0123"), (4, b"4567"), (8, b"89"), (10, b"")]


def test_a_link_put_in_place_of_the_output_file_is_not_followed(store, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"the worker's own\n")
    shipper, job = LogShipper(store), running_job(store)
    stdout, stderr = files(tmp_path)
    older_than_a_round(shipper.watch(job.id, job.attempts, stdout, stderr))
    stdout.unlink()
    stdout.symlink_to(secret)
    assert shipper.ship() == 0


def test_unwatching_waits_for_the_round_that_is_writing(store, tmp_path):
    """Once unwatched, no chunk of the attempt is written after its outcome (whose
    transaction deletes them)."""
    writing, release, happened = threading.Event(), threading.Event(), []

    class SlowStore:
        def append_log_chunks(self, rows):
            writing.set()
            release.wait(10)
            store.append_log_chunks(rows)
            happened.append("written")

    shipper, job = LogShipper(SlowStore()), running_job(store)
    stdout, stderr = files(tmp_path)
    shipment = shipper.watch(job.id, job.attempts, stdout, stderr)
    older_than_a_round(shipment)
    stdout.write_bytes(b"late\n")
    round_ = threading.Thread(target=shipper.ship)
    round_.start()
    assert writing.wait(10)
    waiter = threading.Thread(target=lambda: happened.append(shipper.unwatch(shipment)))
    waiter.start()
    # The waiter is inside `unwatch`, waiting for the round, before the write ends.
    eventually(lambda: shipper._changed._waiters, what="unwatch waiting for the round")
    release.set()
    waiter.join(10)
    round_.join(10)
    assert happened == ["written", True]
    assert shipped(store, job)["stdout"] == b"late\n"
