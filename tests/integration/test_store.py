"""The job store on SQLite and PostgreSQL: same code, same behaviour."""

import collections
import threading
import time

import pytest

from core.errors import Conflict, NotFound
from core.functions import Function
from core.ids import new_id
from core.jobs import Job, JobStatus, Outcome, OutputObject, Reason, Trigger
from core.store import JobStore
from core.store.jobstore import Deferral


@pytest.fixture
def store(database_url):
    """On SQLite and PostgreSQL, migrated."""
    store = JobStore(database_url)
    store.migrate()
    yield store
    store.close()


def make_job(function="fn", key=None, **fields) -> Job:
    return Job(id=new_id(), function=function, revision=1, trigger=Trigger.HTTP,
               status=JobStatus.QUEUED, created_at=time.time(), idempotency_key=key, **fields)


def test_migrating_twice_is_harmless(store):
    store.migrate()
    assert store.list_functions() == []


def test_functions_are_created_replaced_and_deleted(store):
    fn = store.create_function(Function.from_spec({"name": "f", "command": ["a"]}))
    with pytest.raises(Conflict):
        store.create_function(Function.from_spec({"name": "f", "command": ["b"]}))
    updated = store.replace_function(Function.from_spec({"name": "f", "command": ["c"]}))
    assert updated.revision == 2 and updated.token == fn.token
    assert store.get_function("f").spec["command"] == ["c"]
    store.delete_function("f")
    with pytest.raises(NotFound):
        store.get_function("f")


def test_every_revision_is_kept_and_no_number_is_used_twice(store):
    """A job runs the revision it was invoked with, even after its function changed or was
    deleted; a function created again under the same name starts after the old numbers."""
    store.create_function(Function.from_spec({"name": "f", "command": ["one"]}))
    store.replace_function(Function.from_spec({"name": "f", "command": ["two"]}))
    store.delete_function("f")
    again = store.create_function(Function.from_spec({"name": "f", "command": ["three"]}))
    assert again.revision == 3
    assert [store.get_revision("f", n).spec["command"] for n in (1, 2, 3)] == [
        ["one"], ["two"], ["three"]]
    with pytest.raises(NotFound):
        store.get_revision("f", 4)


def test_idempotency_key_returns_the_existing_job(store):
    first, created = store.create_job(make_job(key="k1"), {"inputs/x": b"data"})
    again, created_again = store.create_job(make_job(key="k1"))
    assert created and not created_again and again.id == first.id
    assert store.get_blob("inputs/x") == b"data"


def test_existing_keys_are_found_a_page_at_a_time(store):
    store.create_job(make_job(key="s3:b/one#1"))
    store.create_job(make_job(key="s3:b/two#1"))
    assert store.existing_keys(["s3:b/one#1", "s3:b/one#2", "s3:b/two#1"]) == {
        "s3:b/one#1", "s3:b/two#1"}
    assert store.existing_keys([]) == set()


def test_a_blob_written_again_is_replaced(store):
    store.create_job(make_job(), {"stdout/x": b"first attempt"})
    store.create_job(make_job(), {"stdout/x": b"second attempt", "stderr/x": b"err"})
    assert store.get_blob("stdout/x") == b"second attempt"
    assert store.get_blob("stderr/x") == b"err"


def test_only_one_of_many_concurrent_claims_wins(store):
    job, _ = store.create_job(make_job())
    winners = []

    def claim(owner):
        if store.claim(job.id, owner, time.time()):
            winners.append(owner)
    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get_job(job.id).attempts == 1


def test_finish_is_only_for_the_owner_and_only_once(store):
    job, _ = store.create_job(make_job())
    claimed = store.claim(job.id, "w1", time.time())
    output = OutputObject(name="a.txt", bucket="b", key="k", size=1, content_type="text/plain")
    outcome = Outcome(exit_code=0, outputs=(output,),
                      stdout_ref="db:stdout/x", inline_blobs={"stdout/x": b"hello"})
    assert store.finish(claimed, "intruder", outcome, time.time()) is None
    done = store.finish(claimed, "w1", outcome, time.time())
    assert done.status is JobStatus.SUCCEEDED and done.outputs == (output,)
    assert store.get_blob("stdout/x") == b"hello"
    assert store.finish(claimed, "w1", outcome, time.time()) is None


def test_only_the_attempt_that_owns_the_job_records_it(store):
    """Two attempts of one process (a message delivered twice): the earlier attempt can
    neither finish the job nor queue it again."""
    job, _ = store.create_job(make_job())
    first = store.claim(job.id, "w1", time.time())
    second = store.claim(job.id, "w1", time.time(), take_over_from="w1")
    assert store.finish(first, "w1", Outcome(exit_code=0), time.time()) is None
    assert store.release(first, "w1", Outcome(error="no"), due_at=time.time()) is None
    assert store.finish(second, "w1", Outcome(exit_code=0), time.time()).attempts == 2


def test_text_a_function_put_in_an_outcome_is_stored_whatever_its_bytes(store):
    job, _ = store.create_job(make_job())
    claimed = store.claim(job.id, "w1", time.time())
    done = store.finish(claimed, "w1", Outcome(exit_code=1, error="note\0 from the function"),
                        time.time())
    assert done.error == "note\ufffd from the function"


def test_a_dead_owners_job_can_be_taken_over_once(store):
    job, _ = store.create_job(make_job())
    store.claim(job.id, "dead", time.time())
    assert store.claim(job.id, "w2", time.time()) is None
    taken = store.claim(job.id, "w2", time.time(), take_over_from="dead")
    assert taken.attempts == 2 and taken.owner == "w2"
    assert store.claim(job.id, "w3", time.time(), take_over_from="dead") is None


def test_a_released_attempt_queues_the_job_again_until_it_is_due(store):
    """After a passing failure: queued once more, the attempt counted, why it said, and the
    sweeper leaves it to its delayed message until it is due."""
    now = time.time()
    job, _ = store.create_job(make_job())
    claimed = store.claim(job.id, "w1", now)
    assert store.release(claimed, "intruder", Outcome(error="no"), due_at=now + 30) is None
    released = store.release(claimed, "w1", Outcome(reason=Reason.UNAVAILABLE,
                                                    error="attempt 1: away"), due_at=now + 30)
    assert (released.status, released.attempts, released.owner) == (JobStatus.QUEUED, 1, None)
    assert released.error == "attempt 1: away"
    assert store.jobs_to_republish(now + 20, queued_before=now + 20, heartbeat_before=now) == []
    assert [j.id for j in store.jobs_to_republish(
        now + 40, queued_before=now + 40, heartbeat_before=now)] == [job.id]
    assert store.claim(job.id, "w2", now + 40).attempts == 2


def test_every_attempt_is_kept_with_how_it_ended_and_goes_with_its_job(store):
    """A platform failure, a failure the function retries, a worker that died, the last:
    four attempts, one row each, in order; only the function's own failure counts as one
    of its retries. Deleting the job deletes them and their logs."""
    now = time.time()
    job, _ = store.create_job(make_job())
    first = store.claim(job.id, "w1", now)
    store.release(first, "w1", Outcome(reason=Reason.UNAVAILABLE, error="store away"),
                  due_at=now)
    second = store.claim(job.id, "w1", now + 1)
    log = {"stderr/" + job.id + "/2": b"exit 3\n"}
    released = store.release(second, "w1", Outcome(exit_code=3, reason=Reason.ERROR,
                                                   stderr_ref="db:stderr/" + job.id + "/2",
                                                   inline_blobs=log), due_at=now + 1,
                             retried=True)
    assert released.retries == 1
    store.claim(job.id, "dead", now + 2)
    last = store.claim(job.id, "w2", now + 30, take_over_from="dead")
    store.finish(last, "w2", Outcome(exit_code=0), now + 31)
    history = store.list_attempts(job.id)
    assert [(a.number, a.owner, a.reason, a.exit_code) for a in history] == [
        (1, "w1", Reason.UNAVAILABLE, None), (2, "w1", Reason.ERROR, 3),
        (3, "dead", Reason.ERROR, None), (4, "w2", None, 0)]
    assert "lease lapsed" in history[2].error and history[3].finished_at == now + 31
    assert store.get_blob("stderr/" + job.id + "/2") == b"exit 3\n"
    assert store.delete_jobs([job.id]) == 1
    assert store.list_attempts(job.id) == []
    with pytest.raises(NotFound):
        store.get_blob("stderr/" + job.id + "/2")


def test_cancel_stops_heartbeats_and_finishing(store):
    job, _ = store.create_job(make_job())
    claimed = store.claim(job.id, "w1", time.time())
    assert store.cancel(job.id, time.time()).status is JobStatus.CANCELLED
    assert not store.heartbeat(job.id, "w1", claimed.attempts, time.time())
    assert store.finish(claimed, "w1", Outcome(exit_code=0), time.time()) is None
    assert store.cancel(job.id, time.time()) is None


def test_jobs_are_listed_newest_first_with_a_cursor(store):
    ids = [store.create_job(make_job(function="a" if i % 2 else "b"))[0].id for i in range(5)]
    page = store.list_jobs(limit=2)
    assert [j.id for j in page] == ids[::-1][:2]
    rest = store.list_jobs(limit=10, before=page[-1].id)
    assert [j.id for j in rest] == ids[::-1][2:]
    assert {j.function for j in store.list_jobs(function="a")} == {"a"}


def test_sweep_finds_unpublished_queued_jobs_and_lapsed_leases(store):
    now = time.time()
    old, _ = store.create_job(make_job())
    running, _ = store.create_job(make_job())
    store.claim(running.id, "w1", now - 60)
    fresh_running, _ = store.create_job(make_job())
    store.claim(fresh_running.id, "w2", now)
    found = store.jobs_to_republish(now + 30, queued_before=now + 1, heartbeat_before=now - 10)
    assert {j.id for j in found} == {old.id, running.id}
    store.mark_published([old.id], now + 30)
    found = store.jobs_to_republish(now + 31, queued_before=now + 1, heartbeat_before=now - 10)
    assert {j.id for j in found} == {running.id}


def test_concurrent_writes_with_conflicts_do_not_fail_each_other(store):
    """On SQLite, concurrent writes share transactions: a conflicting insert in a batch must
    not undo or fail the others."""
    results: list = []

    def create(i: int) -> None:
        job, created = store.create_job(make_job(key=f"k{i % 10}"), {f"inputs/b{i}": b"x"})
        results.append((job.idempotency_key, created))
    threads = [threading.Thread(target=create, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 60
    assert sorted(key for key, created in results if created) == [f"k{i}" for i in range(10)]
    assert len(store.list_jobs(limit=100)) == 10


def test_a_failed_job_is_queued_again_on_the_revision_asked_for(store):
    now = time.time()
    job, _ = store.create_job(make_job())
    assert store.redrive(job.id, 2, now) is None  # queued: nothing to run again
    claimed = store.claim(job.id, "w1", now)
    store.finish(claimed, "w1", Outcome(exit_code=1, reason=Reason.ERROR, error="no",
                                        outputs=(OutputObject("o", "b", "k", 1, "x/y", "e"),)),
                 now)
    again = store.redrive(job.id, 2, now + 1)
    assert (again.status, again.revision, again.attempts, again.resumed_after) == \
        (JobStatus.QUEUED, 2, 1, 1)
    assert (again.exit_code, again.reason, again.error, again.outputs) == (None, None, None, ())
    assert store.claim(job.id, "w2", now + 2).attempts == 2


def test_expired_jobs_are_found_oldest_first_by_function_and_for_deleted_ones(store):
    ended = {}
    for name, finished in (("a", 100.0), ("a", 50.0), ("b", 60.0), ("gone", 10.0)):
        job, _ = store.create_job(make_job(name))
        claimed = store.claim(job.id, "w1", finished)
        ended[job.id] = store.finish(claimed, "w1", Outcome(exit_code=0), finished)
    running, _ = store.create_job(make_job("a"))
    store.claim(running.id, "w1", 1.0)
    found = store.expired(200.0, 10, function="a")
    assert [j.finished_at for j in found] == [50.0, 100.0]
    assert [j.finished_at for j in store.expired(200.0, 1, function="a")] == [50.0]
    assert [j.function for j in store.expired(200.0, 10, not_of=["a", "b"])] == ["gone"]
    assert store.expired(55.0, 10, function="b") == []


def test_claims_within_a_limit_never_run_more_at_once_from_many_threads(store):
    """`concurrency: 2` holds across every claimer at once (one PostgreSQL advisory lock
    per function, SQLite's one writer): of 40 claims racing for 20 jobs, 2 win; the others
    stay queued, due again when asked."""
    queued = [make_job("limited") for _ in range(20)]
    for job in queued:
        store.create_job(job)
    store.create_job(other := make_job("free"))
    results, start = [], threading.Barrier(40)

    def claim(job: Job, n: int) -> None:
        start.wait()
        results.append(store.claim_within(job.id, f"w{n}", time.time(), function="limited",
                                          limit=2, retry_at=time.time() + 30))
    threads = [threading.Thread(target=claim, args=(queued[n % 20], n)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [job for job, _deferral in results if job is not None]
    assert len(claimed) == 2
    # Of the two claims of each other job, the first found the function full and deferred
    # it; the second found it deferred already (its message is one too many). The twins of
    # the claimed two found their job no longer queued.
    deferrals = collections.Counter(deferral for job, deferral in results if job is None)
    assert deferrals == {Deferral.FULL: 18, Deferral.LATER: 18, None: 2}
    running = store.list_jobs(function="limited", status="running")
    assert sorted(j.id for j in running) == sorted(j.id for j in claimed)
    waiting = store.list_jobs(function="limited", status="queued")
    assert len(waiting) == 18 and all(j.owner is None for j in waiting)
    now = time.time()
    assert store.jobs_to_republish(now, queued_before=now + 1, heartbeat_before=0) == [other]
    assert store.claim(other.id, "w", time.time()) is not None


def test_a_full_function_frees_its_place_when_a_job_ends(store):
    first, second = make_job("one"), make_job("one")
    store.create_job(first), store.create_job(second)
    running, _ = store.claim_within(first.id, "w", time.time(), function="one", limit=1,
                                    retry_at=0)
    assert store.claim_within(second.id, "w", time.time(), function="one", limit=1,
                              retry_at=0) == (None, Deferral.FULL)
    store.finish(running, "w", Outcome(), time.time())
    claimed, deferral = store.claim_within(second.id, "w", time.time(), function="one",
                                           limit=1, retry_at=0)
    assert claimed is not None and claimed.id == second.id and deferral is None
    done, _ = store.claim_within(second.id, "w", time.time(), function="one", limit=1,
                                 retry_at=0)
    assert done is None


def test_a_jobs_parameters_are_kept_and_its_queue_counted_at_once(store):
    params = {"name": "café", "empty": ""}
    job, _ = store.create_job(make_job("fn", key="k", params=params))
    assert store.get_job(job.id).params == params and store.get_job_by_key("k").params == params
    store.create_job(make_job("fn"))
    store.create_job(make_job("other"))
    assert store.claim(job.id, "w", time.time()) is not None
    assert store.queue_depth("fn") == {"queued": 1, "running": 1}
    assert store.queue_depth("none") == {"queued": 0, "running": 0}
    backlog = store.backlog("fn", None, platform=True)
    assert (backlog.key_used, backlog.queued, backlog.platform_queued) == (False, 1, 2)
    assert store.backlog("fn", "k", platform=True).key_used
    assert store.backlog("fn", "new", platform=False).platform_queued is None


# -- results: kept in the order they came up to a job's limit, never read once expired,
# each popped by one reader only however many pop at once, removed once expired.

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
