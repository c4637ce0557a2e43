"""Storage-event webhooks (S3/MinIO notifications, SeaweedFS filer) and on-demand scans."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from core.errors import Forbidden, Invalid
from core.events import ObjectEvent, parse_s3_notification, parse_seaweedfs_webhook
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.requests import read_document

routes = web.RouteTableDef()


def _require_event_sender(request: web.Request) -> None:
    """The admin token, or the token given to the storage server for its webhooks."""
    settings = request.app[SETTINGS]
    who = caller(request, settings.admin_token)
    events_token = settings.events_token
    if who.admin or (events_token is not None and hmac.compare_digest(
            who.token.encode(), events_token.reveal().encode())):
        return
    raise Forbidden("event webhooks need the events token (SLUICE_EVENTS_TOKEN) or the "
                    "admin token")


async def _route_all(request: web.Request, events: list[ObjectEvent]) -> web.Response:
    service = request.app[SERVICE]
    started, refused = [], []
    for event in events:
        try:
            jobs = await service.run(service.router.route, event)
        except Invalid as exc:
            refused.append({"path": f"{event.bucket}/{event.key}", "message": exc.detail})
            continue
        started.extend(job.id for job in jobs)
    if refused:
        raise Invalid(f"{len(refused)} object(s) refused; the others were processed",
                      errors=refused)
    return web.json_response({"events": len(events), "jobs": started})


@routes.post("/v1/events/s3")
async def s3_events(request: web.Request) -> web.Response:
    _require_event_sender(request)
    return await _route_all(request, parse_s3_notification(await read_document(request)))


@routes.post("/v1/events/seaweedfs")
async def seaweedfs_events(request: web.Request) -> web.Response:
    _require_event_sender(request)
    event = parse_seaweedfs_webhook(await read_document(request))
    return await _route_all(request, [event] if event else [])


@routes.post("/v1/functions/{name}/scan")
async def scan(request: web.Request) -> web.StreamResponse:
    """One job per object already under the function's inputs; progress as NDJSON lines."""
    service = request.app[SERVICE]
    fn = await service.get_function(caller(request, request.app[SETTINGS].admin_token),
                                    request.match_info["name"])
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    progress_iter = service.router.scan(fn)
    progress, sent = None, 0
    while (step := await service.run(next, progress_iter, None)) is not None:
        progress = step
        if progress.listed - sent >= 25:
            sent = progress.listed
            await response.write(_line(progress, done=False))
    await response.write(_line(progress, done=True))
    await response.write_eof()
    return response


def _line(progress, *, done: bool) -> bytes:
    counts = vars(progress) if progress else {"listed": 0, "submitted": 0, "existing": 0,
                                              "refused": 0}
    return json.dumps({**counts, "done": done}).encode() + b"\n"
