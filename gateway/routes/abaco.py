"""The Abaco face: actors and their messages at `/actors/v2` (and `/actors`), with Abaco's
paths, fields and envelope (TACC/abaco at 9e83e1c: actors/controllers.py, `ActorsResource`,
`ActorResource`, `MessagesResource`), so that Abaco's clients and curl recipes work. An
actor is a function: its id is the function's name. Its executions are in
`gateway.routes.abaco_executions`."""

from __future__ import annotations

from aiohttp import web

from core.abaco import actors
from core.errors import Invalid, NotFound
from gateway.abaco import (actor_function, actor_id, api_server, base, of_actor, ok,
                           operation, read_actor, read_message)
from gateway.admission import Invocation
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.openapi.operations import JSON, answer, json_answer, query
from gateway.openapi.schemas import STRING, ref
from gateway.requests import idempotency_key

routes = web.RouteTableDef()
ACTOR_BODY = {"required": True, "content": {
    JSON: {"schema": ref("AbacoActorDescription")},
    "application/x-www-form-urlencoded": {"schema": ref("AbacoActorDescription")}}}
MESSAGE_BODY = {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": ref("AbacoMessageForm")},
    "multipart/form-data": {"schema": ref("AbacoMessageForm")},
    JSON: {"schema": {}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def _actor(request: web.Request, fn) -> dict:
    home = f"{base(request)}/{fn.name}"
    return {**actors.from_function(fn), "_links": {"self": home,
                                                   "executions": f"{home}/executions"}}


async def _spec(request: web.Request, function: str, *, name: str | None = None,
                keep_name: bool = False) -> dict:
    """The spec for the actor description the request holds; its `link`, which Abaco
    resolves when the actor is registered (controllers.py:744-778), must name an actor."""
    try:
        spec = actors.to_spec(await read_actor(request), function, api_server(request),
                              name=name, keep_name=keep_name)
    except Invalid as exc:
        raise actors.refused(exc) from None
    if isinstance(spec.get("on_end"), str):
        try:
            await request.app[SERVICE].get_function(caller(request), spec["on_end"])
        except NotFound:
            raise Invalid("Invalid link parameter; unable to retrieve linked actor data. The "
                          f"link must be a valid actor id: no actor {spec['on_end']!r}.") \
                from None
    return spec


@operation(routes, "GET", "", "List the actors",
           answers={200: json_answer("The actors: every function", "AbacoActorList")})
async def list_actors(request: web.Request) -> web.Response:
    functions = await request.app[SERVICE].list_functions(caller(request))
    return ok([_actor(request, fn) for fn in functions], "Actors retrieved successfully.")


@operation(routes, "POST", "", "Register an actor", body=ACTOR_BODY, problems=(409,),
           answers={200: json_answer("Registered", "AbacoActorAnswer")})
async def create_actor(request: web.Request) -> web.Response:
    """A new function, named by a new actor id; Abaco's `name` is kept as its label."""
    spec = await _spec(request, actors.new_id())
    [fn] = await of_actor(request, request.app[SERVICE].create_functions(caller(request), spec))
    return ok(_actor(request, fn), "Actor created successfully.")


@operation(routes, "GET", "/{actor_id}", "Show an actor",
           answers={200: json_answer("The actor", "AbacoActorAnswer")})
async def get_actor(request: web.Request) -> web.Response:
    fn = await actor_function(request)
    return ok(_actor(request, fn), "Actor retrieved successfully.")


@operation(routes, "PUT", "/{actor_id}", "Replace an actor's description",
           body=ACTOR_BODY, answers={200: json_answer("Updated", "AbacoActorAnswer")})
async def update_actor(request: web.Request) -> web.Response:
    """The whole description, as Abaco takes it; the actor keeps its `name`."""
    old = await actor_function(request)
    spec = await _spec(request, old.name, name=old.abaco.name if old.abaco else None,
                       keep_name=True)
    fn, _ = await of_actor(request, request.app[SERVICE].put_function(caller(request),
                                                                       old.name, spec))
    return ok(_actor(request, fn), "Actor updated successfully.")


@operation(routes, "DELETE", "/{actor_id}", "Delete an actor",
           answers={200: json_answer("Deleted", "AbacoEmpty")})
async def delete_actor(request: web.Request) -> web.Response:
    """Its function; its executions stay readable through /v1 until their retention ends."""
    await of_actor(request, request.app[SERVICE].delete_function(caller(request),
                                                                  actor_id(request)))
    return ok(None, "Actor deleted successfully.")


@operation(routes, "POST", "/{actor_id}/messages", "Send an actor a message",
           body=MESSAGE_BODY, problems=(429,), parameters=(
               query("_abaco_synchronous", STRING, "true: wait for the execution and answer "
                     "its logs."),
               query("message", STRING, "The message, as text (in place of the body).")),
           answers={
               200: answer("Accepted; or, synchronous, done: its logs",
                           {JSON: ref("AbacoMessageAccepted"), "text/html": STRING}),
               201: answer("Synchronous, and not done in time: follow Location",
                           {JSON: ref("AbacoMessageAccepted")}, {"Location": STRING})})
async def send_message(request: web.Request) -> web.Response:
    """A form's `message` field, a JSON body or `application/octet-stream`; the function
    reads it at INPUT_FILE_PATH byte for byte, and an Abaco actor's also in MSG."""
    service, settings = request.app[SERVICE], request.app[SETTINGS]
    who, actor = caller(request), actor_id(request)
    synchronous = request.query.get("_abaco_synchronous", "").lower() == "true"
    message = await read_message(request, settings.max_body)
    job, _ = await of_actor(request, service.invoke(who, Invocation(
        function=actor, body=message.body, content_type=message.content_type,
        respond_async=not synchronous, wait=settings.sync_wait_seconds if synchronous else None,
        idempotency_key=idempotency_key(request))))
    home = f"{base(request)}/{actor}"
    if synchronous and job.status.terminal:
        return web.Response(body=await service.logs(who, job.id, "all"),
                            content_type="text/html", charset="utf-8")
    execution = f"{home}/executions/{job.id}"
    accepted = {"executionId": job.id, "msg": message.shown,
                "_links": {"self": execution, "messages": f"{home}/messages"}}
    if synchronous:
        return ok(accepted, "The execution has not ended yet", status=201,
                  headers={"Location": execution})
    return ok(accepted)


@operation(routes, "GET", "/{actor_id}/messages", "How many messages wait",
           answers={200: json_answer("The count", "AbacoMessageCount")})
async def count_messages(request: web.Request) -> web.Response:
    """Messages not yet taken: the function's queued jobs."""
    count = await of_actor(request, request.app[SERVICE].count_queued(caller(request),
                                                                       actor_id(request)))
    return ok({"messages": count,
               "_links": {"self": f"{base(request)}/{actor_id(request)}/messages"}})


@operation(routes, "DELETE", "/{actor_id}/messages", "Purge the messages that wait",
           answers={200: json_answer("Purged", "AbacoPurged")})
async def purge_messages(request: web.Request) -> web.Response:
    """Its queued jobs are cancelled (their executions show ERROR)."""
    await of_actor(request, request.app[SERVICE].cancel_queued(caller(request),
                                                                actor_id(request)))
    return ok({"msg": "Actor mailbox purged.",
               "_links": {"self": f"{base(request)}/{actor_id(request)}/messages"}})
