"""`ClusterApi`: the narrow interface between the Kubernetes executor and a cluster, with
the few facts of a Job and its pod that the executor reads. `kubernetes_api.KubernetesApi`
implements it over the Kubernetes client; the tests with a fake that runs each pod's
containers as local processes (tests/fixtures/kubelet.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Protocol

# Waiting reasons that will not resolve by themselves: the attempt fails at once.
STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
         "CreateContainerError", "RunContainerError")


@dataclasses.dataclass(frozen=True)
class ContainerState:
    name: str
    waiting: str | None = None
    terminated: bool = False
    exit_code: int | None = None
    reason: str | None = None


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

    def follow_log(self, name: str, container: str) -> Iterator[bytes]:
        """The container's log from its start, as it is written, until the container ends."""

    def delete_job(self, name: str) -> None:
        """Delete the Job and its pod, killing what still runs; no error if it is gone."""
