"""Times as every JSON answer gives them: RFC 3339 strings in UTC, to the millisecond."""

from __future__ import annotations

import datetime


def rfc3339(timestamp: float | None) -> str | None:
    """`2026-12-01T14:07:27.894Z` for a Unix time; None stays None."""
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> float:
    """The Unix time of an RFC 3339 string (`Z` or an offset)."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
