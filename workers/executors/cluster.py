"""Runs each attempt as a Kubernetes Job (see `job_manifest` for the pod, `pod_staging` for
what its containers do). The worker creates the Job, follows its pod, reads the function's
log and the uploader's result, and deletes the Job when the attempt is cancelled or stuck.

The cluster is reached through `ClusterApi`, a narrow interface: the Kubernetes client
behind it lives in `workers.executors.kubernetes`, and the tests drive this module with a
fake."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from core.blobs import Blobs
from core.errors import Invalid, NotFound, SluiceError
from core.jobs import Reason, blob_key
from core.objects import ObjectStore
from core.settings import KubernetesSettings
from workers.executors.base import Execution, Invocation
from workers.executors.job_manifest import (FUNCTION_CONTAINER, PULL_POLICIES,
                                            STAGE_IN_CONTAINER, UPLOADER_CONTAINER,
                                            deadline_seconds, job_manifest, job_name)
from workers.pod_staging import ROOT, StagingPlan, parse_result
from workers.staging import output_metadata

log = logging.getLogger(__name__)
# Waiting reasons that will not resolve by themselves: the attempt fails at once.
STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
         "CreateContainerError", "RunContainerError")
LOG_LIMIT = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ContainerState:
    name: str
    waiting: str | None = None
    terminated: bool = False
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None


@dataclasses.dataclass(frozen=True)
class JobState:
    """What the worker needs of a Job and its pod at one moment."""

    finished: bool = False
    condition: str | None = None
    containers: tuple[ContainerState, ...] = ()

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in self.containers if c.name == name), None)

    def stuck(self) -> ContainerState | None:
        return next((c for c in self.containers if c.waiting in STUCK), None)


class ClusterApi(Protocol):
    def create_job(self, manifest: dict[str, Any]) -> None: ...

    def watch_job(self, name: str, timeout: float) -> Iterator[JobState]:
        """The Job's state now and after each change, until it finishes or `timeout` ends."""

    def pod_log(self, name: str, container: str, limit: int) -> bytes: ...

    def delete_job(self, name: str) -> None:
        """Delete the Job and its pod, killing what still runs; no error if it is gone."""


class KubernetesExecutor:
    name = "kubernetes"
    stages_itself = True

    def __init__(self, api: ClusterApi, objects: ObjectStore, blobs: Blobs, *,
                 cluster: KubernetesSettings, pull_policy: str, worker: str):
        if pull_policy not in PULL_POLICIES:
            raise Invalid(f"SLUICE_PULL_POLICY must be one of {', '.join(PULL_POLICIES)}")
        self.api, self.objects, self.blobs = api, objects, blobs
        self.cluster, self.pull_policy, self.worker = cluster, pull_policy, worker

    def __repr__(self) -> str:
        return f"KubernetesExecutor(namespace={self.cluster.namespace!r})"

    def start(self, invocation: Invocation) -> RunningJob:
        job, fn = invocation.job, invocation.function
        if job is None or fn is None:
            raise Invalid("the kubernetes executor runs jobs, not bare commands")
        if not fn.image:
            raise Invalid("the kubernetes executor needs the function's image")
        if not (fn.command or fn.script):
            raise Invalid("the kubernetes executor needs the function's command or script: "
                          "it runs it through Sluice's wrapper")
        attempt = job.attempts
        # An earlier attempt's Job outlives a worker that died: it must not run on beside
        # this one (and upload into the same folder).
        for earlier in range(1, attempt):
            self.api.delete_job(job_name(job.id, earlier))
        system = self.blobs.bucket
        input_bucket, input_key = job.source_bucket, job.source_key
        if input_key is None and job.input_ref:
            input_bucket, input_key = self.blobs.in_object_store(job.input_ref)
        plan = StagingPlan(
            job=job.id, input_name=Path(invocation.environment["INPUT_FILE_PATH"]).name,
            input_bucket=input_bucket, input_key=input_key,
            output_bucket=fn.output.bucket, output_prefix=fn.output.key(job.id, ""),
            metadata=output_metadata(job.id, job.depth), result_bucket=system,
            result_key=f"pods/{job.id}/{attempt}/result.json",
            stdout_key=blob_key("stdout", job.id))
        manifest = job_manifest(
            job_id=job.id, attempt=attempt, fn=fn, plan=plan, cluster=self.cluster,
            environment=pod_environment(invocation.environment, invocation.workdir),
            pull_policy=self.pull_policy, worker=self.worker)
        self.api.create_job(manifest)
        return RunningJob(self, invocation, job_name(job.id, attempt), plan,
                          deadline_seconds(fn, self.cluster))


def pod_environment(environment: dict[str, str], workdir: Path) -> dict[str, str]:
    """The invocation contract with the pod's paths; PATH comes from the image."""
    host, pod = str(workdir), str(ROOT)
    return {k: pod + v[len(host):] if v.startswith(host) else v
            for k, v in environment.items() if k != "PATH"}


class RunningJob:
    def __init__(self, executor: KubernetesExecutor, invocation: Invocation, name: str,
                 plan: StagingPlan, deadline: int):
        self.executor, self.invocation, self.name, self.plan = executor, invocation, name, plan
        self.deadline = deadline
        self._killed: Reason | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def kill(self, reason: Reason, error: str | None = None) -> None:
        with self._lock:
            if self._killed is None:
                self._killed, self._error = reason, error
        try:
            self.executor.api.delete_job(self.name)
        except SluiceError as exc:
            log.warning("could not delete Job %s: %s", self.name, exc.detail)

    def wait(self) -> Execution:
        api = self.executor.api
        # A grace beyond the Job's own deadline, for the cluster to report it.
        state = JobState()
        try:
            for state in api.watch_job(self.name, timeout=self.deadline + 30):
                stuck = state.stuck()
                if stuck is not None:
                    self.kill(Reason.ERROR, f"container {stuck.name}: {stuck.waiting}")
                    break
                if state.finished or self._killed:
                    break
            else:
                if not state.finished:
                    self.kill(Reason.TIMEOUT)
        except SluiceError as exc:
            # Lost sight of the Job: do not leave it running unwatched.
            self.kill(Reason.ERROR, f"lost the Kubernetes API while watching: {exc.detail}")
            state = JobState()
        self._write_log()
        return self._execution(state)

    def _write_log(self) -> None:
        try:
            log_bytes = self.executor.api.pod_log(self.name, FUNCTION_CONTAINER, LOG_LIMIT)
        except SluiceError as exc:
            log_bytes = f"sluice: the function's log could not be read: {exc.detail}\n".encode()
        Path(self.invocation.stderr).write_bytes(log_bytes)

    def _execution(self, state: JobState) -> Execution:
        function = state.container(FUNCTION_CONTAINER)
        exit_code, outputs, error, stdout_ref = None, (), self._error, None
        Path(self.invocation.stdout).write_bytes(b"")
        try:
            data = self.executor.objects.get_bytes(self.plan.result_bucket, self.plan.result_key)
            exit_code, stdout_size, outputs = parse_result(data)
            if stdout_size > self.executor.blobs.inline_max:
                # The uploader put it where the job's blobs live: no need to fetch it.
                stdout_ref = self.executor.blobs.ref_for(self.plan.stdout_key, stdout_size)
            elif stdout_size:
                self.executor.objects.download(self.plan.result_bucket, self.plan.stdout_key,
                                               Path(self.invocation.stdout))
        except NotFound:
            error = error or self._staging_failure(state)
        except SluiceError as exc:
            error = error or exc.detail
        if exit_code is None and function is not None and function.terminated:
            exit_code = function.exit_code
        reason = self._killed
        if reason is None and state.condition == "DeadlineExceeded":
            reason = Reason.TIMEOUT
        elif reason is None and function is not None and function.reason == "OOMKilled":
            reason = Reason.OOM
        elif reason is None and (exit_code != 0 or error):
            reason = Reason.ERROR
            error = error or (None if exit_code is not None
                              else "the attempt ended without an exit code")
        return Execution(exit_code=exit_code, reason=reason, error=error,
                         outputs=tuple(outputs), stdout_ref=stdout_ref)

    def _staging_failure(self, state: JobState) -> str | None:
        """Why a staging container failed, from the last line of its log."""
        for container in (STAGE_IN_CONTAINER, UPLOADER_CONTAINER):
            status = state.container(container)
            if status is None or not status.terminated or not status.exit_code:
                continue
            try:
                lines = self.executor.api.pod_log(self.name, container, 64 * 1024).splitlines()
            except SluiceError:
                lines = []
            last = lines[-1].decode(errors="replace") if lines else status.reason or ""
            return f"{container} failed (exit {status.exit_code}): {last}".rstrip(": ")
        return None
