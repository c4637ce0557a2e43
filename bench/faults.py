"""The fault scenarios of the test suite at scale, on SQLite or PostgreSQL, each ending with
the audit of `bench.audit`; prints one row per scenario: accepted, succeeded, failed, lost,
duplicated, concurrent double runs, stuck, left running, and the time to recover.

Gateway and workers run as separate processes (`bench.fleet`) with the settings a user gets
by default, over an S3 server of the bench's own (stopped and started by the object-store
scenarios), the machine's RabbitMQ, and, for the broker restarts, a RabbitMQ node of the
bench's own (which needs root). The whole-stack scenario kills `sluice up` outright.

Usage: .venv/bin/python -m bench.faults [--jobs 200] [--seconds 1] [--workers 2]
         [--threads 8] [--outage 5] [--stores sqlite,postgresql] [--scenarios worker,...]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

try:
    import psycopg

    from bench import scenarios
    from bench.audit import UNCONFINED, Report
    from bench.fleet import Fleet, fleet_env
    from bench.rabbitmq import OwnRabbitMQ
    from bench.stack import BROKER, Stack, delete_queues, require_rabbitmq
    from core.objects import ObjectStore
    from core.settings import S3Settings, Secret
    from core.store import JobStore
    from sluice.client import Client, ClientError
    from sluice.ports import free_port_block
    from sluice.seaweed import SeaweedServer
except ModuleNotFoundError as missing:
    sys.exit(f"bench: {missing.name} is missing: run `make install`, then "
             ".venv/bin/python -m bench.faults")

SCENARIOS = ("worker", "gateway", "broker-queued", "broker-arriving", "stage-in", "stage-out",
             "stack")
POSTGRES = os.environ.get("SLUICE_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_RECOVERY_TARGET = 10.0
COLUMNS = (("scenario", 48), ("accepted", 9), ("succeeded", 10), ("failed", 7), ("lost", 5),
           ("duplicated", 11), ("concurrent double runs", 23), ("stuck", 6),
           ("left running", 13), ("time to recover (s)", 20), ("all done (s)", 13))


@contextlib.contextmanager
def database(kind: str, directory: Path):
    """A fresh database: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'sluice.db'}"
        return
    name = f"sluice_faults_{secrets.token_hex(5)}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        sys.exit(f"bench: PostgreSQL is not reachable at {POSTGRES}: start it or set "
                 "SLUICE_TEST_POSTGRES_URL, or leave it out of --stores")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Bench:
    """The services every scenario shares, started once: an S3 server and, when a broker
    scenario asks for it, a RabbitMQ node of the bench's own."""

    def __init__(self, args: argparse.Namespace, directory: Path):
        self.args, self.directory = args, directory
        self.seaweed = SeaweedServer(directory / "seaweed", free_port_block(5, also_plus=10000),
                                     secrets.token_hex(8), secrets.token_hex(16))
        self.seaweed.start()
        self.seaweed.wait_ready()
        self.s3 = S3Settings(url=self.seaweed.url, access_key=Secret(self.seaweed.access_key),
                             secret_key=Secret(self.seaweed.secret_key),
                             system_bucket="bench-faults-system", bucket="bench-faults-data")
        self.node: OwnRabbitMQ | None = None

    def own_rabbitmq(self) -> OwnRabbitMQ:
        if self.node is None:
            if os.geteuid() != 0 or shutil.which("rabbitmq-server") is None:
                raise RuntimeError("the broker scenarios need root and rabbitmq-server")
            node_dir = Path(tempfile.mkdtemp(prefix="sluice-rabbitmq-", dir="/var/tmp"))
            self.node = OwnRabbitMQ(node_dir)
            self.node.start()
        return self.node

    def close(self) -> None:
        if self.node is not None:
            self.node.stop()
            shutil.rmtree(self.node.directory, ignore_errors=True)
        self.seaweed.stop()

    def run(self, scenario: str, store: str) -> Report:
        work = Path(tempfile.mkdtemp(prefix=f"{scenario}-", dir=self.directory))
        with database(store, work) as url:
            report = self._stack(work, url) if scenario == "stack" \
                else self._on_fleet(scenario, work, url)
        report.scenario = f"{report.scenario} ({store})"
        return report

    def _on_fleet(self, scenario: str, work: Path, url: str) -> Report:
        args = self.args
        own_broker = scenario.startswith("broker")
        env = fleet_env(data_dir=work / "data", database_url=url,
                        broker_url=self.own_rabbitmq().url if own_broker else BROKER,
                        queue=f"sluice-faults-{secrets.token_hex(4)}", s3=self.s3,
                        admin_token=secrets.token_urlsafe(24), port=free_port_block(1),
                        work_dir=work / "work", SLUICE_WORKER_THREADS=str(args.threads))
        fleet = Fleet(env, work / "logs")
        target = self._target(fleet.client(), JobStore(url), ObjectStore(self.s3),
                              self.s3.bucket, work)
        try:
            fleet.start_gateway()
            for _ in range(args.workers):
                fleet.start_worker()
            jobs, seconds, outage = args.jobs, args.seconds, args.outage
            if scenario == "worker":
                return scenarios.kill_worker(target, fleet, jobs, seconds,
                                             kills=max(1, jobs // 100))
            if scenario == "gateway":
                return scenarios.kill_gateway(target, fleet, jobs, seconds)
            if own_broker:
                return scenarios.restart_broker(target, self.own_rabbitmq(), jobs, seconds,
                                                outage, arriving=scenario.endswith("arriving"))
            return scenarios.stop_object_store(target, self.seaweed, jobs, seconds, outage,
                                               during=scenario)
        finally:
            functions = _function_names(fleet.client(timeout=10))
            fleet.stop()
            target.stop_left_running()
            if not own_broker:
                delete_queues(env["SLUICE_QUEUE"], functions)
            target.store.close()

    def _stack(self, work: Path, url: str) -> Report:
        settings = {"SLUICE_WORKER_THREADS": str(self.args.threads), **UNCONFINED}
        if not url.startswith("sqlite"):
            settings["SLUICE_DATABASE_URL"] = url
        with Stack(self.args.workers, **settings) as stack:
            target = self._target(Client(stack.url, stack.token, timeout=120),
                                  JobStore(stack.database_url),
                                  ObjectStore(stack.s3_settings()), "sluice-data", work)
            try:
                return scenarios.kill_stack(target, stack, self.args.jobs, self.args.seconds)
            finally:
                target.stop_left_running()
                target.store.close()

    def _target(self, client: Client, store: JobStore, objects: ObjectStore, bucket: str,
                work: Path) -> scenarios.Target:
        return scenarios.Target(client=client, store=store, objects=objects, bucket=bucket,
                                directory=work / "runs",
                                capacity=self.args.workers * self.args.threads,
                                settle_seconds=self.args.settle)


def _function_names(client: Client) -> list[str]:
    try:
        return [fn["name"] for fn in client.json("GET", "/v1/functions")["functions"]]
    except ClientError:
        return []


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def print_table(reports: list[Report]) -> None:
    print("".join(f"{title:>{width}}" if i else f"{title:<{width}}"
                  for i, (title, width) in enumerate(COLUMNS)))
    for report in reports:
        values = (report.scenario, report.accepted, report.succeeded, report.failed,
                  report.lost, report.duplicated, report.concurrent, report.stuck,
                  report.left_running, report.recovery_seconds, report.drained_seconds)
        print("".join(f"{_cell(value):>{width}}" if i else f"{_cell(value):<{width}}"
                      for i, (value, (_, width)) in enumerate(zip(values, COLUMNS))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs (or waiters) per scenario")
    parser.add_argument("--seconds", type=float, default=1.0, help="how long each run lasts")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="per worker")
    parser.add_argument("--outage", type=float, default=5.0,
                        help="seconds the broker or the object store stays down")
    parser.add_argument("--settle", type=float, default=300.0,
                        help="seconds the jobs may take to end after the fault")
    parser.add_argument("--stores", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"some of {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    chosen = [name for name in args.scenarios.split(",") if name]
    stores = [name for name in args.stores.split(",") if name]
    unknown = [n for n in chosen if n not in SCENARIOS] + \
        [s for s in stores if s not in ("sqlite", "postgresql")]
    if unknown:
        sys.exit(f"bench: unknown {', '.join(unknown)}; see --help")
    require_rabbitmq()
    directory = Path(tempfile.mkdtemp(prefix="sluice-faults-", dir="/var/tmp"))
    bench = Bench(args, directory)
    reports: list[Report] = []
    finished = False
    try:
        for store in stores:
            for scenario in chosen:
                report = bench.run(scenario, store)
                print(report if not report.clean else f"{report.scenario}: clean",
                      file=sys.stderr, flush=True)
                reports.append(report)
        finished = True
    finally:
        bench.close()
        if finished and all(report.clean for report in reports):
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print(f"bench: the runs' records and the processes' logs are in {directory}",
                  file=sys.stderr)
    print_table(reports)
    for report in reports:
        if "RabbitMQ" in report.scenario:
            within = report.recovery_seconds is not None and \
                report.recovery_seconds <= BROKER_RECOVERY_TARGET
            print(f"{report.scenario}: recovered in {_cell(report.recovery_seconds)} s "
                  f"({'within' if within else 'NOT within'} {BROKER_RECOVERY_TARGET:.0f} s)")
    print(json.dumps([dataclasses.asdict(report) for report in reports]))
    if not all(report.clean for report in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
