"""Who is calling, and what they may do: the admin token may do everything; a function's
token may invoke that function and read its jobs; the events token may post storage events.
The faces name the caller (`caller`); the service layer asks it (`require_*`)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac

from aiohttp import web

from core.errors import Forbidden, Unauthorized
from core.functions import Function
from core.settings import Secret
from gateway.keys import SETTINGS


@dataclasses.dataclass(frozen=True)
class Caller:
    token: str = dataclasses.field(repr=False)
    admin: bool
    events: bool = False

    def require_admin(self) -> None:
        if not self.admin:
            raise Forbidden("this operation needs the admin token")

    def require_function(self, fn: Function) -> None:
        if not (self.admin or _same(self.token, fn.token)):
            raise Forbidden(f"this token may not use function {fn.name!r}")

    def require_event_sender(self) -> None:
        if not (self.admin or self.events):
            raise Forbidden("event webhooks need the events token (SLUICE_EVENTS_TOKEN) or "
                            "the admin token")


def caller(request: web.Request) -> Caller:
    """The caller of `request`, by its bearer token, or by Basic credentials whose password
    is the admin token (what OSCAR's clients send for its administrator: any other password
    is refused, as OSCAR's `gin.BasicAuth` refuses it); Unauthorized when it sent none."""
    settings = request.app[SETTINGS]
    scheme, token = _credentials(request.headers.get("Authorization", ""))
    if not token:
        raise Unauthorized("send 'Authorization: Bearer <token>' (the admin token or the "
                           "function's token)")
    admin = _matches(token, settings.admin_token)
    if scheme == "basic" and not admin:
        raise Unauthorized("these Basic credentials are not the administrator's (the "
                           "password is the admin token)")
    return Caller(token=token, admin=admin, events=_matches(token, settings.events_token))


def _credentials(header: str) -> tuple[str, str]:
    scheme, _, token = header.partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme == "basic" and token:
        try:
            return scheme, base64.b64decode(token, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return scheme, ""
    return scheme, token if scheme == "bearer" else ""


def _matches(token: str, secret: Secret | None) -> bool:
    return secret is not None and _same(token, secret.reveal())


def _same(a: str, b: str) -> bool:
    return bool(b) and hmac.compare_digest(a.encode(), b.encode())
