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
    """The caller sent something that cannot be accepted (bad spec, bad query, bad header)."""

    title = "Invalid request"


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


class StorageError(SluiceError):
    """The object store refused or failed an operation."""

    title = "Object storage error"
