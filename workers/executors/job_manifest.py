"""The `batch/v1` Job of one attempt, built as plain data (no Kubernetes client here), so that
it can be validated offline against the API's schemas.

The pod runs the staging protocol of `workers.pod_staging`: an init container stages the
input into the shared `emptyDir`, a native sidecar (an init container with `restartPolicy:
Always`, Kubernetes 1.29 and later) makes the function's stdout its own container log, the
function's container runs the command through the wrapper, and an uploader container sends
the outputs to object storage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.functions import Function
from core.settings import KubernetesSettings
from workers.pod_staging import PLAN_VARIABLE, ROOT, StagingPlan

MANAGED_BY = "sluice"
FUNCTION_LABEL = "sluice.dev/function"
JOB_LABEL = "sluice.dev/job"
ATTEMPT_LABEL = "sluice.dev/attempt"
STAGE_IN_CONTAINER = "stage-in"
STDOUT_CONTAINER = "stdout"
FUNCTION_CONTAINER = "function"
UPLOADER_CONTAINER = "stage-out"
STAGING_USER = 10001
PULL_POLICIES = {"never": "Never", "if-not-present": "IfNotPresent", "always": "Always"}
_STAGING_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"},
                      "limits": {"memory": "256Mi"}}
_STAGE_IN_SECURITY = {"runAsNonRoot": True, "runAsUser": STAGING_USER,
                      "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}}
# The uploader and the stdout sidecar must read whatever files the function wrote, whoever
# it ran as.
_READS_ALL_SECURITY = {"runAsUser": 0, "allowPrivilegeEscalation": False,
                       "readOnlyRootFilesystem": True,
                       "capabilities": {"drop": ["ALL"], "add": ["DAC_OVERRIDE"]}}


def job_name(job_id: str, attempt: int) -> str:
    """A DNS label that names the attempt: `sluice-<job id>-<attempt>`."""
    return f"sluice-{job_id}-{attempt}"


def deadline_seconds(fn: Function, cluster: KubernetesSettings) -> int:
    """`activeDeadlineSeconds`: the function's timeout plus time to stage in and out."""
    return math.ceil(fn.timeout) + cluster.staging_seconds


def job_manifest(*, job_id: str, attempt: int, fn: Function, environment: Mapping[str, str],
                 plan: StagingPlan, cluster: KubernetesSettings, pull_policy: str,
                 worker: str) -> dict[str, Any]:
    name = job_name(job_id, attempt)
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/name": "sluice-job",
              FUNCTION_LABEL: fn.name, JOB_LABEL: job_id, ATTEMPT_LABEL: str(attempt)}
    directory = {"name": "SLUICE_DIR", "value": str(ROOT)}
    sluice_image = {"imagePullPolicy": PULL_POLICIES[pull_policy], "image": cluster.image,
                    "resources": _STAGING_RESOURCES,
                    "volumeMounts": [{"name": "sluice", "mountPath": str(ROOT)}]}
    staging = {**sluice_image, "env": [{"name": PLAN_VARIABLE, "value": plan.to_json()},
                                       directory],
               "envFrom": [{"secretRef": {"name": cluster.s3_secret}}]}
    # No credentials: it only reads the shared directory.
    stdout = {"name": STDOUT_CONTAINER, "command": ["sluice", "follow-stdout"],
              "restartPolicy": "Always", "env": [directory],
              "securityContext": _READS_ALL_SECURITY, **sluice_image}
    function = {
        "name": FUNCTION_CONTAINER, "image": fn.image,
        "imagePullPolicy": PULL_POLICIES[pull_policy],
        "command": ["/bin/sh", str(ROOT / "run"), *fn.argv()],
        "workingDir": str(ROOT / "output"),
        "env": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "resources": _function_resources(fn),
        "securityContext": {"allowPrivilegeEscalation": False},
        "volumeMounts": [{"name": "sluice", "mountPath": str(ROOT)}],
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "initContainers": [{"name": STAGE_IN_CONTAINER, "command": ["sluice", "stage-in"],
                            "securityContext": _STAGE_IN_SECURITY, **staging}, stdout],
        "containers": [function,
                       {"name": UPLOADER_CONTAINER, "command": ["sluice", "stage-out"],
                        "securityContext": _READS_ALL_SECURITY, **staging}],
        "volumes": [{"name": "sluice", "emptyDir": {}}],
    }
    placement = fn.placement
    if placement.service_account:
        pod["serviceAccountName"] = placement.service_account
    else:
        pod["automountServiceAccountToken"] = False
    if placement.node_selector:
        pod["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        pod["tolerations"] = [_toleration(t.to_dict()) for t in placement.tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": cluster.namespace, "labels": labels,
                     "annotations": {"sluice.dev/worker": worker}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds(fn, cluster),
            "ttlSecondsAfterFinished": cluster.ttl_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def _function_resources(fn: Function) -> dict[str, Any]:
    """Requests equal to limits: the function gets what it asked for and no more."""
    limits: dict[str, Any] = {}
    if fn.memory:
        limits["memory"] = str(fn.memory)
    if fn.cpu:
        limits["cpu"] = f"{max(1, round(fn.cpu * 1000))}m"
    if fn.placement.gpu:
        limits["nvidia.com/gpu"] = str(fn.placement.gpu)
    if not limits:
        return {}
    return {"requests": dict(limits), "limits": limits}


def _toleration(toleration: dict[str, Any]) -> dict[str, Any]:
    seconds = toleration.pop("toleration_seconds", None)
    if seconds is not None:
        toleration["tolerationSeconds"] = seconds
    return toleration
