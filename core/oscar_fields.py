"""The fields of an OSCAR service definition (OSCAR's `pkg/types/service.go`), by what
Sluice does with each: translates it, accepts it without effect (and why), or refuses it
once it is set, naming it, since Sluice does not do what it asks for. Keys are matched to
fields as Go's `encoding/json` matches them, so OSCAR's own examples (`Variables:`) read
as they do there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TRANSLATED = ("name", "image", "script", "memory", "cpu", "log_level", "environment", "input",
              "output", "enable_gpu", "token", "storage_providers")
# Accepted as OSCAR accepts them, with no effect here.
UNUSED = {
    "cluster_id": "the cluster oscar-cli deployed to: there is one Sluice",
    "clusters": "other OSCAR clusters, for replicas, which Sluice does not run",
    "alpine": "Sluice puts no supervisor binary in the image, Alpine or not",
    "image_prefetch": "a cache of images on the nodes",
    "synchronous": "Knative's scale settings: Sluice starts a run per invocation",
    "total_memory": "a YuniKorn queue limit; Sluice's own is `concurrency`",
    "total_cpu": "a YuniKorn queue limit; Sluice's own is `concurrency`",
    "ephemeral_storage_request": "a Kubernetes request for scratch space",
    "vo": "EGI Check-in users: Sluice has one administrator and the service tokens",
    "allowed_users": "EGI Check-in users: Sluice has one administrator and the service tokens",
    "visibility": "EGI Check-in users: Sluice has one administrator and the service tokens",
    "isolation_level": "per-user buckets of EGI Check-in users",
    "bucket_list": "per-user buckets of EGI Check-in users",
    "owner": "EGI Check-in users: Sluice has one administrator and the service tokens",
    "labels": "Kubernetes labels of OSCAR's own Jobs",
    "annotations": "Kubernetes annotations of OSCAR's own Jobs",
    "rescheduler_threshold": "delegation of queued jobs to replicas",
    "namespace": "what OSCAR answers about itself",
    "volume_status": "what OSCAR answers about itself",
    "deployment": "what OSCAR answers about itself",
}
# Refused once set (any value but the zero one oscar-cli sends for every field).
REFUSED = {
    "expose": "exposed services (a long-running server behind an ingress) are not run by "
              "Sluice",
    "kserve": "KServe inference services are not run by Sluice",
    "volume": "managed persistent volumes are not offered by Sluice",
    "mount": "mounting a bucket in the container is not offered by Sluice",
    "file_stage_in": "Sluice always stages the input in",
    "interlink_node_name": "interLink virtual nodes are not used by Sluice",
    "replicas": "replicas on other clusters are not run by Sluice",
    "delegation": "delegation to replicas on other clusters is not done by Sluice",
    "federation": "federations of clusters are not run by Sluice",
    "enable_sgx": "SGX (SCONE) devices are not offered by Sluice",
    "image_pull_secrets": "Kubernetes secrets for private registries are not used by Sluice",
}
FIELDS = frozenset(TRANSLATED) | frozenset(UNUSED) | frozenset(REFUSED)
ENVIRONMENT = ("variables", "secrets")
STORAGE = ("storage_provider", "path", "suffix", "prefix")


def folded(value: Mapping, names: Iterable[str]) -> dict[Any, Any]:
    """`value` with its keys matched to `names` as `encoding/json` matches them: exactly, or
    else whatever their case; an exact key wins over one matched by case."""
    by_case = {name.lower(): name for name in names}
    keys = {key: key if key in by_case.values()
            else by_case.get(key.lower(), key) if isinstance(key, str) else key
            for key in value}
    result = {keys[key]: item for key, item in value.items() if keys[key] != key}
    result.update((key, item) for key, item in value.items() if keys[key] == key)
    return result


def is_set(value: Any) -> bool:
    """Whether a field asks for something: not Go's zero value (false, 0, "", null, an empty
    list or map, or an object of zero values, as oscar-cli sends `expose` every time)."""
    if isinstance(value, Mapping):
        return any(is_set(item) for item in value.values())
    return value not in (None, False, 0, "", [])
