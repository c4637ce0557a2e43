"""Runs a function in a container through the Docker Engine API (Docker, or Podman's API
socket), staged on the worker's disk: input mounted read-only, output and results writable,
the results socket where Abaco's actors find it, no network unless asked, an init process,
memory and CPU limits, and the container removed afterwards. With Podman, what the
container used is read from its cgroup as it ends (`cgroups`); on other engines those
figures are null. The engine's errors become Sluice's where the client is called: an engine
out of reach is `Unavailable` (the attempt is tried again), an image that cannot be had or
a container the engine refuses is `CannotRun`."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker
import requests
from docker.errors import (APIError, DockerException, ImageNotFound, NotFound,
                           create_api_error_from_http_exception)
from docker.types import Mount

from core import runnable
from core.errors import CannotRun, Unavailable
from core.jobs import Outcome, Reason
from workers.contract import environment, message_in
from workers.executors.base import Attempt, Execution
from workers.executors.cgroups import ContainerInit, Usage
from workers.processes import alive
from workers.staging import LocalStaging
from workers.workdir import Workdir

log = logging.getLogger(__name__)
# A container that runs longer has what it prints copied to the scratch directory as it
# comes, for the log shipper; one that ends sooner has it read once, at its end.
FOLLOW_AFTER = 1.0
MOUNT = Path("/sluice")
# Where Abaco mounts an actor's results socket (actors/worker.py), besides RESULTS_SOCKET.
ABACO_RESULTS_SOCKET = "/_abaco_results.sock"
MANAGED = "sluice.managed"
WAIT_INTERVAL = "10ms"
# How long an engine may take to report an end it has already seen.
END_SECONDS = 30
WORKER = "sluice.worker"
# What the function sees: the scratch directory at /sluice, HOME and TMPDIR in the image's
# /tmp, PATH the image's own.
_DIRS = Workdir.at(MOUNT)
_BASE_ENV = {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}


class ContainerExecutor:
    name = "container"

    def __init__(self, host: str | None, pull_policy: str, staging: LocalStaging):
        self.pull_policy, self.staging = pull_policy, staging
        self.worker = f"{socket.gethostname()}/{os.getpid()}"
        with _engine_errors(f"reach the container engine at {host or 'DOCKER_HOST'}"):
            self.client = docker.DockerClient(base_url=host, timeout=60) if host \
                else docker.from_env(timeout=60)
            components = self.client.version().get("Components") or []
        # Podman's Docker-compatible wait polls every 250 ms; its own API takes an interval.
        self.podman = any(c.get("Name") == "Podman Engine" for c in components)

    def __repr__(self) -> str:
        return f"ContainerExecutor({self.client.api.base_url!r})"

    def close(self) -> None:
        self.client.close()

    def remove_orphans(self) -> int:
        """Remove the containers of workers on this host that are gone."""
        removed = 0
        with _engine_errors("list the containers of workers that are gone"):
            for container in self.client.containers.list(all=True,
                                                         filters={"label": MANAGED}):
                host, _, pid = container.labels.get(WORKER, "").partition("/")
                if host == socket.gethostname() and pid.isdigit() and not alive(int(pid)):
                    container.remove(force=True)
                    removed += 1
        if removed:
            log.info("removed %d container(s) left by workers that died", removed)
        return removed

    def start(self, attempt: Attempt) -> RunningContainer:
        fn = attempt.function
        runnable.check_runnable(fn, self.name)
        self._ensure_image(fn.image)
        staged = self.staging.stage_in(attempt)
        return RunningContainer(self, attempt, message_in(staged))

    def _ensure_image(self, image: str) -> None:
        with _engine_errors(f"pull image {image!r}"):
            if self.pull_policy == "always":
                self.client.images.pull(image)
                return
            try:
                self.client.images.get(image)
            except ImageNotFound as exc:
                if self.pull_policy == "never":
                    raise CannotRun(f"image {image!r} is not on this worker and the pull "
                                    "policy is never") from exc
                self.client.images.pull(image)


class RunningContainer:
    def __init__(self, executor: ContainerExecutor, attempt: Attempt,
                 message: Callable[[], bytes]):
        self.executor, self.attempt = executor, attempt
        self._killed: Reason | None = None
        self._lock = threading.Lock()
        self._copiers: list[threading.Thread] = []
        fn, dirs = attempt.function, attempt.workdir
        sock = attempt.results.open_socket() if attempt.results is not None else None
        # Read-only, as Abaco mounts it: sending to a socket needs no write to its mount.
        mounts = [Mount(target, str(sock), type="bind", read_only=True)
                  for target in (ABACO_RESULTS_SOCKET, str(_DIRS.results_socket))] if sock else []
        with _engine_errors("create the container"):
            self.container = executor.client.containers.create(
                fn.image, fn.argv() or None,
                environment=environment(attempt.job, fn, _DIRS, _BASE_ENV, message,
                                        results_socket=sock is not None),
                volumes={str(dirs.input_dir): {"bind": str(_DIRS.input_dir), "mode": "ro"},
                         str(dirs.output_dir): {"bind": str(_DIRS.output_dir), "mode": "rw"},
                         str(dirs.results_dir): {"bind": str(_DIRS.results_dir), "mode": "rw"}},
                mounts=mounts,
                working_dir=str(_DIRS.output_dir),
                network_mode=None if fn.network else "none",
                init=True, mem_limit=fn.memory, memswap_limit=fn.memory,
                nano_cpus=int(fn.cpu * 1e9) if fn.cpu else None,
                labels={MANAGED: "1", WORKER: executor.worker})
        self.init: ContainerInit | None = None
        try:
            with _engine_errors("start the container"):
                if executor.podman:
                    self.init = self._initialize()
                self.container.start()
        except BaseException:
            self._remove()
            raise

    def _initialize(self) -> ContainerInit | None:
        """Have Podman make the container's processes, stopped short of the function, and
        watch the cgroup of its init from then on: a function that ends at once is seen."""
        api, container_id = self.executor.client.api, self.container.id
        response = api.post(f"{api.base_url}/v4.0.0/libpod/containers/{container_id}/init")
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            create_api_error_from_http_exception(exc)
        pid = api.inspect_container(container_id)["State"]["Pid"]
        return ContainerInit.watch(pid, container_id) if pid else None

    def kill(self, reason: Reason) -> None:
        with self._lock:
            self._killed = self._killed or reason
        if self.init is not None and self.init.kill():
            return
        try:
            self.container.kill()
        except (DockerException, requests.exceptions.RequestException):
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

    def _ended(self, timeout: float) -> int | None:
        """The container's exit status once it has exited; None while it still runs after
        `timeout`. Where its cgroup is watched, that sees the end first, and reads it."""
        if self.init is not None:
            if not self.init.wait(timeout):
                return None
            timeout = END_SECONDS
        try:
            return self._wait(timeout)
        except requests.exceptions.ReadTimeout:
            return None

    def _exit_status(self) -> int:
        """The container's exit status; killed once past the function's timeout. What it
        prints after `FOLLOW_AFTER` is copied as it comes."""
        timeout, started = self.attempt.function.timeout, time.monotonic()
        status = self._ended(min(FOLLOW_AFTER, timeout))
        if status is not None:
            return status
        remaining = timeout - (time.monotonic() - started)
        if remaining > 0:
            self._copy_output()
            status = self._ended(remaining)
            if status is not None:
                return status
        self.kill(Reason.TIMEOUT)
        if self.init is not None:
            self.init.wait(END_SECONDS)
        return self._wait(END_SECONDS)

    def _copy_output(self) -> None:
        dirs = self.attempt.workdir
        for stream, path in (("stdout", dirs.stdout), ("stderr", dirs.stderr)):
            copier = threading.Thread(target=self._copy, args=(stream, path), daemon=True,
                                      name=f"sluice-container-{stream}")
            copier.start()
            self._copiers.append(copier)

    def _copy(self, stream: str, path: Path) -> None:
        """Append what the container prints on `stream` to `path` until it exits."""
        try:
            chunks = self.container.logs(stdout=stream == "stdout", stderr=stream == "stderr",
                                         stream=True, follow=True)
            with open(path, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                    file.flush()
        except (DockerException, requests.exceptions.RequestException, OSError) as exc:
            log.info("container %s: its %s is no longer copied as it comes (%s)",
                     self.container.short_id, stream, exc)

    def wait(self) -> Outcome:
        dirs = self.attempt.workdir
        try:
            with _engine_errors("follow the container"):
                status = self._exit_status()
                for copier in self._copiers:
                    copier.join(5)
                # The engine's whole log, whatever the copies got: what is kept.
                dirs.stdout.write_bytes(self.container.logs(stdout=True, stderr=False))
                dirs.stderr.write_bytes(self.container.logs(stdout=False, stderr=True))
        finally:
            self._remove()
        reason = self._killed
        if reason is None and status == 137 and self.attempt.function.memory:
            reason = Reason.OOM
        elif reason is None and status:
            reason = Reason.ERROR
        used = self.init.usage if self.init is not None and self.init.usage else Usage()
        return self.executor.staging.stage_out(self.attempt, Execution(
            exit_code=status, reason=reason, cpu_seconds=used.cpu_seconds,
            peak_memory=used.peak_memory, io_read_bytes=used.io_read_bytes,
            io_write_bytes=used.io_write_bytes))

    def _remove(self) -> None:
        if self.init is not None:
            self.init.close()
        try:
            self.container.remove(force=True)
        except NotFound:
            pass
        except (DockerException, requests.exceptions.RequestException) as exc:
            # The worker's next start removes what is left (`remove_orphans`).
            log.warning("could not remove container %s: %s", self.container.short_id, exc)


class _engine_errors:
    """The Docker SDK's errors as Sluice's, saying what was being done."""

    def __init__(self, doing: str):
        self.doing = doing

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, CannotRun):
            return False
        if isinstance(exc, requests.exceptions.ConnectionError) or (
                isinstance(exc, DockerException) and not isinstance(exc, APIError)):
            raise Unavailable(f"could not {self.doing}: the container engine is out of "
                              f"reach ({exc})") from exc
        if isinstance(exc, APIError):
            # The engine answered, and refused: the image, the command or the limits are
            # what they are, and would be refused again.
            raise CannotRun(f"could not {self.doing}: {exc.explanation or exc}") from exc
        return False
