"""Callbacks: where a job's final record is POSTed when it ends, for which endings, and how
the POST is signed. A function names one in its spec; an invocation may name its own with
`X-Callback-Url` (as OpenFaaS takes it), which then stands for every ending.

    callback: https://example.org/hook                       # every ending
    callback: {url: https://example.org/hook, on: [failed]}  # only these

The POST carries `X-Sluice-Timestamp` (Unix seconds) and `X-Sluice-Signature:
sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the function's callback secret,
as GitHub and Stripe sign their webhooks. The secret is derived from the function's token,
so it needs no storage of its own and changes only with the token."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from core.jobs import JobStatus

MAX_URL = 2048
ENDINGS = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
SCHEMES = ("http", "https")
SIGNATURE = "X-Sluice-Signature"
TIMESTAMP = "X-Sluice-Timestamp"
# Visible ASCII only: what a header can carry, and no space or control character that
# would change where the request goes. Other characters are percent-encoded.
URL_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")
Bad = Callable[[str, str], None]


class CallbackState(enum.StrEnum):
    """Where a job's callback is, once the job has ended (before: `waiting`)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Given up: no POST was answered 2xx before the deadline."""
    SKIPPED = "skipped"
    """The job ended in a way its callback does not ask for."""


@dataclasses.dataclass(frozen=True)
class Callback:
    url: str
    on: tuple[str, ...] = ENDINGS
    """The endings (job statuses) that are called back."""

    def to_spec(self) -> dict[str, Any]:
        return {"url": self.url, "on": list(self.on)}


def url_problem(url: Any) -> str | None:
    """What is wrong with a callback URL, or None: http or https only, a host, no
    credentials (they would show in the job's record), at most `MAX_URL` characters."""
    if not isinstance(url, str) or not url:
        return "must be an http:// or https:// URL"
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    if not URL_CHARACTERS.match(url):
        return "must be visible ASCII without spaces (percent-encode the rest)"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # reading it checks it: a port that is not a number, or out of range
    except ValueError:
        return "is not a URL with a valid host and port"
    if parts.scheme.lower() not in SCHEMES:
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return ("must not hold credentials (user:password@): they would show in the job's "
                "record; check the signature instead")
    return None


def parse_callback(value: Any, bad: Bad) -> Callback | None:
    """The spec's `callback`: a URL, or {url, on}."""
    if value is None:
        return None
    given = {"url": value} if isinstance(value, str) else value
    if isinstance(given, Mapping):
        # YAML 1.1, as PyYAML reads it, takes a bare `on` key for true (GitHub Actions'
        # `on:` meets the same): it is read as the `on` it was written as.
        given = {"on" if key is True else key: item for key, item in given.items()}
    if not isinstance(given, Mapping) or set(given) - {"url", "on"}:
        bad("callback", "must be a URL, or {url: URL, on: [endings]}")
        return None
    problem = url_problem(given.get("url"))
    if problem:
        bad("callback.url", problem)
    on = _endings(given.get("on"), bad)
    return None if problem or on is None else Callback(url=given["url"], on=on)


def _endings(value: Any, bad: Bad) -> tuple[str, ...] | None:
    if value is None:
        return ENDINGS
    rule = f"must be a non-empty list of {', '.join(ENDINGS)}"
    if not isinstance(value, list) or not value:
        bad("callback.on", rule)
        return None
    wrong = False
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in ENDINGS:
            bad(f"callback.on.{index}", rule)
            wrong = True
    return None if wrong else tuple(e for e in ENDINGS if e in value)


def secret(token: str) -> str:
    """The function's callback secret: HMAC-SHA256 of "callback" under its token."""
    return hmac.new(token.encode(), b"callback", hashlib.sha256).hexdigest()


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The `X-Sluice-Signature` of `body` sent at `timestamp`, under `key`."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"
