"""Storage-event webhooks (S3/MinIO notifications, SeaweedFS filer) and on-demand scans."""

from __future__ import annotations

import json

from aiohttp import web

from core.errors import SluiceError
from gateway.auth import caller
from gateway.keys import SERVICE
from gateway.requests import read_document
from gateway.openapi.operations import answer, described, document_body, json_answer

routes = web.RouteTableDef()


@routes.post("/v1/events/{source:s3|seaweedfs}")
@described("Storage events (an S3/MinIO notification, a SeaweedFS filer event)",
           tag="events", body=document_body("StorageNotification"), problems=(422,),
           answers={200: json_answer("How many events it held, and the jobs started",
                                     "EventsRouted")})
async def events(request: web.Request) -> web.Response:
    count, jobs = await request.app[SERVICE].route_notification(
        caller(request), request.match_info["source"], lambda: read_document(request))
    return web.json_response({"events": count, "jobs": jobs})


@routes.post("/v1/functions/{name}/scan")
@described("One job per object already under a function's inputs", tag="functions",
           problems=(404,), answers={200: answer(
               "Progress as JSON lines; the last has done: true, and error if it stopped",
               {"application/x-ndjson": {"type": "string"}})})
async def scan(request: web.Request) -> web.StreamResponse:
    """One job per object already under the function's inputs; progress as NDJSON lines,
    the last one with `done`, and with `error` when the scan could not finish."""
    steps = await request.app[SERVICE].scan(caller(request), request.match_info["name"])
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    progress, sent, error = None, 0, None
    try:
        async for progress in steps:
            if progress.listed - sent >= 25:
                sent = progress.listed
                await response.write(_line(progress, done=False))
    except SluiceError as exc:
        error = exc.detail
    await response.write(_line(progress, done=True, error=error))
    await response.write_eof()
    return response


def _line(progress, *, done: bool, error: str | None = None) -> bytes:
    counts = vars(progress) if progress else {"listed": 0, "submitted": 0, "existing": 0,
                                              "refused": 0}
    line = {**counts, "done": done} | ({"error": error} if error else {})
    return json.dumps(line).encode() + b"\n"
