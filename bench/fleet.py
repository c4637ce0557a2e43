"""Sluice's gateway and workers as processes of their own, for the fault scenarios: each runs
`sluice gateway` or `sluice worker` in a session of its own over the services its environment
names, and any of them can be killed outright and another started in its place."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.audit import UNCONFINED
from core.settings import S3Settings
from sluice.client import Client
from sluice.stack import healthy

COMMAND = [sys.executable, "-m", "sluice.cli"]


class Fleet:
    """`env` holds the SLUICE_* settings of every process (SLUICE_PORT and
    SLUICE_ADMIN_TOKEN among them); each process logs to a file of its own in `log_dir`."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir = env, log_dir
        self.url = f"http://127.0.0.1:{env['SLUICE_PORT']}"
        self.token = env["SLUICE_ADMIN_TOKEN"]
        self.gateway: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._all: list[tuple[subprocess.Popen, Path]] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def client(self, timeout: float = 90) -> Client:
        return Client(self.url, self.token, timeout=timeout)

    def start_gateway(self, timeout: float = 60) -> subprocess.Popen:
        """A gateway, once it answers on SLUICE_PORT."""
        self.gateway = self._spawn("gateway")
        deadline = time.monotonic() + timeout
        while not healthy(self.url):
            if self.gateway.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start:\n{self.logs()}")
            time.sleep(0.05)
        return self.gateway

    def start_worker(self, timeout: float = 60) -> subprocess.Popen:
        """A worker, once it consumes its queues."""
        worker = self._spawn("worker")
        log = self._all[-1][1]
        deadline = time.monotonic() + timeout
        while " started with " not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.logs()}")
            time.sleep(0.05)
        self.workers.append(worker)
        return worker

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would: nothing is cleaned
        up, and the functions it started are left to whatever stops them."""
        process.kill()
        process.wait()
        if process in self.workers:
            self.workers.remove(process)
        if process is self.gateway:
            self.gateway = None

    def stop(self) -> None:
        """Every process still running, as Ctrl-C stops them."""
        alive = [process for process, _ in self._all if process.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        for process in alive:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self, tail: int = 3000) -> str:
        """The end of each process's log, for a failure's message."""
        return "\n".join(f"--- {log.name} (exit {process.poll()})\n"
                         f"{log.read_text(errors='replace')[-tail:]}"
                         for process, log in self._all)

    def _spawn(self, role: str) -> subprocess.Popen:
        log = self.log_dir / f"{role}-{len(self._all) + 1}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(COMMAND + [role], env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self._all.append((process, log))
        return process


def fleet_env(*, data_dir: Path, database_url: str, broker_url: str, queue: str,
              s3: S3Settings, admin_token: str, port: int, work_dir: Path,
              **extra: str) -> dict[str, str]:
    """The environment of a fleet's processes: functions run unconfined (see
    `bench.audit`), with `extra` SLUICE_* settings over the defaults."""
    return dict(os.environ, SLUICE_DATA_DIR=str(data_dir), SLUICE_DATABASE_URL=database_url,
                SLUICE_BROKER_URL=broker_url, SLUICE_QUEUE=queue,
                SLUICE_ADMIN_TOKEN=admin_token, SLUICE_PORT=str(port),
                SLUICE_S3_URL=s3.url, SLUICE_S3_ACCESS_KEY=s3.access_key.reveal(),
                SLUICE_S3_SECRET_KEY=s3.secret_key.reveal(),
                SLUICE_S3_SYSTEM_BUCKET=s3.system_bucket, SLUICE_S3_BUCKET=s3.bucket,
                SLUICE_WORK_DIR=str(work_dir), SLUICE_LOG_LEVEL="INFO", **UNCONFINED, **extra)
