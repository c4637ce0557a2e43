"""The OSCAR face: `/system/services`, `/run`, `/job`, `/system/logs`, `/system/info`,
`/system/config`, `/health`, with OSCAR's shapes, so its clients, FDL files and curl
recipes work."""

from __future__ import annotations

import base64
import binascii
import importlib.metadata
import platform

from aiohttp import web

from core import oscar
from core.errors import Invalid
from core.functions import Function
from core.jobs import JobStatus
from gateway import responses
from gateway.admission import Invocation
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.requests import idempotency_key, query_job_id, read_body, read_document
from gateway.openapi.operations import (JSON, answer, bytes_body, described, document_body,
                                        json_answer, query)
from gateway.openapi.schemas import STRING, ref

routes = web.RouteTableDef()
JOB_HEADERS = {"Sluice-Job-Id": STRING, "Sluice-Job-Status": STRING, "Location": STRING}
VERSION = importlib.metadata.version("sluice")
# Go's names of the machine's architecture (runtime.GOARCH), as OSCAR reports its own.
ARCHITECTURE = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm",
                "ppc64le": "ppc64le", "s390x": "s390x"}.get(platform.machine(),
                                                          platform.machine())
# Jobs a page (OSCAR's JOB_LISTING_LIMIT, pkg/types/config.go).
PAGE = 70
# What Go's strconv.ParseBool reads as true (OSCAR's `?all=`).
TRUE = ("1", "t", "T", "TRUE", "true", "True")


@routes.get("/health")
@described("Whether the gateway is up (OSCAR's)", tag="oscar", public=True,
           answers={200: answer("Ok", {"text/plain": {"const": "Ok"}})})
async def health(request: web.Request) -> web.Response:
    return web.Response(text="Ok")


@routes.get("/system/info")
@described("What this installation runs, as OSCAR's version.GetInfo says it", tag="oscar",
           answers={200: json_answer("Version, architecture and executor", "OscarInfo")})
async def info(request: web.Request) -> web.Response:
    """No Kubernetes version: the gateway does not ask a cluster (`kubernetes_version` is
    null, where OSCAR gives an empty string when it cannot tell)."""
    about = await request.app[SERVICE].about(caller(request))
    return web.json_response({
        "version": VERSION, "git_commit": "", "architecture": ARCHITECTURE,
        "kubernetes_version": None, "executor": about["executor"],
        "serverless_backend": {"name": "Sluice", "version": VERSION}})


@routes.get("/system/config")
@described("Where clients reach the object store, and with which keys (OSCAR's "
           "ConfigForUser)", tag="oscar",
           answers={200: json_answer("The configuration, for the admin", "OscarConfig")})
async def config(request: web.Request) -> web.Response:
    store = await request.app[SERVICE].client_store(caller(request))
    executor = request.app[SETTINGS].worker.executor
    namespace = request.app[SETTINGS].worker.kubernetes.namespace \
        if executor == "kubernetes" else ""
    return web.json_response({
        "config": {"name": "sluice", "namespace": namespace, "services_namespace": namespace,
                   "controller_service_account": "", "gpu_available": executor == "kubernetes",
                   "interLink_available": False, "yunikorn_enable": False,
                   "kueue_enable": False, "volume_enable": False, "oidc_groups": [],
                   "minio_quota_enabled": False},
        "minio_provider": {"endpoint": store["endpoint"], "verify": True,
                           "access_key": store["access_key"], "secret_key": store["secret_key"],
                           "region": store["region"]},
        "allowed_image_repositories": []})


@routes.get("/system/config/", allow_head=False)
@described("Redirects to /system/config, as OSCAR's router (gin's RedirectTrailingSlash) "
           "does", tag="oscar", public=True,
           answers={301: answer("Ask /system/config", headers={"Location": STRING})})
async def config_slash(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/system/config")


@routes.get("/system/services")
@described("List the services", tag="oscar",
           answers={200: json_answer("The services, with their tokens", "OscarServiceList")})
async def list_services(request: web.Request) -> web.Response:
    functions = await request.app[SERVICE].list_functions(caller(request))
    return web.json_response([_service(request, fn, with_token=True) for fn in functions])


@routes.post("/system/services")
@described("Create a service from its OSCAR definition", tag="oscar",
           body=document_body("OscarService"), problems=(409, 422),
           answers={201: json_answer("Created, with its token", "OscarService")})
async def create_service(request: web.Request) -> web.Response:
    spec = oscar.to_spec(await read_document(request))
    try:
        [fn] = await request.app[SERVICE].create_functions(caller(request), spec)
    except Invalid as exc:
        raise oscar.in_oscar_terms(exc) from exc
    return web.json_response(_service(request, fn, with_token=True), status=201)


@routes.put("/system/services")
@routes.put("/system/services/{name}")
@described("Create or replace a service; a replaced one gets a new token, as OSCAR's "
           "documentation says (Service access tokens)", tag="oscar",
           body=document_body("OscarService"), problems=(422,),
           answers={200: json_answer("Replaced", "OscarService"),
                    201: json_answer("Created", "OscarService")})
async def update_service(request: web.Request) -> web.Response:
    spec = oscar.to_spec(await read_document(request))
    name = request.match_info.get("name") or spec.get("name")
    if not isinstance(name, str):
        raise Invalid("the service definition needs a name")
    try:
        fn, created = await request.app[SERVICE].put_function(caller(request), name, spec,
                                                               new_token=True)
    except Invalid as exc:
        raise oscar.in_oscar_terms(exc) from exc
    return web.json_response(_service(request, fn, with_token=True),
                             status=201 if created else 200)


@routes.get("/system/services/{name}")
@described("Show a service", tag="oscar", problems=(404,),
           answers={200: json_answer("The service (its token only for the admin)",
                                     "OscarService")})
async def get_service(request: web.Request) -> web.Response:
    who = caller(request)
    fn = await request.app[SERVICE].get_function(who, request.match_info["name"])
    return web.json_response(_service(request, fn, with_token=who.admin))


@routes.delete("/system/services/{name}")
@described("Remove a service", tag="oscar", problems=(404,),
           answers={204: answer("Removed")})
async def delete_service(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_function(caller(request), request.match_info["name"])
    return web.Response(status=204)


def _service(request: web.Request, fn: Function, *, with_token: bool) -> dict:
    s3 = request.app[SETTINGS].s3
    return oscar.from_function(fn, with_token=with_token,
                               store={"endpoint": s3.client_url, "region": s3.region})


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
@described("A service's asynchronous jobs, newest first, a page at a time", tag="oscar",
           problems=(400, 404), parameters=(
               query("page", STRING, "The next_page of the page before."),),
           answers={200: json_answer("Its jobs by id", "OscarJobs")})
async def list_logs(request: web.Request) -> web.Response:
    """As OSCAR lists the Kubernetes Jobs of its asynchronous invocations (synchronous
    calls make none there): `JOB_LISTING_LIMIT` (70) a page, then `next_page` and how
    many jobs are left (`remaining_jobs`)."""
    service, who, name = request.app[SERVICE], caller(request), request.match_info["name"]
    page = query_job_id(request, "page")
    await service.get_function(who, name)
    jobs = await service.list_jobs(who, function=name, status=None, limit=PAGE + 1,
                                   cursor=page, synchronous=False)
    body: dict = {"jobs": {j.id: oscar.job_summary(j) for j in jobs[:PAGE]}}
    if len(jobs) > PAGE:
        body["next_page"] = jobs[PAGE - 1].id
        body["remaining_jobs"] = await service.count_jobs(
            who, function=name, cursor=body["next_page"], synchronous=False)
    return web.json_response(body)


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
@described("Delete a service's succeeded asynchronous jobs", tag="oscar", problems=(404,),
           parameters=(query("all", STRING, "true (or 1, t, T, TRUE, True): cancel and "
                             "delete the others too, as Go's strconv.ParseBool reads it."),),
           answers={204: answer("Deleted")})
async def delete_jobs(request: web.Request) -> web.Response:
    """As OSCAR deletes the Jobs whose `status.successful` is not 0; `?all=true` every one,
    running ones cancelled first."""
    every = request.query.get("all", "false") in TRUE
    await request.app[SERVICE].delete_jobs(
        caller(request), request.match_info["name"], None, include_active=every,
        status=None if every else str(JobStatus.SUCCEEDED), synchronous=False)
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
