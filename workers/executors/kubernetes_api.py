"""`ClusterApi` over the Kubernetes client: the only module that imports it. Configured
in-cluster when running in a pod, else from the kubeconfig (`KUBECONFIG`)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from core.errors import CannotRun, Unavailable
from workers.executors.cluster_api import ContainerState, JobState

log = logging.getLogger(__name__)
SETTLE_SECONDS = 10.0


class KubernetesApi:
    def __init__(self, namespace: str):
        self.namespace = namespace
        try:
            config.load_incluster_config()
        except config.ConfigException:
            try:
                # The client reads KUBECONFIG when imported; read it now instead.
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
            except (config.ConfigException, OSError) as exc:
                raise Unavailable(f"no Kubernetes API: not in a pod and no kubeconfig ({exc})"
                                  ) from exc
        self.batch, self.core = client.BatchV1Api(), client.CoreV1Api()

    def __repr__(self) -> str:
        return f"KubernetesApi(namespace={self.namespace!r})"

    def create_job(self, manifest: dict[str, Any]) -> None:
        with _errors("create the Job"):
            self.batch.create_namespaced_job(self.namespace, manifest)

    def watch_job(self, name: str, timeout: float) -> Iterator[JobState]:
        end = time.monotonic() + timeout
        selector = f"job-name={name}"
        while (remaining := end - time.monotonic()) > 0:
            stream = watch.Watch()
            with _errors("watch the Job's pod"):
                # Watches of a minute at most: a Job that fails without a pod (a quota, an
                # admission webhook) shows only in the Job, read when a watch ends.
                for event in stream.stream(self.core.list_namespaced_pod, self.namespace,
                                           label_selector=selector,
                                           timeout_seconds=max(1, min(60, int(remaining)))):
                    pod = event["object"]
                    over = event["type"] == "DELETED" or pod.status.phase in ("Succeeded",
                                                                              "Failed")
                    state = self._state(name, pod, settle=over)
                    yield state
                    if state.finished:
                        stream.stop()
                        return
            state = self._state(name, None, settle=False)
            if state.finished:
                yield state
                return

    def _state(self, name: str, pod: Any, settle: bool) -> JobState:
        """The Job's condition with the pod's container states. A pod that has ended settles
        its Job within moments; wait for that rather than for another pod event."""
        deadline = time.monotonic() + (SETTLE_SECONDS if settle else 0)
        while True:
            with _errors("read the Job"):
                try:
                    job = self.batch.read_namespaced_job_status(name, self.namespace)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                    return JobState(finished=True, condition="Deleted",
                                    containers=_containers(pod))
            for condition in job.status.conditions or ():
                if condition.type in ("Complete", "Failed") and condition.status == "True":
                    return JobState(finished=True, condition=condition.reason or condition.type,
                                    containers=_containers(pod))
            if time.monotonic() >= deadline:
                return JobState(containers=_containers(pod))
            time.sleep(0.5)

    def pod_log(self, name: str, container: str, limit: int) -> bytes:
        with _errors("read the pod's log"):
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={name}")
            if not pods.items:
                return b""
            response = self.core.read_namespaced_pod_log(
                pods.items[0].metadata.name, self.namespace, container=container,
                limit_bytes=limit, _preload_content=False)
            return response.data

    def follow_log(self, name: str, container: str) -> Iterator[bytes]:
        with _errors("follow the pod's log"):
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={name}")
            if not pods.items:
                return
            response = self.core.read_namespaced_pod_log(
                pods.items[0].metadata.name, self.namespace, container=container, follow=True,
                _preload_content=False)
            try:
                yield from response.stream(64 * 1024)
            finally:
                response.release_conn()

    def delete_job(self, name: str) -> None:
        with _errors("delete the Job"):
            try:
                self.batch.delete_namespaced_job(name, self.namespace, grace_period_seconds=0,
                                                 propagation_policy="Background")
            except ApiException as exc:
                if exc.status != 404:
                    raise


def _containers(pod: Any) -> tuple[ContainerState, ...]:
    if pod is None or pod.status is None:
        return ()
    states = []
    for status in (pod.status.init_container_statuses or []) + (pod.status.container_statuses
                                                                  or []):
        waiting, terminated = status.state.waiting, status.state.terminated
        states.append(ContainerState(
            name=status.name, waiting=waiting.reason if waiting else None,
            terminated=terminated is not None,
            exit_code=terminated.exit_code if terminated else None,
            reason=terminated.reason if terminated else None))
    return tuple(states)


class _errors:
    """Kubernetes client errors as Sluice's, with what was being done."""

    def __init__(self, doing: str):
        self.doing = doing

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ApiException):
            message = f"could not {self.doing}: {exc.status} {exc.reason}"
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408,
                                                                                         429):
                # The API server understood, and refused (an admission rule, a quota, the
                # service account's rights): the same request would be refused again.
                raise CannotRun(message) from exc
            raise Unavailable(message) from exc
        if isinstance(exc, urllib3.exceptions.HTTPError):
            raise Unavailable(f"could not {self.doing}: {exc}") from exc
        return False
