"""The Abaco face's side of HTTP: every answer in Abaco's envelope, `{"message", "result",
"status", "version"}` (TACC/abaco at 9e83e1c, actors/request_utils.py:47-59), errors too;
an actor description read from JSON or from a form, as Abaco's request parser reads both;
and a message read as `MessagesResource.validate_post` reads one (controllers.py:1704-1746).
Its routes are in `gateway.routes.abaco` and `gateway.routes.abaco_executions`."""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from core import errors
from core.abaco import actors
from core.abaco.context import BINARY, JSON, content_kind
from core.callbacks import url_problem
from core.functions import Function
from gateway.auth import caller
from gateway.documents import parse_json
from gateway.keys import SERVICE
from gateway.openapi.operations import described
from gateway.problems import STATUS
from gateway.requests import read_body, read_document

VERSION = importlib.metadata.version("sluice")
TAG = "abaco"
ERROR = "AbacoError"
"""The schema of the face's errors in the OpenAPI document."""
PREFIXES = ("/actors/v2", "/actors")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
TEXT = "text/plain; charset=utf-8"
NOT_SERIALIZED = ("message POST body could not be serialized. Pass JSON data or use the "
                  "message attribute.")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(frozen=True)
class Message:
    """A message as the job gets it (`body`, `content_type`) and as the answer shows it."""

    body: bytes
    content_type: str
    shown: Any


def ok(result: Any, message: str = "The request was successful", *, status: int = 200,
       headers: dict[str, str] | None = None) -> web.Response:
    return _envelope(status, "success", message, result, headers)


def _envelope(status: int, outcome: str, message: str, result: Any,
              headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"message": message, "result": result, "status": outcome,
                              "version": VERSION}, status=status, headers=headers)


def enveloped(handler: Handler) -> Handler:
    """Answer the handler's errors in Abaco's envelope, with the status Sluice gives each;
    a description or message that is refused is a 400, as Abaco answers it (a `DAOError`)."""
    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.SluiceError as exc:
            status = 400 if isinstance(exc, errors.Invalid) else next(
                (s for kind, s in STATUS.items() if isinstance(exc, kind)), 500)
            headers = {"Retry-After": str(exc.retry_after)} \
                if isinstance(exc, errors.TooManyRequests) else None
            told = "; ".join(f"{e['path']}: {e['message']}" for e in exc.errors)
            return _envelope(status, "error", f"{exc.detail}: {told}" if told else exc.detail,
                             None, headers)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _envelope(exc.status, "error", exc.reason, None)
    return answer


def operation(routes: web.RouteTableDef, method: str, path: str, summary: str,
              **description: Any) -> Callable[[Handler], Handler]:
    """Register the handler under `/actors/v2` (the hosted API's path) and `/actors` (what
    Abaco itself serves), its errors `enveloped`, described for the OpenAPI document."""
    def register(handler: Handler) -> Handler:
        answering = described(f"{summary} (Abaco's)", tag=TAG, problem_schema=ERROR,
                              **description)(enveloped(handler))
        for prefix in PREFIXES:
            routes.route(method, prefix + path)(answering)
        return answering
    return register


def actor_id(request: web.Request) -> str:
    return request.match_info["actor_id"]


async def of_actor(request: web.Request, call: Awaitable[Any]) -> Any:
    """What `call` answers, its errors told of the actor: not found as Abaco says it
    (controllers.py:958), a refused spec in the actor's field names."""
    try:
        return await call
    except errors.NotFound:
        raise errors.NotFound(f"No actor found with id: {actor_id(request)}.") from None
    except errors.Invalid as exc:
        raise actors.refused(exc) from None


async def actor_function(request: web.Request) -> Function:
    return await of_actor(request, request.app[SERVICE].get_function(caller(request),
                                                                     actor_id(request)))


def base(request: web.Request) -> str:
    """The URL the request's face is under, for the `_links` of an answer."""
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    return api_server(request) + (PREFIXES[0] if canonical.startswith(PREFIXES[0])
                                  else PREFIXES[1])


def api_server(request: web.Request) -> str:
    """The server as the client named it (Abaco's `api_server`); empty if its Host is not
    one a URL can hold."""
    try:
        origin = str(request.url.origin())
    except ValueError:
        return ""
    return "" if url_problem(origin) else origin


async def read_actor(request: web.Request) -> Any:
    """An actor description: JSON, or the fields of a form."""
    if request.content_type in FORMS:
        return await _form(request)
    return await read_document(request)


async def read_message(request: web.Request, limit: int) -> Message:
    """The message: the `message` field (of a JSON object, then the query, then a form) as
    text; else the body as binary (`application/octet-stream`, which must say its length),
    as JSON, or, where it parses as JSON, as text (controllers.py:1708-1745)."""
    media = request.content_type
    form, body, parsed = {}, b"", None
    if media in FORMS:
        form = await _form(request)
    elif media == BINARY and not request.query.get("message"):
        if request.content_length is None:
            raise errors.BadRequest("Content Length required for application/octet-stream.")
        if request.content_length > limit:
            raise errors.BadRequest(f"Message exceeds max content length of: {limit}")
        return Message(await read_body(request, limit), BINARY, "binary - omitted")
    else:
        body = await read_body(request, limit)
    if content_kind(media) == JSON:
        parsed = parse_json(body)
    text = parsed.get("message") if isinstance(parsed, dict) else None
    text = (text if isinstance(text, str) else None) or request.query.get("message") \
        or form.get("message")
    if text:
        return Message(_utf8(text), TEXT, text)
    if parsed:
        return Message(body, JSON, parsed)
    try:
        return Message(body, TEXT, parse_json(body))
    except errors.BadRequest:
        raise errors.BadRequest(NOT_SERIALIZED) from None


async def _form(request: web.Request) -> dict[str, str]:
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError, HttpProcessingError) as exc:
        raise errors.BadRequest(f"the form cannot be read: {exc}") from None
    fields = {}
    for key, value in form.items():
        if not isinstance(value, str):
            raise errors.BadRequest(f"form field {key!r} must be text, not a file")
        fields[key] = value
    return fields


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise errors.BadRequest("the message must be text without unpaired surrogates") \
            from None
