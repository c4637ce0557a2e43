"""The native API, `/v1/...`: functions, invocations and jobs."""

from __future__ import annotations

import json

from aiohttp import web

from core.functions import Function
from core.jobs import Job, JobStatus
from gateway import responses
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.requests import (idempotency_key, prefer, query_choice, query_job_id,
                              query_number, read_body, read_document)
from gateway.service import Invocation

routes = web.RouteTableDef()

def _json(data, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json",
                        headers=headers)


def _function(fn: Function, *, with_token: bool) -> dict:
    body = {**fn.to_spec(), "revision": fn.revision}
    if with_token:
        body["token"] = fn.token
    return body


@routes.post("/v1/functions")
async def create_functions(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    created = await service.create_functions(caller(request), await read_document(request))
    if len(created) == 1:
        return _json(_function(created[0], with_token=True), 201,
                     {"Location": f"/v1/functions/{created[0].name}"})
    return _json({"functions": [_function(f, with_token=True) for f in created]}, 201)


@routes.get("/v1/functions")
async def list_functions(request: web.Request) -> web.Response:
    functions = await request.app[SERVICE].list_functions(caller(request))
    return _json({"functions": [_function(f, with_token=False) for f in functions]})


@routes.get("/v1/functions/{name}")
async def get_function(request: web.Request) -> web.Response:
    who = caller(request)
    fn = await request.app[SERVICE].get_function(who, request.match_info["name"])
    return _json(_function(fn, with_token=who.admin))


@routes.put("/v1/functions/{name}")
async def put_function(request: web.Request) -> web.Response:
    fn, created = await request.app[SERVICE].put_function(
        caller(request), request.match_info["name"], await read_document(request))
    return _json(_function(fn, with_token=True), 201 if created else 200,
                 {"Location": f"/v1/functions/{fn.name}"})


@routes.delete("/v1/functions/{name}")
async def delete_function(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_function(caller(request), request.match_info["name"])
    return web.Response(status=204)


@routes.post("/v1/functions/{name}/invocations")
async def invoke(request: web.Request) -> web.Response:
    service, settings = request.app[SERVICE], request.app[SETTINGS]
    who = caller(request)
    respond_async, wait = prefer(request)
    key = idempotency_key(request)
    body = await read_body(request, settings.max_body)
    job, _ = await service.invoke(who, Invocation(
        function=request.match_info["name"], body=body,
        content_type=request.headers.get("Content-Type"), respond_async=respond_async,
        wait=wait, idempotency_key=key))
    if not job.status.terminal:
        return responses.accepted(job)
    return await responses.finished(service, job)


@routes.get("/v1/jobs")
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
async def get_job(request: web.Request) -> web.Response:
    wait = query_number(request, "wait", None, maximum=request.app[SETTINGS].max_wait_seconds)
    job = await request.app[SERVICE].get_job(caller(request), request.match_info["id"], wait)
    return _job(job)


@routes.post("/v1/jobs/{id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    return _job(await request.app[SERVICE].cancel_job(caller(request), request.match_info["id"]))


def _job(job: Job) -> web.Response:
    return _json(job.to_dict(), headers=responses.job_headers(job))


@routes.get("/v1/jobs/{id}/logs")
async def job_logs(request: web.Request) -> web.Response:
    stream = query_choice(request, "stream", ("all", "stdout", "stderr"), default="all")
    data = await request.app[SERVICE].logs(caller(request), request.match_info["id"], stream)
    return web.Response(body=data, content_type="text/plain", charset="utf-8")


@routes.get("/v1/jobs/{id}/outputs")
async def job_outputs(request: web.Request) -> web.Response:
    job, manifest = await request.app[SERVICE].output_manifest(
        caller(request), request.match_info["id"])
    return _json({"job": job.id, "status": str(job.status), "outputs": manifest})


@routes.get("/v1/jobs/{id}/outputs/{name:.+}")
async def job_output(request: web.Request) -> web.StreamResponse:
    output, chunks = await request.app[SERVICE].open_output(
        caller(request), request.match_info["id"], request.match_info["name"])
    return await responses.stream(request, chunks, content_type=output.content_type,
                                  size=output.size)
