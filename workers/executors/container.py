"""Runs a function in a container through the Docker Engine API (Docker, or Podman's API
socket): input mounted read-only, output writable, no network unless asked, an init process,
memory and CPU limits, and the container removed afterwards."""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

import docker
import requests
from docker.errors import DockerException, ImageNotFound, NotFound

from core.errors import Invalid, Unavailable
from core.jobs import Reason
from workers.executors.base import Execution, Invocation
from workers.processes import alive

log = logging.getLogger(__name__)
MOUNT = "/sluice"
PULL_POLICIES = ("never", "if-not-present", "always")
MANAGED = "sluice.managed"
WAIT_INTERVAL = "10ms"
WORKER = "sluice.worker"
# Container paths: the function sees these instead of the worker's.
_CONTAINER_HOME = "/tmp"


class ContainerExecutor:
    name = "container"
    stages_itself = False

    def __init__(self, host: str | None, pull_policy: str = "if-not-present"):
        if pull_policy not in PULL_POLICIES:
            raise Invalid(f"SLUICE_PULL_POLICY must be one of {', '.join(PULL_POLICIES)}")
        self.pull_policy = pull_policy
        self.worker = f"{socket.gethostname()}/{os.getpid()}"
        try:
            self.client = docker.DockerClient(base_url=host, timeout=60) if host \
                else docker.from_env(timeout=60)
            components = self.client.version().get("Components") or []
        except DockerException as exc:
            raise Unavailable(f"no container engine at {host or 'DOCKER_HOST'}: {exc}") from exc
        # Podman's Docker-compatible wait polls every 250 ms; its own API takes an interval.
        self.podman = any(c.get("Name") == "Podman Engine" for c in components)

    def __repr__(self) -> str:
        return f"ContainerExecutor({self.client.api.base_url!r})"

    def remove_orphans(self) -> int:
        """Remove the containers of workers on this host that are gone."""
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": MANAGED}):
            host, _, pid = container.labels.get(WORKER, "").partition("/")
            if host == socket.gethostname() and pid.isdigit() and not alive(int(pid)):
                container.remove(force=True)
                removed += 1
        if removed:
            log.info("removed %d container(s) left by workers that died", removed)
        return removed

    def start(self, invocation: Invocation) -> RunningContainer:
        if not invocation.image:
            raise Invalid("the container executor needs the function's image")
        self._ensure_image(invocation.image)
        return RunningContainer(self, invocation)

    def _ensure_image(self, image: str) -> None:
        if self.pull_policy == "always":
            self.client.images.pull(image)
            return
        try:
            self.client.images.get(image)
        except ImageNotFound:
            if self.pull_policy == "never":
                raise Invalid(f"image {image!r} is not on this worker and the pull policy "
                              "is never") from None
            self.client.images.pull(image)


class RunningContainer:
    def __init__(self, executor: ContainerExecutor, invocation: Invocation):
        self.invocation, self.executor = invocation, executor
        self._killed: Reason | None = None
        self._lock = threading.Lock()
        root = invocation.workdir
        self.container = executor.client.containers.create(
            invocation.image, list(invocation.argv) or None,
            environment=_container_environment(invocation.environment, root),
            volumes={str(root / "input"): {"bind": f"{MOUNT}/input", "mode": "ro"},
                     str(root / "output"): {"bind": f"{MOUNT}/output", "mode": "rw"}},
            working_dir=f"{MOUNT}/output", network_mode=None if invocation.network else "none",
            init=True, mem_limit=invocation.memory, memswap_limit=invocation.memory,
            nano_cpus=int(invocation.cpu * 1e9) if invocation.cpu else None,
            labels={MANAGED: "1", WORKER: executor.worker})
        self.container.start()

    def kill(self, reason: Reason) -> None:
        with self._lock:
            self._killed = self._killed or reason
        try:
            self.container.kill()
        except DockerException:
            pass

    def _wait(self, timeout: float) -> int:
        """The container's exit status, once it has exited."""
        if not self.executor.podman:
            return self.container.wait(timeout=timeout)["StatusCode"]
        api = self.executor.client.api
        response = api.post(f"{api.base_url}/v4.0.0/libpod/containers/{self.container.id}/wait",
                            params={"condition": "exited", "interval": WAIT_INTERVAL},
                            timeout=timeout)
        response.raise_for_status()
        return int(response.text.strip())

    def wait(self) -> Execution:
        try:
            try:
                status = self._wait(self.invocation.timeout)
            except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
                self.kill(Reason.TIMEOUT)
                status = self._wait(30)
            Path(self.invocation.stdout).write_bytes(
                self.container.logs(stdout=True, stderr=False))
            Path(self.invocation.stderr).write_bytes(
                self.container.logs(stdout=False, stderr=True))
        finally:
            try:
                self.container.remove(force=True)
            except NotFound:
                pass
        reason = self._killed
        if reason is None and status == 137 and self.invocation.memory:
            reason = Reason.OOM
        elif reason is None and status:
            reason = Reason.ERROR
        return Execution(exit_code=status, reason=reason)


def _container_environment(environment: dict, root: Path) -> dict[str, str]:
    """The invocation contract with the container's paths: the worker's scratch directory is
    mounted at /sluice; PATH comes from the image."""
    host = str(root)
    env = {k: v.replace(host, MOUNT, 1) if v.startswith(host) else v
           for k, v in environment.items() if k != "PATH"}
    env.update(HOME=_CONTAINER_HOME, TMPDIR=_CONTAINER_HOME)
    return env
