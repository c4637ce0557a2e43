"""The JSON Schemas of what the API reads and answers, built from the models' own names,
patterns, bounds and enumerations (`core.functions`, `core.jobs`, `core.quantities`,
`core.keys`, `core.oscar`, `core.schedules`), so that a change there changes the
document."""

from __future__ import annotations

from typing import Any

from core import (callbacks, functions, keys, oscar, oscar_fields, params, quantities, results,
                  retries, schedules, triggers)
from core.abaco import contract as abaco_contract
from core.errors import SluiceError
from core.ids import JOB_ID_PATTERN
from core.jobs import JobStatus, Reason, Trigger
from core.placement import MAX_GPUS

STRING = {"type": "string"}
TIME = {"type": ["string", "null"], "format": "date-time"}
PROGRAM = {"type": "string", "pattern": "\\S"}
CALLBACK_URL = {"type": "string", "format": "uri", "maxLength": callbacks.MAX_URL,
                "pattern": "^[hH][tT][tT][pP][sS]?://"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _obj(properties: dict[str, Any], *, required: tuple[str, ...] | None = None,
         closed: bool = True, **extra) -> dict[str, Any]:
    """An object; by default every property is required and no other is allowed (what
    Sluice answers); `required=()` for what a client may leave out."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties if required is None else required)}
    if closed:
        schema["additionalProperties"] = False
    return schema | extra


def _pattern(regex) -> dict[str, str]:
    return {"type": "string", "pattern": regex.pattern}


def _quantity(number: str, regex, example: str) -> dict:
    """A number, a quantity with its unit, or null for none."""
    return {"oneOf": [{"type": number, "minimum": 0}, _pattern(regex), {"type": "null"}],
            "examples": [example]}


def _function_spec_properties() -> dict[str, Any]:
    backoff = _quantity("number", quantities.DURATION, "2s")
    location = {"bucket": _pattern(keys.BUCKET),
                "prefix": {"type": "string", "maxLength": keys.MAX_PREFIX_BYTES}}
    names = {"type": "array", "items": {"type": "string", "minLength": 1}}
    output = _obj({**location, "layout": {
        "enum": list(triggers.LAYOUTS), "default": "per-job",
        "description": "per-job: <prefix>/<job id>/<name>; flat: <prefix>/<name>, as OSCAR "
                       "writes them (a later job's file of a name replaces an earlier one's)."},
        "suffix": names, "name_prefix": names}, required=())
    properties = {
        "name": _pattern(functions.NAME),
        "command": {"oneOf": [PROGRAM, {"type": "array", "items": STRING, "minItems": 1}],
                    "description": "The argv to run, the program first (or the program "
                                   "alone)."},
        "script": {"type": "string", "description": "A script for /bin/sh -c."},
        "image": {"type": "string", "minLength": 1, "description": "A container image."},
        "environment": {"type": "object", "propertyNames": _pattern(functions.ENV_NAME),
                        "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "timeout": _quantity("number", quantities.DURATION, "5m"),
        "memory": _quantity("integer", quantities.MEMORY, "512Mi"),
        "cpu": _quantity("number", quantities.CPU, "500m"),
        "network": {"type": "boolean", "default": False},
        "gpu": {"type": "integer", "minimum": 0, "maximum": MAX_GPUS},
        "kubernetes": {"type": "object", "properties": {
            "service_account": STRING,
            "node_selector": {"type": "object", "additionalProperties": STRING},
            "tolerations": {"type": "array", "items": {"type": "object"}}},
            "additionalProperties": False},
        "input": {"type": "array", "items": _obj({
            **location, "suffix": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "scan_interval": {"type": ["number", "null"], "minimum": 5}}, required=())},
        "output": {"oneOf": [output, {"type": "array", "items": output, "minItems": 1}],
                   "description": "Where its files go: one place, or several (each file to "
                                  "every place whose suffix and name_prefix it matches)."},
        "guard": _obj({"max_depth": {"type": "integer", "minimum": 1,
                                     "maximum": functions.MAX_GUARD_DEPTH}}),
        "log_level": {"enum": list(functions.LOG_LEVELS)},
        "mode": {"enum": list(functions.MODES), "default": "sync"},
        "description": STRING,
        "retries": {"type": "integer", "minimum": 0, "maximum": retries.MAX_RETRIES,
                    "default": 0, "description": "Attempts after one the function failed."},
        "retry_backoff": {"oneOf": [backoff, _obj({"initial": backoff, "max": backoff},
                                                  required=())],
                          "description": "Before each retry: doubling from initial (1 s) up "
                                         "to max (5 min), with jitter."},
        "retry_on": {"type": "array", "minItems": 1, "items": {"oneOf": [
            {"enum": list(retries.FAILURES)},
            {"type": "integer", "minimum": 1, "maximum": 255}]},
            "description": "Which failures are retried: reasons and exit codes (default: "
                           "any)."},
        "on_failure": {**_pattern(functions.NAME), "description": "A function to invoke "
                       "with the record of each job of this one that fails, as JSON."},
        "on_end": {**_pattern(functions.NAME), "description": "A function to invoke with "
                   "the record of each job of this one that ends (succeeded, failed or "
                   "cancelled), as JSON; chains may not come back to where they began."},
        "max_queued": {"type": "integer", "minimum": 1, "maximum": functions.MAX_QUEUED,
                       "description": "Its jobs queued past which invocations are 429."},
        "retention": {**_quantity("number", quantities.DURATION, "30d"), "description":
                      "How long its ended jobs, their logs and outputs are kept (default: "
                      "SLUICE_RETENTION, 30 days)."},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": functions.MAX_CONCURRENCY,
                        "description": "At most so many of its jobs run at once, on all "
                                       "workers together."},
        "callback": {"oneOf": [CALLBACK_URL, _obj({
            "url": CALLBACK_URL, "on": {"type": "array", "minItems": 1,
                                        "items": {"enum": list(callbacks.ENDINGS)}}},
            required=("url",))], "description": "Where the record of each of its jobs is "
            "POSTed, signed, when the job ends: a URL, or {url, on: [endings]} (default: "
            "every ending)."},
        "sync_queue_limit": {"type": "integer", "minimum": 0, "maximum": functions.MAX_QUEUED,
                             "default": functions.DEFAULT_SYNC_QUEUE_LIMIT, "description":
                             "While more of its jobs than this are queued, a synchronous "
                             "invocation is 429 (0: while any is); asynchronous ones are "
                             "not limited by it."},
        "schedule": {"type": "string", "minLength": 1, "maxLength": schedules.MAX_TEXT,
                     "examples": ["*/15 8-18 * * mon-fri", "now + 6 hours"],
                     "description": "When it runs by the clock, in UTC: a cron expression "
                     "(minute hour day-of-month month day-of-week), or Abaco's 'yyyy-mm-dd hh "
                     "+ N unit' or 'now + N unit' (unit: hour, day, week or month)."},
        "schedule_enabled": {"type": "boolean", "default": True, "description":
                             "false keeps the schedule without firing it."},
        "abaco": {**_obj({"name": {"type": ["string", "null"],
                                   "maxLength": abaco_contract.MAX_NAME},
                          "api_server": {"oneOf": [CALLBACK_URL, {"const": ""}]}},
                         required=()),
                  "description": "Its jobs see Abaco's context variables (MSG, "
                                 "_abaco_execution_id, ...) too: the actor's name and the "
                                 "server it was registered through."},
    }
    return properties


def _function_spec() -> dict[str, Any]:
    return _obj(_function_spec_properties(), required=(),
                description="A function as a user registers it; every field but the program "
                            "(command, script or image) has a default.")


def _function() -> dict[str, Any]:
    return _obj({**_function_spec_properties(), "revision": {"type": "integer", "minimum": 1},
                 "token": {"type": "string", "description":
                           "The function's token (only for the admin)."},
                 "callback_secret": {"type": "string", "description": "The key that signs "
                                     "its callbacks (only for the admin)."},
                 "next_fire": {**TIME, "description": "When its schedule fires next (null "
                               "without one, or while it is not enabled)."},
                 "queued": {**COUNT, "description": "Its jobs waiting to start (when the "
                                                    "function is shown alone)."},
                 "running": {**COUNT, "description": "Its jobs running (when the function "
                                                     "is shown alone)."}},
                required=("name", "revision"),
                description="A function as registered: its spec, with what the conventions "
                            "filled in, and its revision.")


COUNT = {"type": "integer", "minimum": 0}
OUTPUT = {"name": STRING, "bucket": STRING, "key": STRING, "size": COUNT,
          "content_type": STRING, "etag": STRING}


# What the function used, null where its executor cannot measure it (README: What a job
# records).
MEASURES = {
    "cpu_seconds": {"type": ["number", "null"], "minimum": 0},
    "peak_memory": {"type": ["integer", "null"], "minimum": 0, "description":
                    "Bytes: its largest process's resident set (process executor), or the "
                    "high-water mark of its container's cgroup."},
    "io_read_bytes": {"type": ["integer", "null"], "minimum": 0, "description":
                      "Bytes the function itself read from block devices (not from the "
                      "page cache)."},
    "io_write_bytes": {"type": ["integer", "null"], "minimum": 0, "description":
                       "Bytes the function itself wrote to files on block devices."},
}


def _job() -> dict[str, Any]:
    number, count = {"type": ["number", "null"]}, COUNT
    return _obj({
        "id": _pattern(JOB_ID_PATTERN), "function": STRING, "revision": {"type": "integer"},
        "trigger": {"enum": [str(t) for t in Trigger]},
        "status": {"enum": [str(s) for s in JobStatus]}, "attempts": count,
        "retries": {**count, "description": "How many times the function's retry policy "
                                            "ran it again."},
        "created_at": {"type": "string", "format": "date-time"}, "started_at": TIME,
        "finished_at": TIME, "worker": {"type": ["string", "null"], "description":
                                        "The worker of the last attempt."},
        "queue_wait": number, "runtime": number,
        "exit_code": {"type": ["integer", "null"]},
        "reason": {"enum": [*(str(r) for r in Reason), None]},
        "error": {"type": ["string", "null"]}, **MEASURES,
        "bytes_in": {**count, "description": "The bytes staged in for the function."},
        "bytes_out": {**count, "description": "The bytes of its output objects."},
        "idempotency_key": {"type": ["string", "null"]}, "depth": count,
        "params": {"type": "object", "propertyNames": {"pattern": f"^{params.NAME.pattern}$"},
                   "additionalProperties": STRING, "description": "The invocation's query "
                   "parameters, which its function sees as PARAM_<NAME>."},
        "source": nullable(_obj({"bucket": STRING, "key": STRING,
                                 "version": {"type": ["string", "null"]}})),
        "outputs": {"type": "array", "items": _obj(OUTPUT)},
        "callback": nullable(_obj({
            "url": STRING, "on": {"type": "array", "items": {"enum": list(callbacks.ENDINGS)}},
            "state": {"enum": ["waiting", *(str(s) for s in callbacks.CallbackState)]},
            "attempts": count, "last_error": {"type": ["string", "null"]},
            "delivered_at": TIME})),
    })


def _attempt() -> dict[str, Any]:
    number = {"type": ["number", "null"]}
    return _obj({
        "number": {"type": "integer", "minimum": 1}, "worker": {"type": ["string", "null"]},
        "started_at": TIME, "finished_at": {"type": "string", "format": "date-time"},
        "runtime": number, "exit_code": {"type": ["integer", "null"]},
        "reason": {"enum": [*(str(r) for r in Reason), None]},
        "error": {"type": ["string", "null"]}, **MEASURES,
        "logs": {"type": "string", "format": "uri-reference"},
    })


def _problem() -> dict[str, Any]:
    titles = sorted({kind.title for kind in _kinds(SluiceError)} | {"Internal error"})
    return _obj({
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string", "description": f"One of: {', '.join(titles)}; or the "
                                                   "HTTP reason of a malformed request."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": STRING, "instance": STRING,
        "errors": {"type": "array", "items": _obj({"path": STRING, "message": STRING})},
    }, required=("type", "title", "status"), closed=False,
        description="RFC 7807 problem details; `errors` names each bad field by its path.")


def _kinds(error: type) -> list[type]:
    return [error, *(kind for sub in error.__subclasses__() for kind in _kinds(sub))]


def _oscar_service() -> dict[str, Any]:
    names = {"type": ["array", "null"], "items": STRING}
    storage = {"type": "object", "properties": {
        "storage_provider": STRING, "path": STRING, "suffix": names, "prefix": names},
        "required": ["path"]}
    provider = _obj({"endpoint": STRING, "verify": {"type": "boolean"}, "access_key": STRING,
                     "secret_key": STRING, "region": STRING})
    answered = {"name": STRING, "image": STRING, "script": STRING, "memory": STRING,
                "cpu": STRING, "log_level": STRING, "enable_gpu": {"type": "boolean"},
                "environment": {"type": "object", "properties": {"variables": {
                    "type": "object", "additionalProperties": STRING}}},
                "input": {"type": ["array", "null"], "items": storage},
                "output": {"type": ["array", "null"], "items": storage}, "token": STRING,
                "storage_providers": {"type": "object", "properties": {"minio": {
                    "type": "object", "additionalProperties": provider}}}}
    unused = {name: {"description": f"Accepted, without effect: {why}."}
              for name, why in sorted(oscar_fields.UNUSED.items())}
    refused = {name: {"description": f"Refused once set: {why}."}
               for name, why in sorted(oscar_fields.REFUSED.items())}
    return _obj({**answered, **unused, **refused}, required=("name",), closed=False,
                description="An OSCAR service definition (FDL); field names match whatever "
                            "their case, as in OSCAR. Outputs go to <path>/<file name>.")


def _oscar_info() -> dict[str, Any]:
    return _obj({"version": STRING, "git_commit": STRING, "architecture": STRING,
                 "kubernetes_version": {"type": ["string", "null"]}, "executor": STRING,
                 "serverless_backend": _obj({"name": STRING, "version": STRING})})


def _oscar_config() -> dict[str, Any]:
    flags = ("gpu_available", "interLink_available", "yunikorn_enable", "kueue_enable",
             "volume_enable", "minio_quota_enabled")
    return _obj({
        "config": _obj({"name": STRING, "namespace": STRING, "services_namespace": STRING,
                        "controller_service_account": STRING,
                        **{flag: {"type": "boolean"} for flag in flags},
                        "oidc_groups": {"type": "array", "items": STRING}}),
        "minio_provider": _obj({"endpoint": STRING, "verify": {"type": "boolean"},
                                "access_key": STRING, "secret_key": STRING,
                                "region": STRING}),
        "allowed_image_repositories": {"type": "array", "items": STRING}})


def _oscar_jobs() -> dict[str, Any]:
    when = {"type": "string", "format": "date-time"}
    return _obj({"jobs": {"type": "object", "additionalProperties": _obj({
        "status": {"enum": sorted(set(oscar.STATUS.values()))},
        "creation_time": when, "start_time": when, "finish_time": when},
        required=("status",))}, "next_page": _pattern(JOB_ID_PATTERN),
        "remaining_jobs": COUNT}, required=("jobs",))


def components() -> dict[str, Any]:
    return {
        "FunctionSpec": _function_spec(),
        "Deployment": {"oneOf": [ref("FunctionSpec"), _obj({"functions": {
            "type": "object", "minProperties": 1, "additionalProperties": ref("FunctionSpec"),
            "propertyNames": _pattern(functions.NAME)}})]},
        "Function": _function(),
        "FunctionList": _obj({"functions": {"type": "array", "items": ref("Function")}}),
        "Job": _job(),
        "JobPage": _obj({"jobs": {"type": "array", "items": ref("Job")},
                         "next_cursor": _pattern(JOB_ID_PATTERN)}, required=("jobs",)),
        "OutputManifest": _obj({"job": STRING, "status": {"enum": [str(s) for s in JobStatus]},
                                "outputs": {"type": "array", "items": _obj({
                                    **OUTPUT, "url": {"type": "string", "format": "uri"}})}}),
        "Attempts": _obj({"job": STRING, "status": {"enum": [str(s) for s in JobStatus]},
                          "attempts": {"type": "array", "items": _attempt()}}),
        "Results": _obj({"job": STRING, "status": {"enum": [str(s) for s in JobStatus]},
                         "results": {"type": "array", "items": _obj({
                             "sequence": {"type": "integer", "minimum": 1}, "size": {
                                 "type": "integer", "minimum": 1, "maximum": results.MAX_BYTES},
                             "created_at": {"type": "string", "format": "date-time"},
                             "expires_at": {"type": "string", "format": "date-time"},
                             "data": {"type": "string", "contentEncoding": "base64"}})},
                         "next_cursor": {"type": "integer", "minimum": 1}},
                        required=("job", "status", "results")),
        "CallbackSecret": _obj({"function": STRING, "secret": STRING, "header": STRING}),
        "Cancelled": _obj({"function": STRING, "cancelled": {
            "type": "array", "items": _pattern(JOB_ID_PATTERN)}}),
        "Problem": _problem(),
        "ObjectListing": _obj({"bucket": STRING, "prefix": STRING, "objects": {
            "type": "array", "items": _obj({"key": STRING, "etag": STRING,
                                            "size": {"type": "integer"}})}}),
        "ObjectWritten": _obj({"bucket": STRING, "key": STRING, "etag": STRING,
                               "size": {"type": "integer"}}),
        "StorageNotification": {"type": "object", "description":
                                "An S3/MinIO bucket notification ({Records: [...]}) or a "
                                "SeaweedFS filer event."},
        "EventsRouted": _obj({"events": {"type": "integer"}, "jobs": {
            "type": "array", "items": STRING}}),
        "OscarService": _oscar_service(),
        "OscarServiceList": {"type": "array", "items": ref("OscarService")},
        "OscarInfo": _oscar_info(),
        "OscarConfig": _oscar_config(),
        "OscarJobs": _oscar_jobs(),
    }
