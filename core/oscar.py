"""OSCAR's service definitions, translated to and from Sluice's function specs, so OSCAR's
clients and FDL files work against Sluice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import Invalid
from core.functions import Function
from core.jobs import Job, JobStatus
from core.times import rfc3339

DEFAULT_PROVIDERS = ("minio", "minio.default", "s3", "s3.default", "default")
STATUS = {JobStatus.QUEUED: "Pending", JobStatus.RUNNING: "Running",
          JobStatus.SUCCEEDED: "Succeeded", JobStatus.FAILED: "Failed",
          JobStatus.CANCELLED: "Failed", JobStatus.DISMISSED: "Failed"}
KNOWN = {"name", "image", "script", "memory", "cpu", "environment", "input", "output",
         "log_level", "token", "alpine", "total_memory", "total_cpu", "image_pull_secrets",
         "expose", "labels", "annotations", "vo", "allowed_users", "isolation_level",
         "storage_providers", "clusters", "rescheduler_threshold", "enable_gpu", "synchronous",
         "replicas", "mount", "visibility"}


def to_spec(service: Any) -> dict[str, Any]:
    """A Sluice function spec from an OSCAR service definition."""
    if not isinstance(service, Mapping):
        raise Invalid("an OSCAR service definition must be a JSON object")
    errors: list[dict[str, str]] = []
    for key in service:
        if key not in KNOWN:
            errors.append({"path": str(key), "message": "unknown field"})
    spec: dict[str, Any] = {"name": service.get("name")}
    if "script" in service:
        spec["script"] = service["script"]
    if service.get("image"):
        spec["image"] = service["image"]
    for field in ("memory", "cpu", "log_level"):
        if service.get(field) not in (None, ""):
            spec[field] = service[field]
    environment = service.get("environment") or {}
    if not isinstance(environment, Mapping):
        errors.append({"path": "environment", "message": "must be {variables: {...}}"})
    elif environment.get("variables"):
        spec["environment"] = environment["variables"]
    if "input" in service:
        spec["input"] = [_storage(entry, f"input.{i}", errors)
                         for i, entry in enumerate(_list(service["input"], "input", errors))]
    outputs = _list(service.get("output"), "output", errors) if "output" in service else []
    if len(outputs) > 1:
        errors.append({"path": "output", "message": "one output location per service"})
    elif outputs:
        location = _storage(outputs[0], "output.0", errors)
        spec["output"] = {"bucket": location.get("bucket"), "prefix": location.get("prefix")}
    if errors:
        raise Invalid("the OSCAR service definition is invalid", errors=errors)
    return spec


def from_function(fn: Function, *, with_token: bool) -> dict[str, Any]:
    """The function as OSCAR shows a service."""
    service: dict[str, Any] = {
        "name": fn.name, "image": fn.image or "", "script": fn.script or " ".join(fn.argv()),
        "memory": str(fn.memory) if fn.memory else "", "cpu": str(fn.cpu) if fn.cpu else "",
        "log_level": fn.log_level, "environment": {"variables": dict(fn.environment)},
        "input": [{"storage_provider": "minio.default",
                   "path": f"{i.bucket}/{i.prefix}".rstrip("/"), "suffix": list(i.suffix)}
                  for i in fn.input or ()],
        "output": [{"storage_provider": "minio.default",
                    "path": f"{fn.output.bucket}/{fn.output.prefix}".rstrip("/")}]
        if fn.output else [],
    }
    if with_token:
        service["token"] = fn.token
    return service


def job_summary(job: Job) -> dict[str, Any]:
    """A job as OSCAR lists it under /system/logs/{service}."""
    return {"status": STATUS[job.status], "creation_time": rfc3339(job.created_at),
            "start_time": rfc3339(job.started_at), "finish_time": rfc3339(job.finished_at)}


def _list(value: Any, path: str, errors: list) -> list:
    if isinstance(value, list):
        return value
    errors.append({"path": path, "message": "must be a list"})
    return []


def _storage(entry: Any, path: str, errors: list) -> dict[str, Any]:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
        errors.append({"path": f"{path}.path", "message": "must be BUCKET/FOLDER"})
        return {}
    provider = str(entry.get("storage_provider", "minio.default"))
    if provider not in DEFAULT_PROVIDERS:
        errors.append({"path": f"{path}.storage_provider",
                       "message": "only the default storage provider (minio.default) is served"})
    bucket, _, prefix = entry["path"].strip("/").partition("/")
    location: dict[str, Any] = {"bucket": bucket, "prefix": f"{prefix}/" if prefix else ""}
    if entry.get("suffix"):
        location["suffix"] = entry["suffix"]
    return location
