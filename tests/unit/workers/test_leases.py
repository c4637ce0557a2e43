import os
import time

from core.ids import new_id
from core.jobs import Job, JobStatus, Reason, Trigger
from workers.leases import HOST, Leases


def queued_job(store) -> Job:
    job = Job(id=new_id(), function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=time.time())
    return store.create_job(job)[0]


def test_a_lease_taken_before_the_claim_is_not_lost_by_a_heartbeat(store):
    leases = Leases(store, "me", interval=60, lease=20)
    job = queued_job(store)
    lease = leases.hold(job.id)
    leases.renew()
    assert not lease.lost
    lease.claim(store.claim(job.id, "me", time.time()).attempts)
    leases.renew()
    assert not lease.lost


def test_a_cancelled_job_is_lost_and_its_process_stopped(store):
    leases = Leases(store, "me", interval=60, lease=20)
    job = queued_job(store)
    lease = leases.hold(job.id)
    lease.claim(store.claim(job.id, "me", time.time()).attempts)
    stopped = []
    lease.stop = lambda reason: stopped.append((job.id, reason))
    store.cancel(job.id, time.time())
    leases.renew()
    assert lease.lost and stopped == [(job.id, Reason.CANCELLED)]


def test_an_attempt_taken_over_is_lost_to_the_attempt_before_even_in_one_process(store):
    """A message delivered again to the same worker process runs a new attempt: the
    earlier one's heartbeat must fail, though the owner is the same process."""
    leases = Leases(store, "me", interval=60, lease=20)
    job = queued_job(store)
    first = store.claim(job.id, "me", time.time())
    second = store.claim(job.id, "me", time.time(), take_over_from="me")
    lease = leases.hold(job.id)
    lease.claim(first.attempts)
    leases.renew()
    assert lease.lost and second.attempts == 2
    assert store.heartbeat(job.id, "me", second.attempts, time.time())


def test_one_process_holds_a_job_once(store):
    leases = Leases(store, "me", interval=60, lease=20)
    assert leases.hold("j") is not None
    assert leases.hold("j") is None
    leases.release("j")
    assert leases.hold("j") is not None


def test_owner_liveness(store):
    leases = Leases(store, f"{HOST}/{os.getpid()}/mine", interval=60, lease=20)
    now = time.time()
    assert leases.owner_is_gone(f"{HOST}/999999999/x", now, now)
    assert not leases.owner_is_gone(f"{HOST}/1/x", now, now)
    assert not leases.owner_is_gone("other-host/5/x", now, now)
    assert leases.owner_is_gone("other-host/5/x", now - 60, now)
    assert leases.owner_is_gone(None, None, now)
