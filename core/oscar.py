"""OSCAR's service definitions, translated to and from Sluice's function specs, so OSCAR's
clients and FDL files work against Sluice (`oscar_fields` says what becomes of each field).
Outputs take OSCAR's layout: its FaaS Supervisor writes `<path>/<file name>`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import Invalid
from core.functions import Function
from core.jobs import Job, JobStatus
from core.oscar_fields import ENVIRONMENT, FIELDS, REFUSED, STORAGE, folded, is_set
from core.times import rfc3339

DEFAULT_PROVIDERS = ("minio", "minio.default", "s3", "s3.default", "default")
STATUS = {JobStatus.QUEUED: "Pending", JobStatus.RUNNING: "Running",
          JobStatus.SUCCEEDED: "Succeeded", JobStatus.FAILED: "Failed",
          JobStatus.CANCELLED: "Failed", JobStatus.DISMISSED: "Failed"}
# Fields of a function spec, by the names OSCAR gives them in a service.
OSCAR_NAMES = {"command": "script", "gpu": "enable_gpu"}
Errors = list[dict[str, str]]


def to_spec(service: Any) -> dict[str, Any]:
    """A Sluice function spec from an OSCAR service definition; Invalid names every field
    that is unknown, or set and not served."""
    if not isinstance(service, Mapping):
        raise Invalid("an OSCAR service definition must be a JSON object")
    service = folded(service, FIELDS)
    errors: Errors = []
    for key, value in service.items():
        if key not in FIELDS:
            errors.append({"path": str(key), "message": "unknown field"})
        elif key in REFUSED and is_set(value):
            errors.append({"path": key, "message": REFUSED[key]})
    name = service.get("name")
    spec: dict[str, Any] = {"name": name}
    for field in ("script", "image", "memory", "cpu", "log_level"):
        if service.get(field) not in (None, ""):
            spec[field] = service[field]
    if str(spec.get("log_level", "")).upper() == "NOTSET":
        spec["log_level"] = "DEBUG"
    spec.update(_environment(service.get("environment"), errors))
    if service.get("enable_gpu") not in (None, False):
        spec["gpu"] = 1 if service["enable_gpu"] is True else service["enable_gpu"]
    spec["input"] = [_location(entry, f"input.{i}", name, errors) for i, entry
                     in enumerate(_entries(service.get("input"), "input", errors))]
    outputs = [_location(entry, f"output.{i}", name, errors) | {"layout": "flat"}
               for i, entry in enumerate(_entries(service.get("output"), "output", errors))]
    spec["output"] = outputs or [{"prefix": f"{name}/output", "layout": "flat"}]
    if errors:
        raise Invalid("the OSCAR service definition is invalid", errors=errors)
    return spec


def in_oscar_terms(exc: Invalid) -> Invalid:
    """A refusal of the translated spec, with each bad field named as OSCAR names it."""
    return Invalid(exc.detail, errors=[{**error, "path": _oscar_path(error["path"])}
                                       for error in exc.errors])


def _oscar_path(path: str) -> str:
    parts = path.split(".")
    if len(parts) == 3 and parts[0] in ("input", "output") and parts[2] in ("bucket", "prefix"):
        return f"{parts[0]}.{parts[1]}.path"
    if parts[0] == "environment" and len(parts) > 1:
        return ".".join(["environment", "variables", *parts[1:]])
    return OSCAR_NAMES.get(path, path)


def from_function(fn: Function, *, with_token: bool, store: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """The function as OSCAR shows a service; `store` is where clients reach the object
    store (its endpoint and region), shown without keys as OSCAR shows them."""
    service: dict[str, Any] = {
        "name": fn.name, "image": fn.image or "", "script": fn.script or " ".join(fn.argv()),
        "memory": str(fn.given.get("memory", "")), "cpu": str(fn.given.get("cpu", "")),
        "log_level": fn.log_level, "environment": {"variables": dict(fn.environment)},
        "enable_gpu": bool(fn.placement.gpu),
        "input": [{"storage_provider": "minio.default", "path": _path(i.bucket, i.prefix),
                   "suffix": list(i.suffix)} for i in fn.input or ()],
        "output": [{"storage_provider": "minio.default", "path": _path(o.bucket, o.prefix),
                    "suffix": list(o.suffix), "prefix": list(o.name_prefix)}
                   for o in fn.outputs or ()],
        "storage_providers": {"minio": {"default": {
            "endpoint": store["endpoint"], "verify": True, "access_key": "hidden",
            "secret_key": "hidden", "region": store["region"]}}},
    }
    if with_token:
        service["token"] = fn.token
    return service


def job_summary(job: Job) -> dict[str, Any]:
    """A job as OSCAR lists it under /system/logs/{service}: its times only once they are."""
    times = {"creation_time": job.created_at, "start_time": job.started_at,
             "finish_time": job.finished_at}
    return {"status": STATUS[job.status],
            **{name: rfc3339(at) for name, at in times.items() if at is not None}}


def _path(bucket: str | None, prefix: str) -> str:
    return f"{bucket}/{prefix}".rstrip("/")


def _environment(value: Any, errors: Errors) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append({"path": "environment", "message": "must be {variables: {...}}"})
        return {}
    value = folded(value, ENVIRONMENT)
    for key in value:
        if key not in ENVIRONMENT:
            errors.append({"path": f"environment.{key}", "message": "unknown field"})
    if is_set(value.get("secrets")):
        errors.append({"path": "environment.secrets", "message": "Kubernetes secrets are not "
                       "kept by Sluice; pass them as variables"})
    variables = value.get("variables")
    if not variables:
        return {}
    if not isinstance(variables, Mapping):
        errors.append({"path": "environment.variables", "message": "must be a map of names "
                                                                   "to strings"})
        return {}
    # YAML's true and false, as Go's YAML readers give them to a map of strings.
    return {"environment": {name: str(item).lower() if isinstance(item, bool) else item
                            for name, item in variables.items()}}


def _entries(value: Any, path: str, errors: Errors) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    errors.append({"path": path, "message": "must be a list"})
    return []


def _location(entry: Any, path: str, service: Any, errors: Errors) -> dict[str, Any]:
    """A storage location, as OSCAR reads one (`normalizeStoragePaths` in its
    `pkg/handlers/create.go`): the first part of the path is the bucket, or, for a path
    of one part, the service's name is."""
    if not isinstance(entry, Mapping):
        errors.append({"path": path, "message": "must be {storage_provider, path}"})
        return {}
    entry = folded(entry, STORAGE)
    for key in entry:
        if key not in STORAGE:
            errors.append({"path": f"{path}.{key}", "message": "unknown field"})
    provider = str(entry.get("storage_provider") or "minio.default")
    if provider not in DEFAULT_PROVIDERS:
        errors.append({"path": f"{path}.storage_provider",
                       "message": "only the default storage provider (minio.default) is served"})
    where = entry.get("path")
    if not isinstance(where, str) or not where.strip(" /"):
        errors.append({"path": f"{path}.path", "message": "must be BUCKET/FOLDER"})
        return {}
    where = where.strip(" /")
    bucket, _, prefix = where.partition("/") if "/" in where else (service, "", where)
    output = path.startswith("output")
    location: dict[str, Any] = {"bucket": bucket,
                                "prefix": prefix if output or not prefix else f"{prefix}/"}
    if entry.get("suffix"):
        location["suffix"] = entry["suffix"]
    if output and entry.get("prefix"):
        location["name_prefix"] = entry["prefix"]
    return location
