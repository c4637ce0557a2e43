"""The JSON Schemas of the Abaco face, from the models they describe (`core.abaco`): Abaco's
envelope around each answer, its actor, execution and message records (TACC/abaco,
docs/specs/openapi_v3.yml), and its errors."""

from __future__ import annotations

from typing import Any

from core import functions
from core.abaco import actors, executions
from core.ids import JOB_ID_PATTERN
from gateway.openapi.schemas import CALLBACK_URL, STRING, TIME, _obj, _pattern

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
LINKS = {"type": "object", "additionalProperties": STRING}
STATUSES = [executions.SUBMITTED, executions.RUNNING, executions.COMPLETE, executions.ERROR]


def envelope(result: dict[str, Any], outcome: str = "success") -> dict[str, Any]:
    """Abaco's answer (actors/request_utils.py:47-59) around `result`."""
    return _obj({"message": STRING, "result": result, "status": {"const": outcome},
                 "version": STRING})


def _actor() -> dict[str, Any]:
    return _obj({
        "id": _pattern(functions.NAME), "name": NULLABLE_STRING, "owner": STRING,
        "revision": {"type": "integer", "minimum": 1}, "status": {"const": "READY"},
        "statusMessage": STRING, "stateless": {"const": True}, "privileged": {"const": False},
        "token": {"const": False}, "image": NULLABLE_STRING, "description": STRING,
        "defaultEnvironment": {"type": "object", "additionalProperties": STRING},
        "link": STRING, "webhook": STRING, "maxWorkers": NULLABLE_INTEGER,
        "memLimit": NULLABLE_STRING, "maxCpus": NULLABLE_INTEGER, "logEx": NULLABLE_INTEGER,
        "cronSchedule": NULLABLE_STRING, "cronOn": {"type": "boolean"}, "cronNextEx": TIME,
        "script": NULLABLE_STRING,
        "command": {"type": ["array", "null"], "items": STRING}, "_links": LINKS})


def _description() -> dict[str, Any]:
    number = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string",
                                                            "pattern": "^[0-9]+$"}]}
    given = {
        "image": STRING, "name": STRING, "description": STRING,
        "defaultEnvironment": {"type": "object", "propertyNames": _pattern(functions.ENV_NAME),
                               "additionalProperties": STRING},
        "link": {"oneOf": [_pattern(functions.NAME), {"const": ""}]},
        "webhook": {"oneOf": [CALLBACK_URL, {"const": ""}]},
        "maxWorkers": number, "maxCpus": number, "logEx": number,
        "memLimit": {"type": ["string", "integer"], "examples": ["512m", "2g"]},
        "cronSchedule": STRING, "cronOn": {"type": ["boolean", "string"]},
        "script": STRING, "command": {"type": "array", "items": STRING, "minItems": 1}}
    return _obj({**given, **{name: {} for name in sorted(actors.IGNORED)}}, required=(),
                closed=False, description="Abaco's fields (also in snake_case), and Sluice's "
                "script and command; those that mean nothing here are accepted and ignored.")


def _execution() -> dict[str, Any]:
    return _obj({
        "id": _pattern(JOB_ID_PATTERN), "actorId": STRING, "apiServer": STRING,
        "executor": STRING, "workerId": NULLABLE_STRING, "status": {"enum": STATUSES},
        "messageReceivedTime": {"type": "string", "format": "date-time"},
        "startTime": TIME, "finishTime": TIME, "runtime": NULLABLE_INTEGER,
        "cpu": NULLABLE_INTEGER, "io": NULLABLE_INTEGER, "exitCode": NULLABLE_INTEGER,
        "finalState": {"type": ["object", "null"]}, "_links": LINKS})


def _executions() -> dict[str, Any]:
    brief = _obj({"id": _pattern(JOB_ID_PATTERN), "status": {"enum": STATUSES},
                  "startTime": TIME, "finishTime": TIME,
                  "messageReceivedTime": {"type": "string", "format": "date-time"}})
    return _obj({"actorId": STRING, "apiServer": STRING, "owner": STRING,
                 "executions": {"type": "array", "items": brief},
                 "totalExecutions": {"type": "integer", "minimum": 0},
                 "totalCpu": NULLABLE_INTEGER, "totalIo": NULLABLE_INTEGER,
                 "totalRuntime": NULLABLE_INTEGER, "_links": LINKS})


def components() -> dict[str, Any]:
    return {
        "AbacoError": envelope({"type": "null"}, "error"),
        "AbacoEmpty": envelope({"type": "null"}),
        "AbacoActorDescription": _description(),
        "AbacoActorAnswer": envelope(_actor()),
        "AbacoActorList": envelope({"type": "array", "items": _actor()}),
        "AbacoMessageForm": _obj({"message": STRING}, required=("message",), closed=False),
        "AbacoMessageAccepted": envelope(_obj({"executionId": _pattern(JOB_ID_PATTERN),
                                               "msg": {}, "_links": LINKS})),
        "AbacoMessageCount": envelope(_obj({"messages": {"type": "integer", "minimum": 0},
                                            "_links": LINKS})),
        "AbacoPurged": envelope(_obj({"msg": STRING, "_links": LINKS})),
        "AbacoExecutionAnswer": envelope(_execution()),
        "AbacoExecutionsAnswer": envelope(_executions()),
        "AbacoLogsAnswer": envelope(_obj({"logs": STRING, "_links": LINKS})),
    }
