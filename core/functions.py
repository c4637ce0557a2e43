"""The function spec: what a user registers, validated field by field with the path of each
error, by one parser per group of fields."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from core import quantities
from core.abaco.contract import AbacoContract, parse_contract
from core.callbacks import Callback, parse_callback
from core.errors import Invalid
from core.handoffs import HANDOFFS, parse_handoff
from core.params import PREFIX as PARAM_PREFIX
from core.placement import Placement, parse_placement
from core.retries import RetryPolicy, parse_retry
from core.schedules import Schedule, parse_schedule_fields
from core.triggers import InputSpec, OutputSpec, overlaps, parse_inputs, parse_outputs

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MODES = ("sync", "async")
RESERVED_ENV = ("INPUT_FILE_PATH", "TMP_OUTPUT_DIR", "JOB_ID", "FUNCTION_NAME", "EVENT",
                "STORAGE_OBJECT_BUCKET", "STORAGE_OBJECT_KEY", "MESSAGE", "MESSAGE_CONTENT_TYPE")
FIELDS = ("name", "command", "script", "image", "environment", "timeout", "memory", "cpu",
          "network", "gpu", "kubernetes", "input", "output", "guard", "log_level", "mode",
          "description", "retries", "retry_backoff", "retry_on", "on_failure", "on_end",
          "max_queued", "retention", "concurrency", "callback", "sync_queue_limit", "schedule",
          "schedule_enabled", "abaco")
MAX_GUARD_DEPTH = 100
MAX_QUEUED = 10_000_000
# As Abaco refuses a synchronous message while more than 3 wait (actors/controllers.py).
DEFAULT_SYNC_QUEUE_LIMIT = 3
MAX_CONCURRENCY = 100_000
MAX_RETENTION = 10 * 365 * 86400
MAX_TIMEOUT = 7 * 24 * 3600
DEFAULT_TIMEOUT = 300.0
# Reports a bad field: bad("environment.X", "is not a valid variable name").
Bad = Callable[[str, str], None]


@dataclasses.dataclass(frozen=True)
class Function:
    name: str
    command: tuple[str, ...] | None = None
    script: str | None = None
    image: str | None = None
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    memory: int | None = None
    cpu: float | None = None
    network: bool = False
    placement: Placement = Placement()
    input: tuple[InputSpec, ...] | None = None
    outputs: tuple[OutputSpec, ...] | None = None
    guard_depth: int | None = None
    log_level: str = "INFO"
    mode: str = "sync"
    description: str = ""
    retry: RetryPolicy = RetryPolicy()
    on_failure: str | None = None
    """The function a failed job of this one is handed to, its record as the input."""
    on_end: str | None = None
    """The function every job of this one that ends is handed to (`core.handoffs`)."""
    max_queued: int | None = None
    """Its jobs queued past which its invocations are answered 429."""
    sync_queue_limit: int = DEFAULT_SYNC_QUEUE_LIMIT
    """A synchronous invocation is answered 429 while more of its jobs than this are queued
    (0: while any is): a caller who waits must not wait behind a long queue."""
    concurrency: int | None = None
    """At most so many of its jobs run at once, on all workers together."""
    retention: float | None = None
    """Seconds its ended jobs are kept, with their logs and outputs (None: the platform's
    `SLUICE_RETENTION`)."""
    callback: Callback | None = None
    """Where the record of each of its jobs is POSTed when the job ends."""
    schedule: Schedule | None = None
    schedule_enabled: bool = True
    """False keeps the schedule without firing it."""
    next_fire: float | None = None
    """When its schedule fires next, as the job store had it when read (not part of the
    spec: None until a reader asks the store)."""
    abaco: AbacoContract | None = None
    """Its jobs see Abaco's context variables too (`core.abaco.context`)."""
    given: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Memory and CPU as the spec wrote them (`300Mi`, `0.5`, `500m`): shown back so."""
    token: str = dataclasses.field(default="", repr=False)
    revision: int = 1

    def argv(self) -> list[str]:
        """The command the executor runs: the argv as given, the script through `/bin/sh -c`,
        or nothing for a function that is only an image: the image's own command runs."""
        if self.command:
            return list(self.command)
        if self.script is not None:
            return ["/bin/sh", "-c", self.script]
        return []

    def to_spec(self) -> dict[str, Any]:
        """The user-facing spec (no token, no revision): what `from_spec` reads back."""
        spec: dict[str, Any] = {"name": self.name}
        if self.command:
            spec["command"] = list(self.command)
        if self.script is not None:
            spec["script"] = self.script
        if self.image:
            spec["image"] = self.image
        spec.update(environment=dict(self.environment), timeout=self.timeout,
                    memory=self.given.get("memory", self.memory),
                    cpu=self.given.get("cpu", self.cpu), network=self.network,
                    log_level=self.log_level, mode=self.mode, description=self.description,
                    sync_queue_limit=self.sync_queue_limit)
        if self.input is not None:
            spec["input"] = [i.to_dict() for i in self.input]
        if self.outputs is not None:
            outputs = [o.to_dict() for o in self.outputs]
            spec["output"] = outputs[0] if len(outputs) == 1 else outputs
        if self.guard_depth is not None:
            spec["guard"] = {"max_depth": self.guard_depth}
        if self.placement.gpu:
            spec["gpu"] = self.placement.gpu
        if self.placement.kubernetes_spec():
            spec["kubernetes"] = self.placement.kubernetes_spec()
        for field in HANDOFFS:
            if getattr(self, field):
                spec[field] = getattr(self, field)
        if self.max_queued:
            spec["max_queued"] = self.max_queued
        if self.concurrency:
            spec["concurrency"] = self.concurrency
        if self.retention:
            spec["retention"] = self.retention
        if self.callback:
            spec["callback"] = self.callback.to_spec()
        if self.schedule:
            spec.update(schedule=self.schedule.text, schedule_enabled=self.schedule_enabled)
        if self.abaco:
            spec["abaco"] = self.abaco.to_spec()
        return spec | self.retry.to_spec()

    def resolved(self, bucket: str, path: str = "") -> Function:
        """Fill in what the spec left to convention (SCAR's folders): inputs under
        `<bucket>/<name>/input/`, outputs under `<bucket>/<name>/output/`. Refuses a function
        whose outputs would trigger itself unless it names a guard."""
        inputs = self.input if self.input is not None else (
            InputSpec(bucket=bucket, prefix=f"{self.name}/input/"),)
        inputs = tuple(dataclasses.replace(i, bucket=i.bucket or bucket) for i in inputs)
        outputs = self.outputs or (OutputSpec(bucket=bucket, prefix=f"{self.name}/output"),)
        outputs = tuple(dataclasses.replace(o, bucket=o.bucket or bucket) for o in outputs)
        if self.guard_depth is None and overlaps(inputs, outputs):
            raise Invalid("the function spec is invalid", errors=[{
                "path": f"{path}output", "message": "its outputs would trigger the function itself; "
                "write them elsewhere or name a guard: {max_depth: N}"}])
        return dataclasses.replace(self, input=inputs, outputs=outputs)

    @classmethod
    def from_spec(cls, spec: Any, *, path: str = "", name: str | None = None,
                  token: str | None = None, revision: int = 1) -> Function:
        """Validate a user's spec; raise `Invalid` listing every bad field by its path. A new
        token is made unless one is given."""
        if not isinstance(spec, Mapping):
            raise Invalid("a function spec must be an object",
                          errors=[{"path": path.rstrip(".") or "$", "message": "expected an object"}])
        errors: list[dict[str, str]] = []

        def bad(field: str, message: str) -> None:
            errors.append({"path": f"{path}{field}", "message": message})

        for key in spec:
            if key not in FIELDS:
                bad(str(key), "unknown field")
        _check_text(spec, bad)
        fields = {**_identity(spec, name, bad), **_program(spec, bad),
                  **_environment(spec, bad), **_limits(spec, bad), **_triggers(spec, bad),
                  **_behaviour(spec, bad), "retry": parse_retry(spec, bad),
                  **{field: parse_handoff(spec, field, name, NAME, bad) for field in HANDOFFS},
                  "max_queued": _count(spec, "max_queued", MAX_QUEUED, bad),
                  "concurrency": _count(spec, "concurrency", MAX_CONCURRENCY, bad),
                  "sync_queue_limit": _sync_queue_limit(spec, bad),
                  "callback": parse_callback(spec.get("callback"), bad),
                  **parse_schedule_fields(spec, bad),
                  "abaco": parse_contract(spec.get("abaco"), bad),
                  "placement": parse_placement(spec.get("gpu"), spec.get("kubernetes"), bad)}
        if errors:
            raise Invalid("the function spec is invalid", errors=errors)
        return cls(**fields, token=new_token() if token is None else token, revision=revision)


def new_token() -> str:
    """A function's token: 64 hex characters, as OSCAR makes its service tokens."""
    return secrets.token_hex(32)


def _check_text(spec: Mapping, bad: Bad) -> None:
    """No text anywhere in a spec may hold NUL or a lone surrogate (which JSON's `\\ud800`
    can spell): neither can reach an argv, an environment or a file name."""
    pending: list[tuple[str, Any]] = [("", spec)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            if "\0" in value or not _encodable(value):
                bad(where or "$", "must be text without NUL or unpaired surrogates")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                here = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and ("\0" in key or not _encodable(key)):
                    bad(where or "$", "has a key with NUL or unpaired surrogates")
                pending.append((here, item))
        elif isinstance(value, list):
            pending.extend((f"{where}.{index}", item) for index, item in enumerate(value))


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _identity(spec: Mapping, name: str | None, bad: Bad) -> dict[str, Any]:
    fn_name = spec.get("name", name)
    if name is not None and fn_name != name:
        bad("name", f"does not match the name {name!r} it is filed under")
    if not isinstance(fn_name, str) or not NAME.match(fn_name):
        bad("name", "must be a DNS label: lowercase letters, digits and '-', 1 to 63 characters")
    return {"name": fn_name}


def _program(spec: Mapping, bad: Bad) -> dict[str, Any]:
    """What runs: an argv, a script for `/bin/sh -c`, an image, or an image and either."""
    command, script, image = spec.get("command"), spec.get("script"), spec.get("image")
    if command is not None and script is not None:
        bad("command", "give either command or script, not both")
    if command is None and script is None and not image:
        bad("command", "give a command (argv list), a script, or an image")
    if command is not None:
        if isinstance(command, str):
            command = [command]
        if isinstance(command, list):
            # YAML reads `[sleep, 5]` with a number in it; argv is text.
            command = [str(a) if isinstance(a, int | float) and not isinstance(a, bool)
                       else a for a in command]
        if not isinstance(command, list) or not command \
                or not all(isinstance(a, str) for a in command):
            bad("command", "must be a non-empty list of strings")
            command = None
        elif not command[0].strip():
            bad("command", "must begin with the program to run")
            command = None
    if script is not None and not isinstance(script, str):
        bad("script", "must be a string")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        bad("image", "must be an image reference")
    return {"command": tuple(command) if command else None, "script": script, "image": image}


def _environment(spec: Mapping, bad: Bad) -> dict[str, Any]:
    environment = spec.get("environment") or {}
    if not isinstance(environment, Mapping):
        bad("environment", "must be a map of variable names to strings")
        return {"environment": {}}
    env: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            bad(f"environment.{key}", "is not a valid variable name")
        elif key in RESERVED_ENV:
            bad(f"environment.{key}", "is set by Sluice for every invocation")
        elif key.startswith(PARAM_PREFIX):
            bad(f"environment.{key}", f"names starting {PARAM_PREFIX} are set from an "
                                      "invocation's query parameters")
        elif not isinstance(value, str | int | float | bool):
            bad(f"environment.{key}", "must be a string")
        else:
            env[key] = str(value)
    return {"environment": env}


def _limits(spec: Mapping, bad: Bad) -> dict[str, Any]:
    timeout = _quantity(spec.get("timeout", DEFAULT_TIMEOUT), quantities.duration, "timeout", bad)
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT:
        bad("timeout", f"must be more than 0 and at most {MAX_TIMEOUT} seconds")
    memory = _quantity(spec.get("memory"), quantities.memory, "memory", bad)
    if memory is not None and memory < 4 * 1024**2:
        bad("memory", "must be at least 4Mi")
    cpu = _quantity(spec.get("cpu"), quantities.cpu, "cpu", bad)
    if cpu is not None and cpu <= 0:
        bad("cpu", "must be more than 0")
    retention = _quantity(spec.get("retention"), quantities.duration, "retention", bad)
    if retention is not None and not 0 < retention <= MAX_RETENTION:
        bad("retention", f"must be more than 0 and at most {MAX_RETENTION // 86400:.0f} days")
        retention = None
    network = spec.get("network", False)
    if not isinstance(network, bool):
        bad("network", "must be true or false")
    given = {field: spec[field] for field, value in (("memory", memory), ("cpu", cpu))
             if value is not None}
    return {"timeout": DEFAULT_TIMEOUT if timeout is None else timeout, "memory": memory,
            "cpu": cpu, "network": network is True, "retention": retention, "given": given}


def _triggers(spec: Mapping, bad: Bad) -> dict[str, Any]:
    return {"input": parse_inputs(spec.get("input"), bad),
            "outputs": parse_outputs(spec.get("output"), bad),
            "guard_depth": _guard(spec.get("guard"), bad)}


def _behaviour(spec: Mapping, bad: Bad) -> dict[str, Any]:
    log_level = spec.get("log_level", "INFO")
    if not isinstance(log_level, str) or log_level.upper() not in LOG_LEVELS:
        bad("log_level", f"must be one of {', '.join(LOG_LEVELS)}")
        log_level = "INFO"
    mode = spec.get("mode", "sync")
    if mode not in MODES:
        bad("mode", "must be sync or async")
    description = spec.get("description", "")
    if not isinstance(description, str):
        bad("description", "must be a string")
    return {"log_level": log_level.upper(), "mode": mode, "description": description}


def _count(spec: Mapping, field: str, most: int, bad: Bad, least: int = 1) -> int | None:
    """An optional whole number from `least` to `most`."""
    value = spec.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        bad(field, f"must be a whole number from {least} to {most}")
        return None
    return value


def _sync_queue_limit(spec: Mapping, bad: Bad) -> int:
    """Absent: the default; 0 is a limit too (no synchronous call behind a queued job)."""
    limit = _count(spec, "sync_queue_limit", MAX_QUEUED, bad, least=0)
    return DEFAULT_SYNC_QUEUE_LIMIT if limit is None else limit


def parse_document(document: Any, bucket: str | None = None) -> list[Function]:
    """Read a deployment document: one function, or `functions: {name: spec, ...}`. With
    `bucket`, each function is also resolved (`Function.resolved`). Every refusal of every
    function is reported at once, by its path."""
    if not (isinstance(document, Mapping) and "functions" in document):
        fn = Function.from_spec(document)
        return [fn if bucket is None else fn.resolved(bucket)]
    functions = document["functions"]
    if not isinstance(functions, Mapping) or not functions:
        raise Invalid("functions must be a non-empty map of names to specs",
                      errors=[{"path": "functions", "message": "expected a non-empty map"}])
    parsed, errors = [], []
    for key, spec in functions.items():
        path = f"functions.{key}."
        try:
            fn = Function.from_spec(spec, path=path, name=str(key))
            parsed.append(fn if bucket is None else fn.resolved(bucket, path))
        except Invalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise Invalid("the function spec is invalid", errors=errors)
    return parsed


def _guard(value: Any, bad: Bad) -> int | None:
    if value is None:
        return None
    depth = value.get("max_depth") if isinstance(value, Mapping) else None
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_GUARD_DEPTH:
        bad("guard", f"must be {{max_depth: N}} with N from 1 to {MAX_GUARD_DEPTH}: how many "
                     "times the function may trigger itself in a row")
        return None
    return depth


def _quantity(value: Any, parser: Callable[[Any], float | int], field: str, bad: Bad):
    if value is None:
        return None
    try:
        return parser(value)
    except ValueError as exc:
        bad(field, str(exc))
        return None
