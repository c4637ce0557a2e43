"""The error tree every layer raises; the gateway maps it to HTTP problems in one table."""

from __future__ import annotations


class SluiceError(Exception):
    """Base of every error Sluice raises on purpose."""

    title = "Sluice error"

    def __init__(self, detail: str, *, errors: list[dict] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Invalid(SluiceError):
    """What the caller sent was read, and its content cannot be accepted (a bad spec, a key
    no function may be given)."""

    title = "Invalid request"


class BadRequest(Invalid):
    """What the caller sent cannot even be read: a body that does not parse, a query
    parameter or a header that is not of its form."""

    title = "Bad request"


class NotFound(SluiceError):
    title = "Not found"


class Conflict(SluiceError):
    title = "Conflict"


class Unauthorized(SluiceError):
    title = "Authentication required"


class Forbidden(SluiceError):
    title = "Forbidden"


class PayloadTooLarge(SluiceError):
    title = "Payload too large"


class TooManyRequests(SluiceError):
    title = "Too many requests"


class Unavailable(SluiceError):
    """A backing service (broker, store, object store) cannot be reached right now."""

    title = "Service unavailable"


class CannotRun(SluiceError):
    """The function cannot run on this worker: its executor needs what the function lacks,
    or its image cannot be had. Trying again would not help."""

    title = "Function cannot run"


class StorageError(SluiceError):
    """The object store refused or failed an operation."""

    title = "Object storage error"
