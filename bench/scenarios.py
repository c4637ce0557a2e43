"""The fault scenarios, at any scale: the tests run them with a few jobs, `bench.faults` with
hundreds. Each deploys a `RecordedFunction`, invokes it, does its harm, repairs it, waits
for the jobs to settle and returns the audit (`bench.audit`)."""

from __future__ import annotations

import dataclasses
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from bench.audit import (RecordedFunction, Report, audit, back_at_full_speed, settle,
                         stop_left_running)
from bench.fleet import Fleet
from bench.rabbitmq import OwnRabbitMQ
from core.jobs import Trigger
from core.objects import ObjectStore
from core.store import JobStore
from sluice.client import Client, ClientError
from sluice.seaweed import SeaweedServer

# A request body past the job store's inline limit, so that it is staged in from S3.
LARGE_INPUT = 300 * 1024


@dataclasses.dataclass
class Target:
    """Where a scenario invokes (`client`), and what its audit reads: the job store, the
    object store and its data `bucket`. `capacity`: how many jobs the workers run at once.
    Each function records its runs in a directory of its own under `directory`."""

    client: Client
    store: JobStore
    objects: ObjectStore
    bucket: str
    directory: Path
    capacity: int
    settle_seconds: float = 60.0
    deployed: list[RecordedFunction] = dataclasses.field(default_factory=list)

    def function(self, role: str, **options) -> RecordedFunction:
        """A recorded function deployed under a name of its own (the bucket may be shared
        with other runs, and its outputs are listed by the function's name)."""
        name = f"{role}-{secrets.token_hex(3)}"
        fn = RecordedFunction(name, self.directory / name, self.bucket, **options)
        self.client.json("PUT", f"/v1/functions/{name}", fn.spec())
        self.deployed.append(fn)
        return fn

    def stop_left_running(self) -> int:
        """Kill what the functions left running (a scenario that failed); how many."""
        return sum(stop_left_running(fn) for fn in self.deployed)


class WholeStack(Protocol):
    """`sluice up`, which a scenario can kill outright and start again on the same data."""

    def kill(self) -> None: ...

    def start(self) -> None: ...


def invoke(client: Client, fn: RecordedFunction, body: bytes = b"") -> str:
    """One asynchronous invocation, with an idempotency key; the id of its job."""
    answer = client.request("POST", f"/v1/functions/{fn.name}/invocations", body=body,
                            headers={"Prefer": "respond-async",
                                     "Idempotency-Key": uuid.uuid4().hex}, ok=(201,))
    return answer.json()["id"]


def invoke_many(client: Client, fn: RecordedFunction, count: int,
                body: Callable[[], bytes] = bytes) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: invoke(client, fn, body()), range(count)))


def wait_for(check: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)
    return value


def conclude(target: Target, scenario: str, fn: RecordedFunction, accepted: list[str],
             fault_ended: float) -> Report:
    """Wait for the jobs to settle, then audit them."""
    settled = settle(target.store, fn.name, target.settle_seconds)
    report = audit(scenario, accepted, target.store, target.objects, fn,
                   fault_ended=fault_ended, capacity=target.capacity)
    if not settled:
        report.problem(f"jobs were still queued or running {target.settle_seconds:.0f} s "
                       "after the fault")
    return report


class Arrivals(threading.Thread):
    """`count` invocations of `fn`, one every `spacing` seconds, made at once in a thread
    of their own: those `accepted` (their jobs' ids) and those `refused` (why)."""

    def __init__(self, client: Client, fn: RecordedFunction, count: int, spacing: float):
        super().__init__(name="arrivals")
        self.client, self.fn, self.count, self.spacing = client, fn, count, spacing
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.start()

    def run(self) -> None:
        for _ in range(self.count):
            try:
                self.accepted.append(invoke(self.client, self.fn))
            except ClientError as exc:
                self.refused.append(str(exc))
            time.sleep(self.spacing)

    def arrived(self) -> int:
        return len(self.accepted) + len(self.refused)


def kill_worker(target: Target, fleet: Fleet, jobs: int, seconds: float, kills: int = 1
                ) -> Report:
    """SIGKILL a worker while it runs jobs, `kills` times while invocations arrive at half
    the workers' capacity (so that the others have threads to take its jobs over at once),
    a new worker started in its place each time (as `sluice up` does)."""
    fn = target.function("killed-worker", seconds=seconds)
    arrivals = Arrivals(target.client, fn, jobs, 2 * seconds / target.capacity)
    killed_at = time.time()
    for kill in range(1, kills + 1):
        wait_for(lambda: arrivals.arrived() > kill * jobs // (kills + 1),
                 target.settle_seconds, "invocations arriving")
        victim = wait_for(lambda: _running_on(target.store, fn, fleet.workers),
                          target.settle_seconds, "a worker running a job")
        fleet.kill(victim)
        killed_at = time.time()
        fleet.start_worker()
    arrivals.join()
    return _concluded(target, "SIGKILL a worker mid-job", fn, arrivals, killed_at)


def _concluded(target: Target, scenario: str, fn: RecordedFunction, arrivals: Arrivals,
               fault_ended: float) -> Report:
    report = conclude(target, scenario, fn, arrivals.accepted, fault_ended)
    for text in arrivals.refused[:5]:
        report.problem(f"an invocation was refused: {text}")
    return report


def _running_on(store: JobStore, fn: RecordedFunction, workers: list):
    """A worker process that runs a job of `fn` right now."""
    owners = {job.owner for job in store.list_jobs(function=fn.name, status="running",
                                                   limit=500)}
    for worker in workers:
        if any(owner and f"/{worker.pid}/" in owner for owner in owners):
            return worker
    return None


def kill_gateway(target: Target, fleet: Fleet, waiters: int, seconds: float) -> Report:
    """SIGKILL the gateway while synchronous callers wait; start another. Each caller (the
    Python client) asks again with its idempotency key and must get its job's output."""
    fn = target.function("killed-gateway", seconds=seconds, mode="sync")
    keys = [uuid.uuid4().hex for _ in range(waiters)]
    answers: dict[str, tuple[float, object]] = {}

    def call(key: str) -> None:
        try:
            answer = target.client.invoke(fn.name, b"", {"Prefer": "wait=120"},
                                          ok=(200, 201, 202), key=key)
        except ClientError as exc:
            answer = exc
        answers[key] = (time.time(), answer)

    callers = [threading.Thread(target=call, args=(key,)) for key in keys]
    for caller in callers:
        caller.start()
    wait_for(lambda: len(target.store.list_jobs(function=fn.name, limit=waiters)) == waiters
             and fn.started_runs(), target.settle_seconds, "every caller's job made")
    fleet.kill(fleet.gateway)
    killed_at = time.time()
    fleet.start_gateway()
    for caller in callers:
        caller.join(target.settle_seconds + 60)
    # As the gateway keeps a caller's key: of the function's HTTP invocations.
    accepted = [target.store.get_job_by_key(f"{Trigger.HTTP}:{fn.name}:{key}").id
                for key in keys]
    report = conclude(target, "SIGKILL a gateway with waiters", fn, accepted, killed_at)
    runs = fn.runs()
    for key, job_id in zip(keys, accepted):
        _, answer = answers.get(key, (None, "no answer"))
        last = next((run for run in reversed(runs.get(job_id, [])) if run.ended), None)
        if isinstance(answer, (ClientError, str)) or answer.status != 200:
            report.problem(f"caller of job {job_id} got {getattr(answer, 'status', answer)}")
        elif last is None or answer.body != last.output(fn.outputs[0]):
            report.problem(f"caller of job {job_id} got {answer.body[:80]!r}, not its output")
    # The callers' answers are what the fault held here.
    answered = [at for at, _ in answers.values()]
    report.recovery_seconds = back_at_full_speed(answered, killed_at, target.capacity) \
        if len(answered) == waiters else None
    return report


def restart_broker(target: Target, node: OwnRabbitMQ, jobs: int, seconds: float,
                   outage: float, *, arriving: bool) -> Report:
    """Stop RabbitMQ's application for `outage` seconds and start it again: with every job
    invoked before (most of them queued in the broker), or, with `arriving`, invocations
    coming in steadily before, during and after the outage."""
    fn = target.function("broker-arriving" if arriving else "broker-queued", seconds=seconds)
    arrivals = Arrivals(target.client, fn, jobs, (outage + 4) / jobs if arriving else 0.0)
    if arriving:
        wait_for(lambda: arrivals.arrived() >= jobs // 4, target.settle_seconds,
                 "invocations arriving")
    else:
        arrivals.join()
        wait_for(fn.started_runs, target.settle_seconds, "a run starting")
    node.stop_app()
    time.sleep(outage)
    node.start_app()
    fault_ended = time.time()
    arrivals.join()
    return _concluded(target, "restart RabbitMQ, " + ("invocations arriving" if arriving
                                                      else "jobs queued"),
                      fn, arrivals, fault_ended)


def stop_object_store(target: Target, seaweed: SeaweedServer, jobs: int, seconds: float,
                      outage: float, *, during: str) -> Report:
    """Stop the S3 server for `outage` seconds, then start it again on the same data:
    `during` "stage-in", while attempts fetch their inputs (bodies large enough to be kept
    in S3), or "stage-out", while the functions run, so that their outputs cannot be
    uploaded. Every job must be retried (an infrastructure failure) and succeed once."""
    fn = target.function(f"objects-{during}", seconds=seconds)
    if during == "stage-in":
        # Every worker thread is held by a job of another function until the object store
        # is down, so that the function's attempts all begin without it. Twice as many as
        # there are threads: each worker takes twice its threads' worth of messages ahead.
        hold = target.function("hold", seconds=3600, outputs=())
        holders = invoke_many(target.client, hold, 2 * target.capacity)
        wait_for(lambda: len(target.store.list_jobs(function=hold.name, status="running",
                                                    limit=500)) >= target.capacity,
                 target.settle_seconds, "every worker thread held")
        accepted = invoke_many(target.client, fn, jobs, lambda: os.urandom(LARGE_INPUT))
        seaweed.stop()
        for job_id in holders:
            target.client.request("POST", f"/v1/jobs/{job_id}/cancel")
    else:
        accepted = invoke_many(target.client, fn, jobs)
        wait_for(lambda: fn.started_runs() >= min(jobs, target.capacity),
                 target.settle_seconds, "runs starting")
        seaweed.stop()
    time.sleep(outage)
    seaweed.start()
    seaweed.wait_ready()
    fault_ended = time.time()
    report = conclude(target, f"stop the object store during {during}", fn, accepted,
                      fault_ended)
    retried = sum(1 for job_id in accepted for attempt in target.store.list_attempts(job_id)
                  if attempt.reason == "unavailable")
    if not retried:
        report.problem(f"no attempt met the object store stopped during {during}")
    return report


def kill_stack(target: Target, stack: WholeStack, jobs: int, seconds: float) -> Report:
    """SIGKILL every process of `sluice up` at once while jobs run, and start it again on
    the same data directory."""
    fn = target.function("killed-stack", seconds=seconds)
    accepted = invoke_many(target.client, fn, jobs)
    wait_for(lambda: fn.started_runs() >= min(jobs, target.capacity) // 2 + 1,
             target.settle_seconds, "runs starting")
    stack.kill()
    stack.start()
    return conclude(target, "SIGKILL the whole stack", fn, accepted, time.time())
