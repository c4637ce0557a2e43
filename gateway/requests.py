"""Reading what a client sent. What cannot be read (a body that does not parse, a query
parameter or a header not of its form) is `BadRequest`, a 400; what was read and cannot be
accepted is left to the layers below, which answer `Invalid`, a 422."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from core.callbacks import Callback, url_problem
from core.errors import BadRequest, PayloadTooLarge
from core.ids import is_job_id
from gateway.documents import parse_json, parse_yaml

SPEC_MAX_BYTES = 1024 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
WHOLE_SECONDS = re.compile(r"^[0-9]{1,9}$")
# Plain decimals of a sensible size: no exponents, NaN, Infinity or digits of other scripts.
NUMBER = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,9})?$")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refused as soon as it is over `limit` bytes, whether it said its
    length or came in chunks."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_document(request: web.Request) -> Any:
    """A JSON or YAML document, by content type (JSON when none is given)."""
    body = await read_body(request, SPEC_MAX_BYTES)
    if not body.strip():
        raise BadRequest("the request body is empty; send a JSON or YAML document")
    return parse_yaml(body) if "yaml" in request.content_type else parse_json(body)


def query_number(request: web.Request, name: str, default: float | None, *,
                 minimum: float = 0, maximum: float | None = None, integer: bool = False):
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    match = NUMBER.match(raw)
    if not match or (integer and match.group(1)):
        kind = "a whole number" if integer else "a number"
        raise BadRequest(f"query parameter {name!r} must be {kind}, not {raw[:40]!r}")
    value = int(raw) if integer else float(raw)
    if value < minimum or (maximum is not None and value > maximum):
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


def callback(request: web.Request) -> Callback | None:
    """`X-Callback-Url` (as OpenFaaS takes it): where the job's record goes when it ends,
    whichever way it ends."""
    url = request.headers.get("X-Callback-Url")
    if url is None:
        return None
    problem = url_problem(url)
    if problem:
        raise BadRequest(f"X-Callback-Url {problem}")
    return Callback(url=url)


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
    return key
