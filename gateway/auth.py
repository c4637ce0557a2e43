"""Bearer tokens: the admin token may do everything; a function's token may invoke that
function and read its jobs, nothing else."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac

from aiohttp import web

from core.errors import Forbidden, Unauthorized
from core.functions import Function
from core.settings import Secret


@dataclasses.dataclass(frozen=True)
class Caller:
    token: str = dataclasses.field(repr=False)
    admin: bool

    def require_admin(self) -> None:
        if not self.admin:
            raise Forbidden("this operation needs the admin token")

    def require_function(self, fn: Function) -> None:
        if not (self.admin or hmac.compare_digest(self.token.encode(), fn.token.encode())):
            raise Forbidden(f"this token may not use function {fn.name!r}")


def caller(request: web.Request, admin_token: Secret | None) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() == "basic" and token:
        # OSCAR's clients send Basic credentials: the password is the token.
        try:
            token = base64.b64decode(token, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            token = ""
    elif scheme.lower() != "bearer":
        token = ""
    if not token:
        raise Unauthorized("send 'Authorization: Bearer <token>' (the admin token or the "
                           "function's token)")
    admin = admin_token is not None and hmac.compare_digest(
        token.encode(), admin_token.reveal().encode())
    return Caller(token=token, admin=admin)
