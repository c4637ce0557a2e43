"""The error tree every layer raises; the gateway maps it to HTTP problems in one table,
and `classify` says, for whoever must decide whether to try again, what kind a failure is."""

from __future__ import annotations

import enum


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

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


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


class Failure(enum.Enum):
    TRANSIENT = "transient"
    """Something needed was out of reach: trying again later may succeed."""
    PERMANENT = "permanent"
    """Sluice refused on purpose: trying again would be refused again."""
    UNEXPECTED = "unexpected"
    """Not an error of Sluice's own: a bug, to log with an incident id."""


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, Unavailable):
        return Failure.TRANSIENT
    if isinstance(exc, SluiceError):
        return Failure.PERMANENT
    return Failure.UNEXPECTED
