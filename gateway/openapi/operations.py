"""What each handler says of itself for the OpenAPI document: `@described(...)` beside its
route, so that the document is made from the route tables (`gateway.openapi.document`) and
a route without a description is an error there, not a gap."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from gateway.openapi.schemas import ref

JSON = "application/json"
PROBLEM = "application/problem+json"
ATTRIBUTE = "__openapi__"

# The problems every operation of an authenticated face may answer.
AUTHENTICATED = (401, 403, 503)
# ... and every one that reads a body.
READS_BODY = (400, 413)


@dataclasses.dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    answers: Mapping[int, dict[str, Any]]
    problems: tuple[int, ...] = ()
    body: dict[str, Any] | None = None
    parameters: tuple[dict[str, Any], ...] = ()
    public: bool = False
    description: str = ""
    problem_schema: str | None = None
    """The schema of the operation's errors, for a face whose errors are not RFC 7807's
    problems; they are then JSON."""


def described(summary: str, *, tag: str, answers: Mapping[int, dict[str, Any]],
              problems: tuple[int, ...] = (), body: dict[str, Any] | None = None,
              parameters: tuple[dict[str, Any], ...] = (), public: bool = False,
              problem_schema: str | None = None) -> Callable:
    """Describe the handler below. `problems` are the statuses of problems the operation
    itself may answer; those of authentication and of reading a body are added."""

    def describe(handler: Callable) -> Callable:
        statuses = set(problems) | (set() if public else set(AUTHENTICATED)) \
            | (set(READS_BODY) if body is not None else set())
        setattr(handler, ATTRIBUTE, Operation(
            summary=summary, tag=tag, answers=answers, problems=tuple(sorted(statuses)),
            body=body, parameters=parameters, public=public,
            description=(handler.__doc__ or "").strip(), problem_schema=problem_schema))
        return handler

    return describe


def of(handler: Callable) -> Operation | None:
    return getattr(handler, ATTRIBUTE, None)


def answer(description: str, content: Mapping[str, dict | None] | None = None,
           headers: Mapping[str, dict] | None = None) -> dict[str, Any]:
    """An answer; a media type given None has no schema (bytes of any kind)."""
    response: dict[str, Any] = {"description": description}
    if content:
        response["content"] = {media: {} if schema is None else {"schema": schema}
                               for media, schema in content.items()}
    if headers:
        response["headers"] = {name: {"schema": schema} for name, schema in headers.items()}
    return response


def json_answer(description: str, schema_name: str, **headers: dict) -> dict[str, Any]:
    return answer(description, {JSON: ref(schema_name)},
                  {name.replace("_", "-"): schema for name, schema in headers.items()})


def document_body(schema_name: str) -> dict[str, Any]:
    """A JSON or YAML document (by Content-Type; JSON when none is given)."""
    return {"required": True, "content": {JSON: {"schema": ref(schema_name)},
                                          "application/yaml": {"schema": ref(schema_name)}}}


def bytes_body(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}


def query(name: str, schema: dict, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def header(name: str, schema: dict, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": schema,
            "description": description}
