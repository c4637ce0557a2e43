"""Abaco's actor description, translated to a function spec and back. The fields are those
of models.py's `Actor.PARAMS` (lines 734-775, TACC/abaco at 9e83e1c), in the camelCase of
Abaco's hosted API (docs/specs/openapi_v3.yml), or in snake_case as Abaco's default
configuration reads them; Sluice also takes `script` and `command`, so that an actor needs
no container."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

from core.abaco.executions import OWNER
from core.errors import Invalid
from core.functions import Function
from core.times import rfc3339

# Abaco's field -> the spec's.
FIELDS = {"image": "image", "description": "description", "defaultEnvironment": "environment",
          "link": "on_end", "webhook": "callback", "maxWorkers": "concurrency",
          "memLimit": "memory", "maxCpus": "cpu", "logEx": "retention",
          "cronSchedule": "schedule", "cronOn": "schedule_enabled", "script": "script",
          "command": "command"}
SPEC_PATHS = {spec: field for field, spec in FIELDS.items()} | {"abaco.name": "name",
                                                               "callback.url": "webhook"}
# Abaco's fields with no meaning here, and what its answers hold (a client may send back
# an actor as it was given): accepted, and ignored.
IGNORED = frozenset({
    "stateless", "type", "token", "hints", "privileged", "useContainerUid", "queue", "status",
    "statusMessage", "executions", "state", "tasdir", "uid", "gid", "cronNextEx", "mounts",
    "owner", "tenant", "apiServer", "revision", "force", "id", "createTime",
    "lastUpdateTime", "_links"})
NUMBERS = {"maxWorkers", "maxCpus", "logEx"}
ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 13
# Docker's --memory: a number and b, k, m or g (docs.docker.com/engine/containers/
# resource_constraints/#limit-a-containers-access-to-memory).
DOCKER_MEMORY = re.compile(r"^([0-9]{1,15})([bkmg]?)$", re.IGNORECASE)
DOCKER_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
NANO = 1e9
Bad = Callable[[str, str], None]


def new_id() -> str:
    """An actor's id, as Abaco makes one (13 characters, models.py:705-708, 993-996); in
    lowercase, since it is also the function's name, a DNS label."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def to_spec(actor: Any, actor_id: str, api_server: str, *, name: str | None = None,
            keep_name: bool = False) -> dict[str, Any]:
    """The spec of the function `actor_id` for an Abaco actor description. A PUT keeps the
    actor's `name` (`keep_name`: Abaco drops it from a PUT, controllers.py:1147)."""
    if not isinstance(actor, Mapping):
        raise Invalid("it must be an object of the actor's fields")
    given, errors = _camel(actor)
    spec: dict[str, Any] = {"name": actor_id}
    for field, value in given.items():
        if field in FIELDS:
            spec[FIELDS[field]] = _value(field, value)
        elif field != "name" and field not in IGNORED:
            errors.append({"path": field, "message": "unknown field"})
    if errors:
        raise Invalid("its fields are refused", errors=errors)
    for empty in ("on_end", "callback"):
        if spec.get(empty) == "":
            del spec[empty]
    title = name if keep_name else given.get("name")
    spec["abaco"] = {"name": title, "api_server": api_server}
    return spec


def refused(exc: Invalid) -> Invalid:
    """A refusal of the spec, told in the actor's field names."""
    return Invalid(f"Invalid actor description: {exc.detail}", errors=[
        {**error, "path": _abaco_path(error["path"])} for error in exc.errors])


def from_function(fn: Function) -> dict[str, Any]:
    """The function as Abaco shows an actor (models.py:974-985): its own fields, and the
    fixed answers of the others, since Sluice's actors are all stateless, unprivileged and
    without an OAuth token of their own. `cronOn` is false without a schedule, as Abaco's
    default is; `cronNextEx` is when it fires next."""
    spec = fn.to_spec()
    actor: dict[str, Any] = {
        "id": fn.name, "name": fn.abaco.name if fn.abaco else None, "owner": OWNER,
        "revision": fn.revision, "status": "READY", "statusMessage": "", "stateless": True,
        "privileged": False, "token": False}
    for field, spec_field in FIELDS.items():
        actor[field] = spec.get(spec_field)
    actor.update(link=fn.on_end or "", webhook=fn.callback.url if fn.callback else "",
                 memLimit=None if fn.memory is None else str(fn.memory),
                 maxCpus=None if fn.cpu is None else int(fn.cpu * NANO),
                 logEx=None if fn.retention is None else int(fn.retention),
                 cronOn=fn.schedule is not None and fn.schedule_enabled,
                 cronNextEx=rfc3339(fn.next_fire))
    return actor


def _camel(actor: Mapping) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The fields by their camelCase names (models.py:55-62), and the errors of fields
    given twice, once in each case."""
    given: dict[str, Any] = {}
    errors = []
    for key, value in actor.items():
        field = str(key)
        if not field.startswith("_"):
            first, *rest = field.split("_")
            field = first + "".join(part.capitalize() for part in rest)
        if field in given:
            errors.append({"path": field, "message": f"given twice, as {key!r} too"})
        given[field] = value
    return given, errors


def _value(field: str, value: Any) -> Any:
    """What the spec takes for an Abaco value: form fields come as text, and Abaco's units
    are Docker's. A value that does not convert is passed as given, for the spec's parser to
    refuse by name."""
    if field in NUMBERS and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if field == "maxCpus" and isinstance(value, int) and not isinstance(value, bool):
        return value / NANO
    if field == "memLimit" and isinstance(value, str):
        match = DOCKER_MEMORY.match(value.strip())
        if match:
            return int(match.group(1)) * DOCKER_UNITS[match.group(2).lower()]
    if field == "cronOn" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _abaco_path(path: str) -> str:
    head, dot, rest = path.partition(".")
    if path in SPEC_PATHS:
        return SPEC_PATHS[path]
    return f"{SPEC_PATHS.get(head, head)}{dot}{rest}"
