"""The Abaco face's executions: an actor's jobs, their records and logs, and the force quit
of one that runs (TACC/abaco at 9e83e1c, actors/controllers.py: `ActorExecutionsResource`,
`ActorExecutionResource`, `ActorExecutionLogsResource`)."""

from __future__ import annotations

from aiohttp import web

from core.abaco import executions
from core.errors import BadRequest, NotFound
from core.jobs import Job, JobStatus
from gateway.abaco import actor_function, api_server, base, ok, operation
from gateway.auth import Caller, caller
from gateway.keys import SERVICE
from gateway.openapi.operations import json_answer

routes = web.RouteTableDef()
PAGE = 500


def _ids(request: web.Request) -> tuple[str, str]:
    return request.match_info["actor_id"], request.match_info["execution_id"]


async def _job(request: web.Request) -> tuple[Caller, Job]:
    """The caller, and the execution if it is one of the actor's."""
    who = caller(request)
    actor_id, execution_id = _ids(request)
    try:
        job = await request.app[SERVICE].get_job(who, execution_id)
    except NotFound:
        job = None
    if job is None or job.function != actor_id:
        raise NotFound(f"No executions found with actor id of {actor_id} and execution id "
                       f"of {execution_id}.")
    return who, job


def _links(request: web.Request, job: Job) -> dict[str, str]:
    home = f"{base(request)}/{job.function}/executions/{job.id}"
    return {"self": home, "logs": f"{home}/logs"}


@operation(routes, "GET", "/{actor_id}/executions", "An actor's executions, with totals",
           answers={200: json_answer("The executions, the first first",
                                     "AbacoExecutionsAnswer")})
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


@operation(routes, "GET", "/{actor_id}/executions/{execution_id}", "An execution",
           answers={200: json_answer("The execution", "AbacoExecutionAnswer")})
async def get_execution(request: web.Request) -> web.Response:
    _, job = await _job(request)
    record = executions.execution(job, api_server(request)) | {"_links": _links(request, job)}
    return ok(record, "Actor execution retrieved successfully.")


@operation(routes, "GET", "/{actor_id}/executions/{execution_id}/logs",
           "What an execution printed",
           answers={200: json_answer("Its stdout and stderr", "AbacoLogsAnswer")})
async def execution_logs(request: web.Request) -> web.Response:
    """Kept when the execution ends; for one that runs, /v1/jobs/{id}/logs?follow=1."""
    who, job = await _job(request)
    logs = await request.app[SERVICE].logs(who, job.id, "all")
    links = _links(request, job)
    return ok({"logs": logs.decode(errors="replace"),
               "_links": {"self": links["logs"], "execution": links["self"]}},
              "Logs retrieved successfully.")


@operation(routes, "DELETE", "/{actor_id}/executions/{execution_id}",
           "Force quit an execution that runs",
           answers={200: json_answer("Stopping", "AbacoEmpty")})
async def force_quit(request: web.Request) -> web.Response:
    """Only a running execution, as Abaco has it; the job is cancelled."""
    who, job = await _job(request)
    if job.status is not JobStatus.RUNNING:
        raise BadRequest(f"Cannot force quit an execution not in {executions.RUNNING} status. "
                         f"Execution was found in status: {executions.status(job)}")
    await request.app[SERVICE].cancel_job(who, job.id)
    return ok(None, f"Issued force quit command for execution {job.id}.")
