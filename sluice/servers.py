"""Server commands: `sluice gateway`, `worker`, `listener`, and the staging steps."""

from __future__ import annotations

import logging
import os
import signal
import time

from core import config
from core.errors import Invalid
from core.settings import Settings

log = logging.getLogger("sluice")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure_logging() -> None:
    level = (config.load().values.get("SLUICE_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise Invalid(f"SLUICE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                      f"not {level!r}")
    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # pika logs every refused connection as an error with a traceback; Sluice's consumers
    # and Dramatiq's say it in one line, and try again.
    logging.getLogger("pika").setLevel(logging.CRITICAL)


def serve_metrics(settings: Settings) -> None:
    """Workers and listeners in a cluster: /metrics on SLUICE_METRICS_PORT, if set, for
    Prometheus and for the probes."""
    if settings.metrics_port:
        from prometheus_client import start_http_server
        start_http_server(settings.metrics_port, addr=settings.host)


class StopSignals:
    """SIGINT and SIGTERM, caught as a flag. The handler takes no lock: it runs in the main
    thread between any two steps, so a second Ctrl-C arriving while the first is handled
    would deadlock on an Event's lock, which the main thread may hold already."""

    def __init__(self):
        self.received = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, *_) -> None:
        self.received = True

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, less once a signal came; whether one has."""
        deadline = time.monotonic() + seconds
        while not self.received and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
        return self.received


def _wait_for_signal() -> None:
    signals = StopSignals()
    while not signals.wait(3600):
        pass


def gateway(args) -> None:
    from gateway import serving
    from gateway.app import create_app
    configure_logging()
    settings = Settings.from_env(**({"port": args.port} if args.port else {}))
    if settings.admin_token is None:
        log.warning("no admin token: set SLUICE_ADMIN_TOKEN; only function tokens will work")
    if not args.in_process:
        serving.run(create_app(settings), settings.host, settings.port)
        return
    from broker.events import LocalEvents
    from broker.setup import in_process_broker
    from storage_events.listener import Listener
    from workers.worker import Worker
    broker, events = in_process_broker(), LocalEvents()
    workers = Worker(settings, broker, events)
    workers.start()
    listener = Listener(settings, broker, events)
    listener.start()
    # The in-process queue starts empty: what the store holds unfinished is run again.
    workers.sweeper.requeue_unfinished()
    try:
        serving.run(create_app(settings, broker=broker, events=events), settings.host,
                    settings.port)
    finally:
        listener.stop()
        workers.stop()


def worker(args) -> None:
    from broker.events import RabbitEvents
    from broker.setup import rabbitmq_broker
    from workers.worker import Worker
    configure_logging()
    settings = Settings.from_env()
    if args.threads:
        import dataclasses
        settings = dataclasses.replace(
            settings, worker=dataclasses.replace(settings.worker, threads=args.threads))
    functions = [f.strip() for f in (args.functions or "").split(",") if f.strip()] or None
    service = Worker(settings, rabbitmq_broker(settings.broker_url),
                     RabbitEvents(settings.broker_url, settings.queue), functions)
    service.start()
    serve_metrics(settings)
    _wait_for_signal()
    log.info("worker stopping: finishing the jobs it has")
    service.stop()


def listener(args) -> None:
    from broker.events import RabbitEvents
    from broker.setup import rabbitmq_broker
    from storage_events.listener import Listener
    configure_logging()
    settings = Settings.from_env()
    service = Listener(settings, rabbitmq_broker(settings.broker_url),
                       RabbitEvents(settings.broker_url, settings.queue))
    service.start()
    serve_metrics(settings)
    _wait_for_signal()
    service.stop()


def staging(args) -> int:
    """`sluice stage-in` and `sluice stage-out`: the Sluice containers of a Kubernetes Job's
    pod (see workers.pod_staging)."""
    from pathlib import Path

    from core.errors import SluiceError
    from core.objects import ObjectStore
    from workers import pod_staging
    configure_logging()
    root = Path(args.dir or os.environ.get("SLUICE_DIR") or pod_staging.ROOT)
    try:
        plan = pod_staging.StagingPlan.from_env()
        objects = ObjectStore(Settings.from_env().s3)
        if args.step == "in":
            path = pod_staging.stage_in(plan, objects, root)
            log.info("job %s: input staged as %s", plan.job, path)
        else:
            result = pod_staging.stage_out(plan, objects, root)
            log.info("job %s: exit code %s, %d output(s) uploaded", plan.job,
                     result["exit_code"], len(result["outputs"]))
    except SluiceError as exc:
        log.error("staging failed: %s", exc.detail)
        return 1
    return 0


def follow_stdout(args) -> int:
    """`sluice follow-stdout`: the stdout sidecar of a Kubernetes Job's pod. It logs nothing:
    everything it prints is the function's stdout."""
    import sys
    from pathlib import Path

    from workers import pod_staging
    root = Path(args.dir or os.environ.get("SLUICE_DIR") or pod_staging.ROOT)
    pod_staging.follow_stdout(sys.stdout.buffer, root)
    return 0
