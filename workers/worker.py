"""A worker process (`sluice worker`): its job context, executor and runner, the Dramatiq
worker threads, leases, the log shipper, the results collector, the sweeper, the janitor,
the callback sender, and the discovery of new functions' queues."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import dramatiq

from broker.events import Events
from broker.publishing import function_queue
from core.blobs import Blobs
from core.objects import ObjectStore
from core.periodic import Periodic
from core.settings import INTERRUPT_SECONDS, Settings, WorkerSettings
from jobs.context import JobContext
from jobs.retention import Janitor
from workers.actors import declare_actors
from workers.callbacks import CallbackSender
from workers.executors.base import Executor
from workers.executors.process import ProcessExecutor
from workers.executors.sandbox import Sandbox
from workers.leases import Leases, new_owner
from workers.reaper import Reaper
from workers.results import ResultsCollector
from workers.running import JobRunner
from workers.shipping import LogShipper
from workers.staging import LocalStaging
from workers.sweeper import Sweeper
from workers.workdir import remove_stale_workdirs

log = logging.getLogger(__name__)
DISCOVERY_SECONDS = 0.5


def _keep_private(data_dir: Path) -> None:
    """The data directory holds the tokens, the S3 keys and the job store: only its owner
    may enter it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if data_dir.stat().st_uid == os.geteuid():
        data_dir.chmod(0o700)


def build_executor(settings: WorkerSettings, objects: ObjectStore, blobs: Blobs,
                   owner: str, data_dir: Path, reaper: Reaper) -> Executor:
    """The executor named by SLUICE_EXECUTOR; the Docker and Kubernetes clients are imported
    only by the workers that use them."""
    if settings.executor == "kubernetes":
        from workers.executors.kubernetes import KubernetesExecutor
        from workers.executors.kubernetes_api import KubernetesApi
        return KubernetesExecutor(KubernetesApi(settings.kubernetes.namespace), objects, blobs,
                                  cluster=settings.kubernetes, pull_policy=settings.pull_policy,
                                  worker=owner)
    staging = LocalStaging(objects, blobs)
    if settings.executor == "container":
        from workers.executors.container import ContainerExecutor
        executor = ContainerExecutor(settings.container_host, settings.pull_policy, staging)
        executor.remove_orphans()
        return executor
    sandbox = Sandbox.configure(settings.process, data_dir)
    log.info("functions run %s", sandbox.describe())
    return ProcessExecutor(staging, sandbox, reaper)


class Worker:
    """With `functions`, it serves those functions' queues only (a worker pool); otherwise
    every function's, discovering new ones as they are deployed."""

    def __init__(self, settings: Settings, broker: dramatiq.Broker, events: Events,
                 functions: list[str] | None = None, *, objects: ObjectStore | None = None):
        self.settings, self.broker = settings, broker
        self.context = JobContext.build(settings, broker=broker, events=events, objects=objects)
        self.leases = Leases(self.context.store, new_owner(), settings.worker.heartbeat_seconds,
                             settings.worker.lease_seconds)
        self.reaper = Reaper(self.leases.owner)
        try:
            executor = build_executor(settings.worker, self.context.objects, self.context.blobs,
                                      self.leases.owner, settings.data_dir, self.reaper)
        except BaseException:
            self.reaper.close()
            self.context.close()
            raise
        self.shipper = LogShipper(self.context.store)
        self.results = ResultsCollector(self.context.store,
                                        ttl_seconds=settings.worker.results_ttl_seconds)
        self.runner = JobRunner(
            store=self.context.store, blobs=self.context.blobs, catalog=self.context.catalog,
            finisher=self.context.finisher, executor=executor, leases=self.leases,
            shipper=self.shipper, results=self.results, workdir=settings.worker.work_dir,
            retry=settings.worker.retry)
        self.sweeper = Sweeper(self.context.store, self.context.publisher, settings.worker)
        self.janitor = Janitor(self.context.store, self.context.objects, self.context.catalog,
                               default_retention=settings.worker.retention_seconds,
                               interval=settings.worker.janitor_interval_seconds)
        self.callbacks = CallbackSender(self.context.store, self.context.catalog,
                                        settings.worker.callback)
        declare_actors(broker, self.runner, settings.queue)
        self.functions = functions
        queues = {function_queue(settings.queue, f) for f in functions} if functions else None
        self.worker = dramatiq.Worker(broker, queues=queues, worker_timeout=100,
                                      worker_threads=settings.worker.threads)
        self.discovery = Periodic("sluice-queue-discovery", DISCOVERY_SECONDS,
                                  self.discover_queues)

    def start(self) -> None:
        _keep_private(self.settings.data_dir)
        self.context.prepare()
        remove_stale_workdirs(self.runner.workdir)
        self.leases.start()
        self.shipper.start()
        self.results.start()
        self.worker.start()
        self.discover_queues()
        if not self.functions:
            # Jobs of functions deleted since they were queued still run as invoked.
            for name in self.context.store.active_functions():
                self.broker.declare_queue(function_queue(self.settings.queue, name))
            self.discovery.start()
        self.sweeper.start()
        self.janitor.start()
        self.callbacks.start()
        log.info("worker %s started with %d threads, executor %s", self.leases.owner,
                 self.settings.worker.threads, self.settings.worker.executor)

    def discover_queues(self) -> None:
        """Consume the queue of every function served (Dramatiq starts a consumer for a
        queue declared while the worker runs)."""
        names = self.functions or [fn.name for fn in self.context.catalog.all(fresh=True)]
        for name in names:
            self.broker.declare_queue(function_queue(self.settings.queue, name))

    def stop(self) -> None:
        """Take no more work, let the running jobs finish within `SLUICE_WORKER_SHUTDOWN`,
        then end the rest as interrupted attempts, queued again for other workers."""
        self.discovery.stop()
        self.sweeper.stop()
        self.janitor.stop()
        threads = list(self.worker.workers)
        for thread in threads:
            thread.stop()
        deadline = time.monotonic() + self.settings.worker.shutdown_seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            log.info("worker %s: %d jobs still running after %.0f s; interrupting them",
                     self.leases.owner, self.leases.interrupt_all(),
                     self.settings.worker.shutdown_seconds)
        self.worker.stop(timeout=int(INTERRUPT_SECONDS * 1000))
        self.runner.executor.close()
        self.reaper.close()
        self.callbacks.stop()
        self.shipper.stop()
        self.results.stop()
        self.leases.stop()
        self.context.close()
