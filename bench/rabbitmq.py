"""A RabbitMQ node of its own, for the tests and benches that stop and start the broker: the
machine's node is never restarted."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

from broker.setup import rabbitmq_reachable
from sluice.ports import free_port_block, in_use


class OwnRabbitMQ:
    """A RabbitMQ node of the test's own, on a free port, so that stopping it disturbs no
    one else (the machine's node is never restarted). `stop_app` and `start_app` take its
    listener away and bring it back, as a broker restart does."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, listener_port()
        self.node = f"sluice-test-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n")
        (directory / "enabled_plugins").write_text("[].\n")
        shutil.chown(directory, "rabbitmq", "rabbitmq")
        self.env = dict(os.environ, RABBITMQ_NODENAME=self.node,
                        RABBITMQ_CONFIG_FILE=str(directory / "rabbitmq.conf"),
                        RABBITMQ_ENABLED_PLUGINS_FILE=str(directory / "enabled_plugins"),
                        RABBITMQ_MNESIA_BASE=str(directory / "mnesia"),
                        RABBITMQ_LOG_BASE=str(directory / "log"),
                        RABBITMQ_PID_FILE=str(directory / "pid"),
                        RABBITMQ_DIST_PORT=str(free_port_block(1)))

    def ctl(self, *command: str) -> None:
        done = subprocess.run(["rabbitmqctl", "-n", self.node, *command], env=self.env,
                              capture_output=True, text=True, timeout=120, cwd=self.directory)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(command)} on {self.node} exited with "
                               f"{done.returncode}: {(done.stdout + done.stderr).strip()}\n"
                               f"{self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        """The end of the node's own log, where it says why it failed."""
        logs = sorted((self.directory / "log").glob("*.log"))
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-size:]}"
                         for log in logs)

    def start(self) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True,
                       capture_output=True, timeout=60, cwd=self.directory)
        self._until_reachable()

    def _until_reachable(self) -> None:
        deadline = time.monotonic() + 90
        while not rabbitmq_reachable(self.url):
            if time.monotonic() > deadline:
                raise AssertionError(f"RabbitMQ node {self.node} did not start; see "
                                     f"{self.directory / 'log'}")
            time.sleep(0.5)

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        """Start the application again; rabbitmqctl, which talks to the node over Erlang's
        distribution, is asked up to three times (in one bench run it once answered 69,
        unavailable; in the next, eight restarts went through)."""
        for attempt in range(3):
            try:
                self.ctl("start_app")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(1)
        self._until_reachable()

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "-n", self.node, "stop"], env=self.env,
                       capture_output=True, timeout=120, cwd=self.directory)


def listener_port() -> int:
    """A free port below the kernel's range of ephemeral ports. While the node is stopped,
    a client connecting to its port from 127.0.0.1 can be given that very port as its own
    source port (a TCP self-connect), which then keeps the node from listening again."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(10000, max(10001, low))
        if not in_use(port):
            return port
    raise RuntimeError(f"no free port between 10000 and {low}")

