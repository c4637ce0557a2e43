"""One middleware turns every error into `application/problem+json` (RFC 7807)."""

from __future__ import annotations

import json
import logging
import uuid

from aiohttp import web

from core import errors
from gateway.keys import SETTINGS

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of gives its status.
STATUS = {
    errors.BadRequest: 400,
    errors.Invalid: 422,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.TooManyRequests: 429,
    errors.StorageError: 502,
    errors.Unavailable: 503,
}


def problem(status: int, title: str, detail: str | None = None, **extra) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="sluice"'} if status == 401 else None
    return web.Response(status=status, text=json.dumps(body), headers=headers,
                        content_type="application/problem+json")


@web.middleware
async def problems(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.SluiceError as exc:
        status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 500)
        extra = {"errors": exc.errors} if exc.errors else {}
        answer = problem(status, exc.title, exc.detail, instance=request.path, **extra)
        if isinstance(exc, errors.TooManyRequests):
            answer.headers["Retry-After"] = str(exc.retry_after)
        return answer
    except web.HTTPRequestEntityTooLarge:
        return problem(413, "Payload too large",
                       f"the body exceeds the limit of {request.app[SETTINGS].max_body} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason, exc.text if exc.text != exc.reason else None)
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("unexpected error (incident %s) on %s %s", incident, request.method,
                      request.path)
        return problem(500, "Internal error",
                       f"an unexpected error occurred; the server log has incident {incident}")
