"""The OpenAPI 3.1 document of a running application, made from its router: every route,
its path parameters from the route's own pattern, and what its handler says of itself
(`gateway.openapi.operations`). A route whose handler says nothing is an error, so the
document cannot fall behind the routes."""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any

from aiohttp import web

from core import functions, keys
from core.ids import JOB_ID_PATTERN
from gateway.openapi import abaco_schemas, operations
from gateway.openapi.schemas import components, ref
from gateway.problems import STATUS

# Every path parameter of every face, by name.
PATH_PARAMETERS = {
    "name": ({"type": "string", "pattern": functions.NAME.pattern}, "A function's name."),
    "id": ({"type": "string", "pattern": JOB_ID_PATTERN.pattern}, "A job's id."),
    "job": ({"type": "string", "pattern": JOB_ID_PATTERN.pattern}, "A job's id."),
    "bucket": ({"type": "string", "pattern": keys.BUCKET.pattern}, "A bucket's name."),
    "key": ({"type": "string", "minLength": 1}, "An object's key (it may hold '/')."),
    "source": ({"enum": ["s3", "seaweedfs"]}, "Which storage server sends the events."),
    "actor_id": ({"type": "string", "pattern": functions.NAME.pattern},
                 "An actor's id: its function's name."),
    "execution_id": ({"type": "string", "pattern": JOB_ID_PATTERN.pattern},
                     "An execution's id: its job's."),
}
_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
SECURITY = [{"bearer": []}, {"basic": []}]


class Undescribed(Exception):
    """A route's handler has no `@described`."""


def build(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for route in app.router.routes():
        path = _path_of(route.resource)
        if path is None:
            continue
        operation = operations.of(route.handler)
        if operation is None:
            raise Undescribed(f"{route.method} {path} ({route.handler.__qualname__}) has no "
                              "@described")
        method = route.method.lower()
        paths.setdefault(path, {})[method] = _operation(operation, method, path,
                                                        route.handler.__name__, used)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sluice", "version": importlib.metadata.version("sluice"),
                 "description": "Functions invoked over HTTP, storage events and schedules, "
                                "run on durable queues. The native API is under /v1; OSCAR's "
                                "clients use /system, /run and /job; Abaco's, /actors/v2 "
                                "(and /actors).",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": components() | abaco_schemas.components(),
                       "responses": _problem_responses(),
                       "securitySchemes": {
                           "bearer": {"type": "http", "scheme": "bearer", "description":
                                      "The admin token, a function's token or the events "
                                      "token."},
                           "basic": {"type": "http", "scheme": "basic", "description":
                                     "As OSCAR's clients send it: the password is the token."}}},
    }


def _path_of(resource: web.AbstractResource | None) -> str | None:
    if resource is None:
        return None
    info = resource.get_info()
    template = info.get("formatter") or info.get("path")
    if template is None:
        return None
    return _PARAMETER.sub(lambda m: "{" + m.group(1) + "}", template)


def _operation(operation: operations.Operation, method: str, path: str, name: str,
               used: set[str]) -> dict[str, Any]:
    operation_id = name if name not in used else _slug(method, path)
    used.add(operation_id)
    answers = {str(status): response for status, response in operation.answers.items()}
    if method == "head":
        answers = {status: {k: v for k, v in response.items() if k != "content"}
                   for status, response in answers.items()}
    problems = set(operation.problems) | ({404} if "{" in path else set())
    media, schema = (operations.JSON, operation.problem_schema) if operation.problem_schema \
        else (operations.PROBLEM, "Problem")
    for status in sorted(problems):
        problem = {"$ref": f"#/components/responses/Problem{status}"} \
            if not operation.problem_schema else {
                "description": "Refused", "content": {media: {"schema": ref(schema)}}}
        if str(status) in answers and method != "head":
            # An answer of the operation's own and a problem share the status.
            content = answers[str(status)].setdefault("content", {})
            content[media] = {"schema": ref(schema)}
        else:
            answers.setdefault(str(status), problem)
    described: dict[str, Any] = {
        "operationId": operation_id, "summary": operation.summary, "tags": [operation.tag],
        "parameters": [*_path_parameters(path, operation.parameters), *operation.parameters],
        "responses": dict(sorted(answers.items())),
    }
    if operation.description:
        described["description"] = operation.description
    if operation.body is not None and method != "head":
        described["requestBody"] = operation.body
    described["security"] = [] if operation.public else SECURITY
    return described


def _path_parameters(path: str, declared: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The path's parameters, by the table, but for those the operation declares itself."""
    own = {p["name"] for p in declared if p["in"] == "path"}
    found = []
    for name in _PARAMETER.findall(path):
        if name in own:
            continue
        schema, description = PATH_PARAMETERS[name]
        found.append({"name": name, "in": "path", "required": True, "schema": schema,
                      "description": description})
    return found


def _problem_responses() -> dict[str, Any]:
    described: dict[int, list[str]] = {}
    for kind, status in STATUS.items():
        described.setdefault(status, []).append(kind.title)
    described.setdefault(400, []).append("a malformed HTTP request")
    responses = {}
    for status, titles in sorted(described.items()):
        responses[f"Problem{status}"] = {
            "description": "; ".join(titles),
            "content": {operations.PROBLEM: {"schema": ref("Problem")}}}
    return responses


def _slug(method: str, path: str) -> str:
    return "_".join([method, *re.findall(r"[A-Za-z0-9]+", path)])
