"""The OSCAR face: `/system/services`, `/run`, `/job`, `/system/logs`, `/system/info`,
`/health`, with OSCAR's shapes, so its clients, FDL files and curl recipes work."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from core import oscar
from core.errors import Invalid
from gateway import responses
from gateway.admission import Invocation
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.requests import idempotency_key, read_body, read_document
from gateway.openapi.operations import (JSON, answer, bytes_body, described, document_body,
                                        json_answer, query)
from gateway.openapi.schemas import STRING, ref

routes = web.RouteTableDef()
JOB_HEADERS = {"Sluice-Job-Id": STRING, "Sluice-Job-Status": STRING, "Location": STRING}
VERSION = "sluice-0.1.0"


@routes.get("/health")
@described("Whether the gateway is up (OSCAR's)", tag="oscar", public=True,
           answers={200: answer("Ok", {"text/plain": {"const": "Ok"}})})
async def health(request: web.Request) -> web.Response:
    return web.Response(text="Ok")


@routes.get("/system/info")
@described("What this installation runs", tag="oscar",
           answers={200: json_answer("Version and executor", "OscarInfo")})
async def info(request: web.Request) -> web.Response:
    about = await request.app[SERVICE].about(caller(request))
    return web.json_response({"version": VERSION, "serverless_backend": "sluice",
                              "executor": about["executor"]})


@routes.get("/system/services")
@described("List the services", tag="oscar",
           answers={200: json_answer("The services, with their tokens", "OscarServiceList")})
async def list_services(request: web.Request) -> web.Response:
    functions = await request.app[SERVICE].list_functions(caller(request))
    return web.json_response([oscar.from_function(fn, with_token=True) for fn in functions])


@routes.post("/system/services")
@described("Create a service from its OSCAR definition", tag="oscar",
           body=document_body("OscarService"), problems=(409, 422),
           answers={201: json_answer("Created, with its token", "OscarService")})
async def create_service(request: web.Request) -> web.Response:
    spec = oscar.to_spec(await read_document(request))
    [fn] = await request.app[SERVICE].create_functions(caller(request), spec)
    return web.json_response(oscar.from_function(fn, with_token=True), status=201)


@routes.put("/system/services")
@routes.put("/system/services/{name}")
@described("Create or replace a service", tag="oscar",
           body=document_body("OscarService"), problems=(422,),
           answers={200: json_answer("Replaced", "OscarService"),
                    201: json_answer("Created", "OscarService")})
async def update_service(request: web.Request) -> web.Response:
    spec = oscar.to_spec(await read_document(request))
    name = request.match_info.get("name") or spec.get("name")
    if not isinstance(name, str):
        raise Invalid("the service definition needs a name")
    fn, created = await request.app[SERVICE].put_function(caller(request), name, spec)
    return web.json_response(oscar.from_function(fn, with_token=True),
                             status=201 if created else 200)


@routes.get("/system/services/{name}")
@described("Show a service", tag="oscar", problems=(404,),
           answers={200: json_answer("The service (its token only for the admin)",
                                     "OscarService")})
async def get_service(request: web.Request) -> web.Response:
    who = caller(request)
    fn = await request.app[SERVICE].get_function(who, request.match_info["name"])
    return web.json_response(oscar.from_function(fn, with_token=who.admin))


@routes.delete("/system/services/{name}")
@described("Remove a service", tag="oscar", problems=(404,),
           answers={204: answer("Removed")})
async def delete_service(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_function(caller(request), request.match_info["name"])
    return web.Response(status=204)


@routes.post("/run/{name}")
@described("Invoke a service and wait (OSCAR's synchronous call)", tag="oscar",
           body=bytes_body("The input, base64-encoded (or as is)"),
           problems=(404, 409, 422, 429), answers={
               200: answer("Its output (or what it printed), base64-encoded",
                           {"text/plain": STRING}, JOB_HEADERS),
               201: answer("Not finished in time: follow Location", {JSON: ref("Job")},
                           JOB_HEADERS),
               **{status: answer(why + ": what it printed, base64-encoded",
                                 {"text/plain": STRING}, JOB_HEADERS)
                  for status, why in ((409, "Cancelled"), (502, "It failed"),
                                      (503, "What it needed stayed out of reach"),
                                      (504, "It ran out of time"))}})
async def run(request: web.Request) -> web.Response:
    """Synchronous, as OSCAR's FaaS Supervisor: a base64 body is decoded (anything else,
    JSON for instance, is passed as sent) and the answer is base64."""
    service = request.app[SERVICE]
    body = _decoded(await read_body(request, request.app[SETTINGS].max_body))
    job, _ = await service.invoke(caller(request), Invocation(
        function=request.match_info["name"], body=body,
        content_type=request.headers.get("Content-Type"),
        wait=request.app[SETTINGS].sync_wait_seconds, idempotency_key=idempotency_key(request)))
    if not job.status.terminal:
        return responses.accepted(job)
    answer = await responses.finished(service, job)
    return web.Response(status=answer.status, body=base64.b64encode(answer.body),
                        content_type="text/plain", headers=responses.job_headers(job))


@routes.post("/job/{name}")
@described("Invoke a service asynchronously", tag="oscar",
           body=bytes_body("The input, base64-encoded (or as is)"), problems=(404, 422, 429),
           answers={201: answer("Accepted: follow Location", {JSON: ref("Job")},
                                JOB_HEADERS)})
async def job(request: web.Request) -> web.Response:
    """Asynchronous: unlike OSCAR, the answer names the job and where to follow it."""
    service = request.app[SERVICE]
    body = _decoded(await read_body(request, request.app[SETTINGS].max_body))
    job, _ = await service.invoke(caller(request), Invocation(
        function=request.match_info["name"], body=body,
        content_type=request.headers.get("Content-Type"), respond_async=True,
        idempotency_key=idempotency_key(request)))
    return responses.accepted(job)


@routes.get("/system/logs/{name}")
@described("A service's jobs", tag="oscar", problems=(404,),
           answers={200: json_answer("Its jobs by id", "OscarJobs")})
async def list_logs(request: web.Request) -> web.Response:
    jobs = await request.app[SERVICE].list_jobs(
        caller(request), function=request.match_info["name"], status=None, limit=500, cursor=None)
    return web.json_response({"jobs": {j.id: oscar.job_summary(j) for j in jobs}})


@routes.get("/system/logs/{name}/{job}")
@described("What a job printed", tag="oscar", problems=(404,),
           answers={200: answer("The log", {"text/plain": STRING})})
async def job_log(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    data = await service.logs(caller(request), _job_id(request), "all")
    return web.Response(body=data, content_type="text/plain", charset="utf-8")


@routes.delete("/system/logs/{name}/{job}")
@described("Delete a finished job", tag="oscar", problems=(404, 409),
           answers={204: answer("Deleted")})
async def delete_job(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_jobs(caller(request), request.match_info["name"],
                                           [_job_id(request)])
    return web.Response(status=204)


@routes.delete("/system/logs/{name}")
@described("Delete a service's finished jobs", tag="oscar", problems=(404,),
           parameters=(query("all", {"enum": ["true", "false"]},
                             "true: cancel and delete the others too."),),
           answers={204: answer("Deleted")})
async def delete_jobs(request: web.Request) -> web.Response:
    """Finished jobs of the service; `?all=true` cancels and deletes the others too."""
    every = request.query.get("all", "false").lower() == "true"
    await request.app[SERVICE].delete_jobs(caller(request), request.match_info["name"], None,
                                           include_active=every)
    return web.Response(status=204)


def _job_id(request: web.Request) -> str:
    return request.match_info["job"]


def _decoded(body: bytes) -> bytes:
    """Base64 as OSCAR's clients send it (line breaks allowed); anything else as sent."""
    compact = b"".join(body.split())
    if not compact:
        return body
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return body
