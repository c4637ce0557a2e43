"""Reading what a client sent. What cannot be read (a body that does not parse, a query
parameter or a header not of its form) is `BadRequest`, a 400; what was read and cannot be
accepted is left to the layers below, which answer `Invalid`, a 422."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

import yaml
from aiohttp import web

from core.errors import BadRequest, PayloadTooLarge
from core.ids import is_job_id

SPEC_MAX_BYTES = 1024 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
WHOLE_SECONDS = re.compile(r"^[0-9]{1,9}$")


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
    return await request.read()


async def read_document(request: web.Request) -> Any:
    """A JSON or YAML document, by content type (JSON when none is given)."""
    body = await read_body(request, SPEC_MAX_BYTES)
    if not body.strip():
        raise BadRequest("the request body is empty; send a JSON or YAML document")
    if "yaml" in request.content_type:
        try:
            return yaml.safe_load(body)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise BadRequest(f"the body is not valid YAML{where}") from None
        except RecursionError:
            raise BadRequest("the body nests too deeply") from None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body nests too deeply") from None


def query_number(request: web.Request, name: str, default: float | None, *,
                 minimum: float = 0, maximum: float | None = None, integer: bool = False):
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name!r} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(f"query parameter {name!r} must be {bounds}")
    return value


def query_choice(request: web.Request, name: str, choices: Iterable[str],
                 default: str | None = None) -> str | None:
    raw = request.query.get(name) or default
    choices = tuple(choices)
    if raw is not None and raw not in choices:
        raise BadRequest(f"query parameter {name!r} must be one of {', '.join(choices)}")
    return raw


def query_job_id(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name) or None
    if raw is not None and not is_job_id(raw):
        raise BadRequest(f"query parameter {name!r} must be the id of a job")
    return raw


def prefer(request: web.Request) -> tuple[bool, float | None]:
    """Parse `Prefer: respond-async` and `Prefer: wait=N` (RFC 7240)."""
    respond_async, wait = False, None
    for header in request.headers.getall("Prefer", []):
        for token in header.split(","):
            name, _, value = token.strip().partition("=")
            name = name.strip().lower()
            if name == "respond-async":
                respond_async = True
            elif name == "wait":
                value = value.strip().strip('"')
                if not WHOLE_SECONDS.match(value):
                    raise BadRequest(f"Prefer: wait must be a whole number of seconds, "
                                     f"not {value!r}")
                wait = float(value)
    return respond_async, wait


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
    return key
