"""Runs each attempt as a Kubernetes Job (see `job_manifest` for the pod, `pod_staging` for
what its containers do): the pod stages its own input and outputs. The worker creates the
Job, follows its pod, copies the function's stderr and stdout (two container logs) as they
come, reads the uploader's result, and deletes the Job when the attempt is cancelled or
stuck.

The cluster is reached through `cluster_api.ClusterApi`, a narrow interface: the Kubernetes
client behind it lives in `kubernetes_api`, and the tests drive this module with a fake that
runs each pod's containers as local processes."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

from core import runnable
from core.abaco import context as abaco
from core.blobs import Blobs
from core.errors import Invalid, NotFound, SluiceError, Unavailable
from core.jobs import Job, Outcome, OutputObject, Reason, log_key
from core.objects import ObjectStore
from core.settings import KubernetesSettings
from workers.contract import environment, input_name, output_metadata, output_places
from workers.executors.base import Attempt
from workers.executors.cluster_api import ClusterApi, JobState
from workers.executors.job_manifest import (FUNCTION_CONTAINER, STAGE_IN_CONTAINER,
                                            STDOUT_CONTAINER, UPLOADER_CONTAINER,
                                            deadline_seconds, job_manifest, job_name)
from workers.pod_staging import ROOT, StagingPlan, parse_result
from workers.staging import keep_logs
from workers.workdir import Workdir

log = logging.getLogger(__name__)
LOG_LIMIT = 1024 * 1024
# The scratch directory as the pod's containers see it; PATH is the image's own.
_DIRS = Workdir.at(ROOT)
_BASE_ENV = {"HOME": str(ROOT), "TMPDIR": str(ROOT), "LANG": "C.UTF-8"}


class KubernetesExecutor:
    name = "kubernetes"

    def __init__(self, api: ClusterApi, objects: ObjectStore, blobs: Blobs, *,
                 cluster: KubernetesSettings, pull_policy: str, worker: str):
        self.api, self.objects, self.blobs = api, objects, blobs
        self.cluster, self.pull_policy, self.worker = cluster, pull_policy, worker

    def __repr__(self) -> str:
        return f"KubernetesExecutor(namespace={self.cluster.namespace!r})"

    def close(self) -> None:
        """Nothing is held: each attempt's Job is deleted, or expires after its TTL."""

    def start(self, attempt: Attempt) -> RunningJob:
        job, fn = attempt.job, attempt.function
        runnable.check_runnable(fn, self.name)
        # An earlier attempt's Job outlives a worker that died: it must not run on beside
        # this one (and upload into the same folder).
        for earlier in range(1, job.attempts):
            self.api.delete_job(job_name(job.id, earlier))
        for bucket in {output.bucket for output in fn.outputs}:
            self.objects.ensure_bucket(bucket)
        # The uploader writes its result there.
        self.blobs.ready()
        input_bucket, input_key = job.source_bucket, job.source_key
        if input_key is None and job.input_ref:
            input_bucket, input_key = self.blobs.in_object_store(job.input_ref)
        plan = StagingPlan(
            job=job.id, input_name=input_name(job), input_bucket=input_bucket,
            input_key=input_key,
            outputs=[place.to_dict() for place in output_places(job, fn)],
            metadata=output_metadata(job),
            result_bucket=self.blobs.bucket,
            result_key=f"pods/{job.id}/{job.attempts}/result.json",
            results_prefix=f"pods/{job.id}/{job.attempts}/results/",
            stdout_key=log_key("stdout", job.id, job.attempts))
        manifest = job_manifest(
            job_id=job.id, attempt=job.attempts, fn=fn, plan=plan, cluster=self.cluster,
            environment=environment(job, fn, _DIRS, _BASE_ENV, lambda: self._message(job)),
            pull_policy=self.pull_policy, worker=self.worker)
        self.api.create_job(manifest)
        return RunningJob(self, attempt, job_name(job.id, job.attempts), plan,
                          deadline_seconds(fn, self.cluster))

    def _message(self, job: Job) -> bytes:
        """The body, for `MESSAGE` and Abaco's `MSG`, when it is small enough to be one: the
        pod stages the input itself, and the worker reads only such a body."""
        if job.input_ref is None or job.input_size > abaco.MSG_MAX:
            return b""
        return self.blobs.get(job.input_ref)


class RunningJob:
    def __init__(self, executor: KubernetesExecutor, attempt: Attempt, name: str,
                 plan: StagingPlan, deadline: int):
        self.executor, self.attempt, self.name, self.plan = executor, attempt, name, plan
        self.deadline = deadline
        self._killed: Reason | None = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._copiers: dict[str, threading.Thread] = {}

    def kill(self, reason: Reason, error: str | None = None) -> None:
        with self._lock:
            if self._killed is None:
                self._killed, self._error = reason, error
        try:
            self.executor.api.delete_job(self.name)
        except SluiceError as exc:
            log.warning("could not delete Job %s: %s", self.name, exc.detail)

    def wait(self) -> Outcome:
        api = self.executor.api
        # A grace beyond the Job's own deadline, for the cluster to report it.
        state = JobState()
        try:
            for state in api.watch_job(self.name, timeout=self.deadline + 30):
                self._copy_logs(state)
                stuck = state.stuck()
                if stuck is not None:
                    self.kill(Reason.ERROR, f"container {stuck.name}: {stuck.waiting}")
                    break
                if state.finished or self._killed:
                    break
            else:
                if not state.finished:
                    self.kill(Reason.TIMEOUT)
        except Unavailable:
            # Lost sight of the Job: do not leave it running unwatched, and try the attempt
            # again (the next one deletes this Job too, should this delete not reach it).
            self.kill(Reason.ERROR)
            raise
        except SluiceError as exc:
            self.kill(Reason.ERROR, f"the Kubernetes API refused to show the Job: {exc.detail}")
            state = JobState()
        return self._outcome(state)

    def _copy_logs(self, state: JobState) -> None:
        """Once a container runs whose log is the function's stderr (its own container) or
        stdout (the sidecar), copy that log to the scratch directory as it comes, for the
        log shipper. What the attempt keeps at its end comes from the pod, not from these."""
        workdir = self.attempt.workdir
        for container, path in ((FUNCTION_CONTAINER, workdir.stderr),
                                (STDOUT_CONTAINER, workdir.stdout)):
            status = state.container(container)
            if container in self._copiers or status is None or status.waiting \
                    or status.terminated:
                continue
            copier = threading.Thread(target=self._copy, args=(container, path), daemon=True,
                                      name=f"sluice-pod-log-{container}")
            self._copiers[container] = copier
            copier.start()

    def _copy(self, container: str, path: Path) -> None:
        try:
            with open(path, "wb") as file:
                for chunk in self.executor.api.follow_log(self.name, container):
                    file.write(chunk)
                    file.flush()
        except (SluiceError, OSError) as exc:
            log.info("Job %s: the %s log is no longer copied as it comes (%s)",
                     self.name, container, exc)
        except Exception:
            log.exception("Job %s: copying the %s log failed", self.name, container)

    def _function_log(self) -> bytes:
        # The pod is over: its logs end within moments, for the copies to be complete.
        end = time.monotonic() + 5
        for copier in self._copiers.values():
            copier.join(max(0.0, end - time.monotonic()))
        try:
            return self.executor.api.pod_log(self.name, FUNCTION_CONTAINER, LOG_LIMIT)
        except SluiceError as exc:
            return f"sluice: the function's log could not be read: {exc.detail}\n".encode()

    def _outcome(self, state: JobState) -> Outcome:
        executor, plan = self.executor, self.plan
        function = state.container(FUNCTION_CONTAINER)
        exit_code, error = None, self._error
        outputs: tuple[OutputObject, ...] = ()
        stdout, stdout_ref = b"", None
        try:
            result = parse_result(executor.objects.get_bytes(plan.result_bucket,
                                                             plan.result_key))
            exit_code, outputs, error = result.exit_code, result.outputs, error or result.error
            if self._killed is None:
                self._keep_results(result.results)
            if result.stdout_size > executor.blobs.inline_max:
                # The uploader put it where the job's blobs live: no need to fetch it.
                stdout_ref = executor.blobs.ref_for(plan.stdout_key, result.stdout_size)
            elif result.stdout_size:
                stdout = executor.objects.get_bytes(plan.result_bucket, plan.stdout_key)
        except NotFound:
            error = error or self._staging_failure(state)
        except Invalid as exc:
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
        notes = self.attempt.results.finish(files=False) if self.attempt.results else []
        logs = keep_logs(executor.blobs, self.attempt.job, stdout, self._function_log(),
                         error, stdout_ref=stdout_ref, notes=notes)
        return dataclasses.replace(logs, exit_code=exit_code, reason=reason, error=error,
                                   outputs=outputs)

    def _keep_results(self, reports: tuple[dict[str, str], ...]) -> None:
        """The result files the uploader sent, handed to the attempt's inbox (the socket is
        not offered in a pod: it lies on the worker's disk, not the node's)."""
        inbox, objects = self.attempt.results, self.executor.objects
        if inbox is None:
            return
        for report in reports:
            if not report.get("key", "").startswith(self.plan.results_prefix):
                inbox.take(report.get("refused", "a result file was not read"))
                continue
            try:
                inbox.take(objects.get_bytes(self.plan.result_bucket, report["key"]))
                objects.delete(self.plan.result_bucket, report["key"])
            except SluiceError as exc:
                inbox.take(f"a result file could not be fetched ({exc.detail})")

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
