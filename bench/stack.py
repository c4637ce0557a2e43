"""The one-machine stack the benches measure: `sluice up` in a temporary directory, on free
ports, against the machine's RabbitMQ, with its queues deleted afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pika

from broker.setup import rabbitmq_reachable
from core.settings import S3Settings, Secret
from sluice.ports import free_port_block, in_use

BROKER = os.environ.get("SLUICE_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")


def require_rabbitmq() -> None:
    """Stop the bench with one line when RabbitMQ, which it compares against, is away."""
    if not rabbitmq_reachable(BROKER):
        sys.exit(f"bench: RabbitMQ is not reachable at {BROKER.rpartition('@')[2]}: start it "
                 "(rabbitmq-server -detached, or `make test` once) or set SLUICE_BROKER_URL")


class Stack:
    """`sluice up` in a temporary directory, on free ports."""

    def __init__(self, workers: int, **settings: str):
        """`settings`: SLUICE_* variables for this stack."""
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
        self.port = free_port_block(1)
        self.env = dict(os.environ, SLUICE_DATA_DIR=str(self.dir), SLUICE_PORT=str(self.port),
                        SLUICE_S3_PORT=str(free_port_block(5, also_plus=10000)),
                        SLUICE_QUEUE=f"sluice-bench-{secrets.token_hex(4)}",
                        SLUICE_LOG_LEVEL="WARNING", **settings)
        self.workers = workers

    def __enter__(self) -> Stack:
        self.start()
        return self

    def start(self) -> None:
        """Start `sluice up`, on this stack's data directory, and wait until it is up."""
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sluice.cli", "up", "--workers", str(self.workers)],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        for line in self.process.stdout:
            if "Sluice is up" in line:
                break
        else:
            sys.exit(f"bench: `sluice up` did not start; run it by hand to see why "
                     f"(SLUICE_DATA_DIR={self.dir})")
        self.ready_seconds = time.monotonic() - started
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = (self.dir / "admin-token").read_text().strip()

    def kill(self) -> None:
        """SIGKILL every process of the stack at once, as a lost machine would, and wait
        until what they leave behind (SeaweedFS, stopped by its parent's death) is gone."""
        kill_group(self.process, [self.port] + self.s3_ports())

    def s3_ports(self) -> list[int]:
        base = int(self.env["SLUICE_S3_PORT"])
        return [base + i for i in range(5)] + [base + 10000 + i for i in range(5)]

    def s3_settings(self) -> S3Settings:
        """The embedded S3 server's, with the credentials `sluice up` made."""
        return embedded_s3(self.dir, int(self.env["SLUICE_S3_PORT"]))

    @property
    def database_url(self) -> str:
        return self.env.get("SLUICE_DATABASE_URL") or f"sqlite:///{self.dir / 'sluice.db'}"

    def child(self, role: str) -> int:
        """The pid of the stack's process running `sluice ROLE`."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid and \
                    argv[-2:-1] == [role.encode()]:
                return int(entry.name)
        raise LookupError(f"no {role} process")

    def __exit__(self, *exc) -> None:
        request = urllib.request.Request(f"{self.url}/v1/functions",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            functions = [fn["name"] for fn in json.loads(response.read())["functions"]]
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(60)
        delete_queues(self.env["SLUICE_QUEUE"], functions)
        shutil.rmtree(self.dir, ignore_errors=True)


def kill_group(process: subprocess.Popen, ports: list[int], timeout: float = 30) -> None:
    """SIGKILL `process`'s process group, then wait until none of `ports` is taken. Its
    SeaweedFS, in a session of its own, is stopped by its parent's death (SIGTERM); one that
    is still stopping after `timeout` (its master once hung so) is killed too."""
    children = _children(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if _until_free(ports, timeout):
        return
    for pid, argv in children:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes() == argv:  # not a pid used again
                os.kill(pid, signal.SIGKILL)
    if not _until_free(ports, 10):
        raise RuntimeError(f"ports {ports} still taken after the kill")


def _until_free(ports: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(in_use(port) for port in ports):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _children(pid: int) -> list[tuple[int, bytes]]:
    """The processes whose parent is `pid`, with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and \
                    int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append((int(entry.name), (entry / "cmdline").read_bytes()))
        except OSError:
            continue
    return found


def embedded_s3(data_dir: Path, port: int) -> S3Settings:
    """The settings of the S3 server that `sluice up` embeds, for a client of its own."""
    keys = json.loads((data_dir / "s3-credentials.json").read_text())
    return S3Settings(url=f"http://127.0.0.1:{port}", access_key=Secret(keys["access_key"]),
                      secret_key=Secret(keys["secret_key"]))


def delete_queues(namespace: str, functions: list[str]) -> None:
    """The queues a stack declared in the shared RabbitMQ, which outlive it (they are
    durable)."""
    names = [namespace, f"{namespace}-objects"] + [f"{namespace}.{fn}" for fn in functions]
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    try:
        channel = connection.channel()
        for name in names:
            for queue in (name, f"{name}.DQ", f"{name}.XQ"):
                channel.queue_delete(queue)
    finally:
        connection.close()
