"""Faults on a real stack of separate processes, each scenario ending with the audit of
`bench.audit`: every accepted job ended once and as expected, its outputs in the object store
once and from its last run, no two runs of one job at the same time, nothing of it left
running, nothing queued or running for good. `bench.faults` runs the same at scale."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from bench import scenarios
from bench.audit import UNCONFINED
from bench.fleet import Fleet
from core.objects import ObjectStore
from core.settings import Settings
from core.store import JobStore
from sluice.client import Client
from sluice.ports import free_port_block
from tests.fixtures.seaweed import s3_settings_for, start_seaweed
from tests.fixtures.stack import delete_queues, settings_env, unconfined
from tests.fixtures.up import UpStack

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
WORKERS, THREADS = 2, 2


@pytest.fixture
def fleet_target(tmp_path, settings):
    """`make(threads=N, **changes)`: a gateway and two workers of N threads over `settings`
    with `changes` (another store, broker or S3 server), and the scenario's target on them."""
    made: list[tuple[Fleet, scenarios.Target, Settings | None]] = []

    def make(*, on_machine_broker: bool = True, threads: int = THREADS, **changes
             ) -> tuple[Fleet, scenarios.Target]:
        changed = unconfined(dataclasses.replace(
            settings, queue=f"sluice-faults-{secrets.token_hex(4)}", **changes))
        env = settings_env(changed) | {
            "SLUICE_PORT": str(free_port_block(1)), "SLUICE_WORK_DIR": str(tmp_path / "work"),
            "SLUICE_WORKER_THREADS": str(threads), "SLUICE_LOG_LEVEL": "INFO",
            # Enough attempts to outlast the outages; queued jobs swept only after a minute,
            # so that the sweeper hides no slow recovery.
            "SLUICE_MAX_ATTEMPTS": "12", "SLUICE_REQUEUE_AFTER": "60"}
        fleet = Fleet(env, tmp_path / "logs")
        store = JobStore(changed.database_url)
        target = scenarios.Target(
            client=fleet.client(), store=store, objects=ObjectStore(changed.s3),
            bucket=changed.s3.bucket, directory=tmp_path / "runs",
            capacity=WORKERS * threads, settle_seconds=40)
        made.append((fleet, target, changed if on_machine_broker else None))
        fleet.start_gateway()
        for _ in range(WORKERS):
            fleet.start_worker()
        return fleet, target

    yield make
    for fleet, target, queues_of in made:
        fleet.stop()
        target.stop_left_running()
        if queues_of is not None:
            delete_queues(queues_of)
        target.store.close()


def audited(report, fleet: Fleet | None = None) -> None:
    assert report.clean, f"{report}\n{fleet.logs() if fleet else ''}"


def test_a_worker_killed_mid_job_loses_nothing_and_runs_nothing_twice(database_url,
                                                                      fleet_target):
    # Threads to spare, so that the other worker takes the dead one's jobs over at once.
    fleet, target = fleet_target(database_url=database_url, threads=4)
    report = scenarios.kill_worker(target, fleet, jobs=6, seconds=3)
    audited(report, fleet)
    assert report.succeeded == 6


def test_callers_of_a_killed_gateway_get_their_results_by_their_keys(fleet_target):
    fleet, target = fleet_target()
    report = scenarios.kill_gateway(target, fleet, waiters=6, seconds=2)
    audited(report, fleet)
    assert report.succeeded == 6


@pytest.mark.parametrize("arriving", [False, True], ids=["jobs-queued", "invocations-arriving"])
def test_a_broker_restart_loses_no_job_and_runs_none_twice(fleet_target, own_rabbitmq,
                                                           arriving):
    fleet, target = fleet_target(on_machine_broker=False, broker_url=own_rabbitmq.url)
    report = scenarios.restart_broker(target, own_rabbitmq, jobs=16, seconds=0.5, outage=3,
                                      arriving=arriving)
    audited(report, fleet)
    assert report.succeeded == 16


@pytest.fixture
def own_seaweed(tmp_path):
    """A SeaweedFS of the test's own, which it may stop: the session's serves others."""
    server = start_seaweed(tmp_path / "seaweed")
    yield server
    server.stop()


@pytest.mark.parametrize("during", ["stage-in", "stage-out"])
def test_jobs_that_meet_the_object_store_stopped_are_retried_and_succeed_once(
        fleet_target, own_seaweed, during):
    fleet, target = fleet_target(s3=s3_settings_for(own_seaweed))
    report = scenarios.stop_object_store(target, own_seaweed, jobs=6, seconds=1.5, outage=4,
                                         during=during)
    audited(report, fleet)
    assert report.succeeded == 6


def test_a_whole_stack_killed_and_started_again_finishes_every_accepted_job(tmp_path,
                                                                           database_url):
    stack = UpStack(tmp_path, SLUICE_DATABASE_URL=database_url, **UNCONFINED,
                    SLUICE_WORK_DIR=str(tmp_path / "work"), SLUICE_WORKER_THREADS=str(THREADS))
    target = scenarios.Target(
        client=Client(stack.url, stack.token, timeout=90), store=JobStore(stack.database_url),
        objects=ObjectStore(stack.s3_settings()), bucket="sluice-data",
        directory=tmp_path / "runs", capacity=THREADS, settle_seconds=40)
    try:
        report = scenarios.kill_stack(target, stack, jobs=6, seconds=1.5)
        assert report.clean, f"{report}\n{stack.log.read_text()[-4000:]}"
        assert report.succeeded == 6
    finally:
        stack.stop()
        target.stop_left_running()
        delete_queues(Settings.from_env(stack.env))
        target.store.close()
