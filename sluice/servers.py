"""Server commands: `sluice gateway`, `sluice worker`, and `sluice up`, the whole stack on one
machine (SeaweedFS, RabbitMQ when reachable, the gateway and a worker pool)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from core.settings import Settings

log = logging.getLogger("sluice")


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("SLUICE_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pika", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # A timed wait: an untimed Event.wait in the main thread can miss the wake-up from a
    # handler that sets the same Event.
    while not stop.wait(0.5):
        pass


def gateway(args) -> None:
    from aiohttp import web

    from gateway.app import create_app
    _logging()
    settings = Settings.from_env()
    if args.port:
        settings = Settings.from_env(port=args.port)
    if settings.admin_token is None:
        log.warning("no admin token: set SLUICE_ADMIN_TOKEN; only function tokens will work")
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                access_log=None)


def worker(args) -> None:
    from broker.events import RabbitEvents
    from broker.setup import rabbitmq_broker
    from workers.service import WorkerService
    _logging()
    settings = Settings.from_env()
    if args.threads:
        import dataclasses
        settings = dataclasses.replace(
            settings, worker=dataclasses.replace(settings.worker, threads=args.threads))
    service = WorkerService(settings, rabbitmq_broker(settings.broker_url),
                            RabbitEvents(settings.broker_url))
    service.start()
    _wait_for_signal()
    log.info("worker stopping: finishing the jobs it has")
    service.stop()


def _secret_file(path: Path, make) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def up(args) -> int:
    from broker.setup import rabbitmq_reachable
    from sluice.seaweed import SeaweedServer
    _logging()
    started = time.monotonic()
    data_dir = Path(args.data_dir or os.environ.get("SLUICE_DATA_DIR") or ".sluice").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or int(os.environ.get("SLUICE_PORT") or 8080)
    env = dict(os.environ, SLUICE_DATA_DIR=str(data_dir), SLUICE_PORT=str(port),
               SLUICE_HOST="127.0.0.1")
    token = os.environ.get("SLUICE_ADMIN_TOKEN") or _secret_file(
        data_dir / "admin-token", lambda: secrets.token_urlsafe(32))
    env["SLUICE_ADMIN_TOKEN"] = token

    children: list[subprocess.Popen] = []
    seaweed = None
    if not os.environ.get("SLUICE_S3_URL"):
        keys = json.loads(_secret_file(data_dir / "s3-credentials.json", lambda: json.dumps({
            "access_key": secrets.token_hex(10), "secret_key": secrets.token_urlsafe(30)})))
        s3_port = int(os.environ.get("SLUICE_S3_PORT") or 8333)
        seaweed = SeaweedServer(data_dir / "seaweedfs", s3_port, keys["access_key"],
                                keys["secret_key"])
        seaweed.start()
        env.update(SLUICE_S3_URL=seaweed.url, SLUICE_S3_ACCESS_KEY=keys["access_key"],
                   SLUICE_S3_SECRET_KEY=keys["secret_key"])
    settings = Settings.from_env(env)
    if not rabbitmq_reachable(settings.broker_url):
        log.error("RabbitMQ is not reachable at %s. Start it (rabbitmq-server -detached) or "
                  "set SLUICE_BROKER_URL.", _without_password(settings.broker_url))
        if seaweed:
            seaweed.stop()
        return 1
    metrics_dir = data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        if seaweed:
            seaweed.wait_ready()
        _migrate(settings)
        command = [sys.executable, "-m", "sluice.cli"]
        workers = [subprocess.Popen(command + ["worker"], env=env)
                   for _ in range(max(1, args.workers))]
        gateway = subprocess.Popen(command + ["gateway"], env=env)
        children.extend(workers + [gateway])
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, children)
        _banner(url, data_dir, time.monotonic() - started, settings)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(0.5):
            if gateway.poll() is not None:
                log.error("the gateway exited with %s; stopping the stack", gateway.returncode)
                return 1
            for index, process in enumerate(workers):
                if process.poll() is not None:
                    log.warning("worker %d exited with %s; starting another (its unfinished "
                                "jobs run again)", process.pid, process.returncode)
                    children.remove(process)
                    workers[index] = subprocess.Popen(command + ["worker"], env=env)
                    children.append(workers[index])
        return 0
    finally:
        _stop(children)
        if seaweed:
            seaweed.stop()
        print("sluice: stopped", file=sys.stderr)


def _migrate(settings: Settings) -> None:
    from core.store import JobStore
    store = JobStore(settings.database_url)
    try:
        store.migrate()
    finally:
        store.close()


def _healthy(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
        return True
    except OSError:
        return False


def _wait_healthy(url: str, children: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise SystemExit("sluice: a process failed to start; see the messages above")
        if _healthy(url):
            return
        time.sleep(0.05)
    raise SystemExit(f"sluice: the gateway did not answer on {url} within {timeout:.0f} s")


def _stop(children: list[subprocess.Popen]) -> None:
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _banner(url: str, data_dir: Path, elapsed: float, settings: Settings) -> None:
    print(f"""
Sluice is up in {elapsed:.1f} s.

  API          {url}   (metrics at {url}/metrics)
  admin token  {data_dir / 'admin-token'}
  S3           {settings.s3.url}  (credentials in {data_dir / 's3-credentials.json'})
  job store    {settings.database_url}
  broker       RabbitMQ at {_without_password(settings.broker_url)}

Try it, in another terminal:
  .venv/bin/sluice deploy -f examples/hello.yaml
  .venv/bin/sluice invoke hello --text world

Ctrl-C stops everything.
""", flush=True)
