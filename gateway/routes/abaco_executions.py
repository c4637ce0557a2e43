"""The Abaco face's executions: an actor's jobs, their records and logs, and the force quit
of one that runs (TACC/abaco at 9e83e1c, actors/controllers.py: `ActorExecutionsResource`,
`ActorExecutionResource`, `ActorExecutionLogsResource`)."""

from __future__ import annotations

from aiohttp import web

from core.abaco import executions
from core.errors import BadRequest, NotFound
from core.jobs import Job, JobStatus
from gateway.abaco import ERROR, TAG, actor_function, api_server, base, enveloped, ok, route
from gateway.auth import Caller, caller
from gateway.keys import SERVICE
from gateway.openapi.operations import described, json_answer

routes = web.RouteTableDef()
PAGE = 500


def _ids(request: web.Request) -> tuple[str, str]:
    return request.match_info["actor_id"], request.match_info["execution_id"]


async def _job(request: web.Request, who: Caller) -> Job:
    """The execution, if it is one of the actor's."""
    actor_id, execution_id = _ids(request)
    try:
        job = await request.app[SERVICE].get_job(who, execution_id)
    except NotFound:
        job = None
    if job is None or job.function != actor_id:
        raise NotFound(f"No executions found with actor id of {actor_id} and execution id "
                       f"of {execution_id}.")
    return job


def _links(request: web.Request, job: Job) -> dict[str, str]:
    home = f"{base(request)}/{job.function}/executions/{job.id}"
    return {"self": home, "logs": f"{home}/logs"}


@route(routes, "GET", "/{actor_id}/executions")
@described("An actor's executions, with their totals (Abaco's)", tag=TAG,
           problem_schema=ERROR, answers={200: json_answer("The executions, the first first",
                                                           "AbacoExecutionsAnswer")})
@enveloped
async def list_executions(request: web.Request) -> web.Response:
    fn, who = await actor_function(request), caller(request)
    jobs: list[Job] = []
    while True:
        page = await request.app[SERVICE].list_jobs(
            who, function=fn.name, status=None, limit=PAGE, cursor=jobs[-1].id if jobs else None)
        jobs.extend(page)
        if len(page) < PAGE:
            break
    summary = executions.summary(fn.name, reversed(jobs), api_server(request))
    summary["_links"] = {"self": f"{base(request)}/{fn.name}/executions"}
    return ok(summary, "Actor executions retrieved successfully.")


@route(routes, "GET", "/{actor_id}/executions/{execution_id}")
@described("An execution (Abaco's)", tag=TAG, problem_schema=ERROR,
           answers={200: json_answer("The execution", "AbacoExecutionAnswer")})
@enveloped
async def get_execution(request: web.Request) -> web.Response:
    job = await _job(request, caller(request))
    record = executions.execution(job, api_server(request)) | {"_links": _links(request, job)}
    return ok(record, "Actor execution retrieved successfully.")


@route(routes, "GET", "/{actor_id}/executions/{execution_id}/logs")
@described("What an execution printed (Abaco's)", tag=TAG, problem_schema=ERROR,
           answers={200: json_answer("Its stdout and stderr", "AbacoLogsAnswer")})
@enveloped
async def execution_logs(request: web.Request) -> web.Response:
    """Kept when the execution ends; for one that runs, /v1/jobs/{id}/logs?follow=1."""
    who = caller(request)
    job = await _job(request, who)
    logs = await request.app[SERVICE].logs(who, job.id, "all")
    links = _links(request, job)
    return ok({"logs": logs.decode(errors="replace"),
               "_links": {"self": links["logs"], "execution": links["self"]}},
              "Logs retrieved successfully.")


@route(routes, "DELETE", "/{actor_id}/executions/{execution_id}")
@described("Force quit an execution that runs (Abaco's)", tag=TAG, problem_schema=ERROR,
           answers={200: json_answer("Stopping", "AbacoEmpty")})
@enveloped
async def force_quit(request: web.Request) -> web.Response:
    """Only a running execution, as Abaco has it; the job is cancelled."""
    who = caller(request)
    job = await _job(request, who)
    if job.status is not JobStatus.RUNNING:
        raise BadRequest(f"Cannot force quit an execution not in {executions.RUNNING} status. "
                         f"Execution was found in status: {executions.status(job)}")
    await request.app[SERVICE].cancel_job(who, job.id)
    return ok(None, f"Issued force quit command for execution {job.id}.")
