"""The native API, `/v1/...`: functions, invocations and jobs."""

from __future__ import annotations

import json

from aiohttp import web

from core import callbacks, params
from core.functions import Function
from core.jobs import Job, JobStatus
from core.results import MAX_PER_JOB
from core.times import rfc3339
from gateway import log_stream, responses
from gateway.admission import Invocation
from gateway.auth import caller
from gateway.following import Position
from gateway.keys import SERVICE, SETTINGS
from gateway.openapi.operations import (JSON, answer, bytes_body, described,
                                        document_body, header, json_answer, query)
from gateway.openapi.schemas import STRING, ref
from gateway.requests import (callback, idempotency_key, prefer, query_choice, query_job_id,
                              query_number, read_body, read_document)

routes = web.RouteTableDef()
RESULTS_PAGE = 100

JOB_HEADERS = {"Sluice-Job-Id": STRING, "Sluice-Job-Status": STRING, "Location": STRING}
PREFER = header("Prefer", STRING, "respond-async to answer at once with the job; wait=N to "
                "wait at most N seconds for it (RFC 7240).")
IDEMPOTENCY = header("Idempotency-Key", {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
                     "The same key, for the same function, gives the same job.")
CALLBACK = header("X-Callback-Url", {"type": "string", "maxLength": callbacks.MAX_URL,
                                     "pattern": "^[hH][tT][tT][pP][sS]?://[\\x21-\\x7e]+$"},
                  "Where the job's record is POSTed, signed, when it ends (as OpenFaaS takes "
                  "it); in place of the function's callback. http or https, no credentials.")
PARAMS = {"name": "params", "in": "query", "required": False, "style": "form", "explode": True,
          "schema": {"type": "object", "maxProperties": params.MAX_PARAMS,
                     "propertyNames": {"pattern": f"^{params.NAME.pattern}$",
                                       "maxLength": params.MAX_NAME},
                     "additionalProperties": {"type": "string", "pattern": "^[^\\x00]*$"}},
          "description": "Every query parameter is a parameter of the invocation, kept on its "
                         "job: the function sees NAME=VALUE as the variable PARAM_NAME. Names "
                         "are letters, digits and _, not starting with a digit; values are "
                         "UTF-8 without NUL, at most 4096 bytes each and 16 KiB together."}


def _json(data, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json",
                        headers=headers)


def _function(fn: Function, *, with_token: bool) -> dict:
    body = {**fn.to_spec(), "revision": fn.revision, "next_fire": rfc3339(fn.next_fire)}
    if with_token:
        body["token"] = fn.token
        body["callback_secret"] = callbacks.secret(fn.token)
    return body


@routes.post("/v1/functions")
@described("Register one function, or several (functions: {name: spec})", tag="functions",
           body=document_body("Deployment"), problems=(409, 422), answers={
               201: answer("Registered, with the token to invoke it: the function, or the "
                           "list for functions: {...}", {JSON: {"oneOf": [
                               ref("Function"), ref("FunctionList")]}}, {"Location": STRING})})
async def create_functions(request: web.Request) -> web.Response:
    """A spec is answered with the function; `functions: {...}`, however many it holds,
    with the list."""
    service = request.app[SERVICE]
    document = await read_document(request)
    created = await service.create_functions(caller(request), document)
    if not (isinstance(document, dict) and "functions" in document):
        return _json(_function(created[0], with_token=True), 201,
                     {"Location": f"/v1/functions/{created[0].name}"})
    return _json({"functions": [_function(f, with_token=True) for f in created]}, 201)


@routes.get("/v1/functions")
@described("List the functions", tag="functions",
           answers={200: json_answer("The functions", "FunctionList")})
async def list_functions(request: web.Request) -> web.Response:
    functions = await request.app[SERVICE].list_functions(caller(request))
    return _json({"functions": [_function(f, with_token=False) for f in functions]})


@routes.get("/v1/functions/{name}")
@described("Show a function", tag="functions", problems=(404,),
           answers={200: json_answer("The function (its token only for the admin), with how "
                                     "many of its jobs are queued and running", "Function")})
async def get_function(request: web.Request) -> web.Response:
    who = caller(request)
    fn, depth = await request.app[SERVICE].describe_function(who, request.match_info["name"])
    return _json(_function(fn, with_token=who.admin) | depth)


@routes.put("/v1/functions/{name}")
@described("Register or replace a function", tag="functions",
           body=document_body("FunctionSpec"), problems=(422,), answers={
               200: json_answer("Replaced", "Function", Location=STRING),
               201: json_answer("Registered", "Function", Location=STRING)})
async def put_function(request: web.Request) -> web.Response:
    fn, created = await request.app[SERVICE].put_function(
        caller(request), request.match_info["name"], await read_document(request))
    return _json(_function(fn, with_token=True), 201 if created else 200,
                 {"Location": f"/v1/functions/{fn.name}"})


@routes.get("/v1/functions/{name}/callback-secret")
@described("The key that signs the function's callbacks", tag="functions", problems=(404,),
           answers={200: json_answer("The key, for the admin or the function's token",
                                     "CallbackSecret")})
async def callback_secret(request: web.Request) -> web.Response:
    """Check a callback with it: `X-Sluice-Signature` is `sha256=` and the hex HMAC-SHA256,
    under this key, of `X-Sluice-Timestamp`, a dot, and the body."""
    name = request.match_info["name"]
    secret = await request.app[SERVICE].callback_secret(caller(request), name)
    return _json({"function": name, "secret": secret, "header": callbacks.SIGNATURE})


@routes.post("/v1/functions/{name}/token")
@described("Give the function a new token", tag="functions", problems=(404,),
           answers={200: json_answer("The function, with its new token", "Function")})
async def rotate_token(request: web.Request) -> web.Response:
    """The old token invokes it no more (its callbacks' key changes with it). Replacing the
    function keeps its token: only this changes it."""
    fn = await request.app[SERVICE].rotate_token(caller(request), request.match_info["name"])
    return _json(_function(fn, with_token=True))


@routes.delete("/v1/functions/{name}")
@described("Remove a function", tag="functions", problems=(404,),
           answers={204: answer("Removed")})
async def delete_function(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_function(caller(request), request.match_info["name"])
    return web.Response(status=204)


@routes.post("/v1/functions/{name}/invocations")
@described("Invoke a function", tag="invocations",
           parameters=(PREFER, IDEMPOTENCY, CALLBACK, PARAMS),
           body=bytes_body("The input, as the function reads it from INPUT_FILE_PATH"),
           problems=(404, 409, 422, 429), answers={
               200: answer("Done: its one output's bytes, a zip of several, or what it "
                           "printed", {"*/*": None}, JOB_HEADERS),
               201: answer("Accepted and not finished: follow Location. With Sluice-Gateway: "
                           "stopping, the gateway stopped before the job ended: ask again "
                           "with the same Idempotency-Key, of any gateway, for its answer",
                           {JSON: ref("Job")}, JOB_HEADERS | {responses.STOPPING: STRING}),
               409: answer("Cancelled or dismissed", {"text/plain": STRING}, JOB_HEADERS),
               502: answer("The function failed: what it printed", {"text/plain": STRING},
                           JOB_HEADERS),
               503: answer("What it needed stayed out of reach", {"text/plain": STRING},
                           JOB_HEADERS),
               504: answer("It ran out of time", {"text/plain": STRING}, JOB_HEADERS)})
async def invoke(request: web.Request) -> web.Response:
    service, settings = request.app[SERVICE], request.app[SETTINGS]
    who = caller(request)
    respond_async, wait = prefer(request)
    key, called_back = idempotency_key(request), callback(request)
    parameters = params.parse_query(request.rel_url.raw_query_string)
    body = await read_body(request, settings.max_body)
    job, _ = await service.invoke(who, Invocation(
        function=request.match_info["name"], body=body,
        content_type=request.headers.get("Content-Type"), respond_async=respond_async,
        wait=wait, idempotency_key=key, callback=called_back, params=parameters))
    if not job.status.terminal:
        return responses.accepted(job, stopping=service.waiters.releasing and not respond_async)
    return await responses.finished(service, job)


@routes.get("/v1/jobs")
@described("List jobs, newest first", tag="jobs", problems=(400, 404), parameters=(
    query("function", STRING, "Only this function's (a function's token must name it)."),
    query("status", {"enum": [str(s) for s in JobStatus]}, "Only jobs in this state."),
    query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
          "At most this many."),
    query("cursor", STRING, "The next_cursor of the page before.")),
           answers={200: json_answer("A page of jobs; next_cursor when there may be more",
                                     "JobPage")})
async def list_jobs(request: web.Request) -> web.Response:
    limit = query_number(request, "limit", 50, minimum=1, maximum=500, integer=True)
    jobs = await request.app[SERVICE].list_jobs(
        caller(request), function=request.query.get("function") or None,
        status=query_choice(request, "status", JobStatus), limit=limit,
        cursor=query_job_id(request, "cursor"))
    body: dict = {"jobs": [j.to_dict() for j in jobs]}
    if len(jobs) == limit:
        body["next_cursor"] = jobs[-1].id
    return _json(body)


@routes.get("/v1/jobs/{id}")
@described("Show a job", tag="jobs", problems=(400, 404), parameters=(
    query("wait", {"type": "number", "minimum": 0}, "Wait at most so many seconds for it to "
          "finish (long polling)."),),
           answers={200: answer("The job", {JSON: ref("Job")}, JOB_HEADERS)})
async def get_job(request: web.Request) -> web.Response:
    wait = query_number(request, "wait", None, maximum=request.app[SETTINGS].max_wait_seconds)
    job = await request.app[SERVICE].get_job(caller(request), request.match_info["id"], wait)
    return _job(job)


@routes.post("/v1/jobs/{id}/cancel")
@described("Cancel a job", tag="jobs", problems=(404, 409),
           answers={200: answer("The job, cancelled (or as it finished)", {JSON: ref("Job")},
                                JOB_HEADERS)})
async def cancel_job(request: web.Request) -> web.Response:
    return _job(await request.app[SERVICE].cancel_job(caller(request), request.match_info["id"]))


@routes.post("/v1/jobs/{id}/retry")
@described("Run a failed or cancelled job again, as its next attempt", tag="jobs",
           problems=(400, 404, 409), parameters=(
               query("revision", {"enum": ["current", "original"], "default": "current"},
                     "The function's current revision, or the one the job was invoked with."),),
           answers={202: answer("The job, queued", {JSON: ref("Job")}, JOB_HEADERS)})
async def retry_job(request: web.Request) -> web.Response:
    revision = query_choice(request, "revision", ("current", "original"), default="current")
    job = await request.app[SERVICE].retry_job(caller(request), request.match_info["id"],
                                               original_revision=revision == "original")
    return _json(job.to_dict(), 202, responses.job_headers(job))


@routes.delete("/v1/jobs/{id}")
@described("Delete a finished job: its record, its logs and its outputs", tag="jobs",
           problems=(404, 409, 502), answers={204: answer("Deleted")})
async def delete_job(request: web.Request) -> web.Response:
    await request.app[SERVICE].purge_job(caller(request), request.match_info["id"])
    return web.Response(status=204)


@routes.delete("/v1/functions/{name}/queue")
@described("Cancel every job of the function that has not started", tag="functions",
           problems=(404,), answers={200: json_answer("The jobs cancelled", "Cancelled")})
async def cancel_queued(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    cancelled = await request.app[SERVICE].cancel_queued(caller(request), name)
    return _json({"function": name, "cancelled": [job.id for job in cancelled]})


def _job(job: Job) -> web.Response:
    return _json(job.to_dict(), headers=responses.job_headers(job))


@routes.get("/v1/jobs/{id}/logs")
@described("What a job's function printed, or prints as it runs", tag="jobs",
           problems=(400, 404), parameters=(
               query("stream", {"enum": ["all", "stdout", "stderr"], "default": "all"},
                     "Which."),
               query("attempt", {"type": "integer", "minimum": 1},
                     "That attempt's log (default: the last attempt's)."),
               query("follow", {"enum": ["0", "1", "true", "false"], "default": "0"},
                     "Send what the job prints as it runs, attempt after attempt, and end "
                     "when it ends: Server-Sent Events when asked for (Accept: "
                     "text/event-stream), else the bytes as they come."),
               header("Last-Event-ID", {"type": "string",
                                        "pattern": "^[0-9]{1,9}:[0-9]{1,15}:[0-9]{1,15}$"},
                      "With follow: go on from this event's id.")),
           answers={200: answer("The log", {"text/plain": STRING,
                                            "text/event-stream": STRING})})
async def job_logs(request: web.Request) -> web.StreamResponse:
    stream = query_choice(request, "stream", ("all", "stdout", "stderr"), default="all")
    attempt = query_number(request, "attempt", None, minimum=1, integer=True)
    follow = query_choice(request, "follow", ("0", "1", "true", "false"), default="0")
    service, job_id = request.app[SERVICE], request.match_info["id"]
    if follow in ("0", "false"):
        data = await service.logs(caller(request), job_id, stream, attempt)
        return web.Response(body=data, content_type="text/plain", charset="utf-8")
    since = request.headers.get("Last-Event-ID")
    job, pieces = await service.follow_logs(caller(request), job_id, stream, attempt,
                                            Position.parse(since) if since else None)
    if log_stream.wants_events(request):
        return await log_stream.events(request, job, pieces)
    return await log_stream.chunked(request, job, pieces)


@routes.get("/v1/jobs/{id}/attempts")
@described("Every attempt of a job that ended: how, where and when, and its log",
           tag="jobs", problems=(404,), answers={200: json_answer("The attempts", "Attempts")})
async def job_attempts(request: web.Request) -> web.Response:
    job, ended = await request.app[SERVICE].attempts(caller(request), request.match_info["id"])
    return _json({"job": job.id, "status": str(job.status), "attempts": [
        attempt.to_dict() | {"logs": f"/v1/jobs/{job.id}/logs?attempt={attempt.number}"}
        for attempt in ended]})


@routes.get("/v1/jobs/{id}/results")
@described("What a job's function published as it ran, or, with pop, its oldest result, "
           "taken", tag="jobs", problems=(400, 404), parameters=(
               query("pop", {"enum": ["0", "1", "true", "false"], "default": "0"},
                     "Take the oldest result, as Abaco's results endpoint does: its bytes, "
                     "removed from the job; an empty answer when there is none."),
               query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PER_JOB,
                               "default": RESULTS_PAGE}, "Without pop: at most this many."),
               query("cursor", {"type": "integer", "minimum": 0, "maximum": 10**12},
                     "Without pop: the next_cursor of the page before.")),
           answers={200: answer("The results that have not expired, the oldest first; with "
                                "pop, the oldest one's bytes", {
                                    JSON: ref("Results"),
                                    "application/octet-stream": {"type": "string",
                                                                 "format": "binary"}})})
async def job_results(request: web.Request) -> web.Response:
    service, job_id = request.app[SERVICE], request.match_info["id"]
    if query_choice(request, "pop", ("0", "1", "true", "false"), default="0") in ("1", "true"):
        data = await service.pop_result(caller(request), job_id)
        return web.Response(body=data, content_type="application/octet-stream")
    limit = query_number(request, "limit", RESULTS_PAGE, minimum=1, maximum=MAX_PER_JOB,
                         integer=True)
    cursor = query_number(request, "cursor", 0, maximum=10**12, integer=True)
    job, found = await service.results(caller(request), job_id, after=cursor, limit=limit)
    body: dict = {"job": job.id, "status": str(job.status),
                  "results": [result.to_dict() for result in found]}
    if len(found) == limit:
        body["next_cursor"] = found[-1].sequence
    return _json(body)


@routes.get("/v1/jobs/{id}/outputs")
@described("A job's outputs, with links to fetch them", tag="jobs", problems=(404, 502),
           answers={200: json_answer("The outputs", "OutputManifest")})
async def job_outputs(request: web.Request) -> web.Response:
    job, manifest = await request.app[SERVICE].output_manifest(
        caller(request), request.match_info["id"])
    return _json({"job": job.id, "status": str(job.status), "outputs": manifest})


@routes.get("/v1/jobs/{id}/outputs/{name:.+}")
@described("One output of a job", tag="jobs", problems=(404, 502), parameters=(
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
     "description": "The output's name."},),
           answers={200: answer("Its bytes", {"*/*": None})})
async def job_output(request: web.Request) -> web.StreamResponse:
    output, chunks = await request.app[SERVICE].open_output(
        caller(request), request.match_info["id"], request.match_info["name"])
    return await responses.stream(request, chunks, content_type=output.content_type,
                                  size=output.size)
