"""Assembles a worker: store, object store, runner, Dramatiq worker threads, leases, sweeper."""

from __future__ import annotations

import logging

import dramatiq

from broker.events import Events
from broker.publishing import JobPublisher, function_queue
from core.blobs import Blobs
from core.catalog import FunctionCatalog
from core.errors import Invalid
from core.objects import ObjectStore
from core.periodic import Periodic
from core.settings import Settings, WorkerSettings
from core.store import JobStore
from workers.actors import declare_actors
from workers.executors.process import ProcessExecutor
from workers.leases import Leases, new_owner
from workers.running import JobRunner
from workers.staging import remove_stale_workdirs
from workers.sweeper import Sweeper

log = logging.getLogger(__name__)
EXECUTORS = ("process", "container", "kubernetes")
DISCOVERY_SECONDS = 0.5


def build_executor(settings: WorkerSettings, objects: ObjectStore, blobs: Blobs, owner: str):
    """The executor named by SLUICE_EXECUTOR; the Docker and Kubernetes clients are imported
    only by the workers that use them."""
    if settings.executor == "container":
        from workers.executors.container import ContainerExecutor
        executor = ContainerExecutor(settings.container_host, settings.pull_policy)
        executor.remove_orphans()
        return executor
    if settings.executor == "kubernetes":
        from workers.executors.cluster import KubernetesExecutor
        from workers.executors.kubernetes import KubernetesApi
        return KubernetesExecutor(KubernetesApi(settings.kubernetes.namespace), objects, blobs,
                                  cluster=settings.kubernetes, pull_policy=settings.pull_policy,
                                  worker=owner)
    return ProcessExecutor()


class WorkerService:
    """A worker. With `functions`, it serves those functions' queues only (a worker pool);
    otherwise every function's, discovering new ones as they are deployed."""

    def __init__(self, settings: Settings, broker: dramatiq.Broker, events: Events,
                 functions: list[str] | None = None):
        if settings.worker.executor not in EXECUTORS:
            raise Invalid(f"SLUICE_EXECUTOR must be one of {', '.join(EXECUTORS)}, "
                          f"not {settings.worker.executor!r}")
        self.settings, self.broker = settings, broker
        self.store = JobStore(settings.database_url)
        self.objects = ObjectStore(settings.s3)
        blobs = Blobs(self.store, self.objects, settings.s3.system_bucket, settings.inline_max)
        self.leases = Leases(self.store, new_owner(), settings.worker.heartbeat_seconds,
                             settings.worker.lease_seconds)
        self.runner = JobRunner(
            store=self.store, objects=self.objects, blobs=blobs, events=events,
            executor=build_executor(settings.worker, self.objects, blobs, self.leases.owner),
            leases=self.leases,
            workdir=settings.data_dir.resolve() / "work", bucket=settings.s3.bucket)
        self.sweeper = Sweeper(self.store, JobPublisher(broker, settings.queue), settings.worker)
        declare_actors(broker, self.runner, settings.queue)
        self.functions = functions
        queues = {function_queue(settings.queue, f) for f in functions} if functions else None
        self.worker = dramatiq.Worker(broker, queues=queues, worker_timeout=100,
                                      worker_threads=settings.worker.threads)
        self.discovery = Periodic("sluice-queue-discovery", DISCOVERY_SECONDS,
                                  self.discover_queues)
        self.catalog = FunctionCatalog(self.store)

    def start(self) -> None:
        self.store.migrate()
        self.objects.ensure_bucket(self.settings.s3.system_bucket)
        remove_stale_workdirs(self.runner.workdir)
        self.leases.start()
        self.worker.start()
        self.discover_queues()
        if not self.functions:
            self.discovery.start()
        self.sweeper.start()
        log.info("worker %s started with %d threads, executor %s", self.leases.owner,
                 self.settings.worker.threads, self.settings.worker.executor)

    def discover_queues(self) -> None:
        """Consume the queue of every function served (Dramatiq starts a consumer for a
        queue declared while the worker runs)."""
        names = self.functions or [fn.name for fn in self.catalog.all(fresh=True)]
        for name in names:
            self.broker.declare_queue(function_queue(self.settings.queue, name))

    def stop(self) -> None:
        self.discovery.stop()
        self.sweeper.stop()
        self.worker.stop(timeout=int(self.settings.worker.shutdown_seconds * 1000))
        self.leases.stop()
        self.store.close()
