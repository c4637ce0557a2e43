"""How the command line shows what the API answers: aligned tables, local times,
durations and sizes."""

from __future__ import annotations

import datetime

from core.times import parse_rfc3339


def table(rows, header) -> None:
    rows = [header] + [tuple("-" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def local_time(text: str | None) -> str | None:
    """An API time (RFC 3339, UTC) as this machine's local time."""
    if text is None:
        return None
    moment = datetime.datetime.fromtimestamp(parse_rfc3339(text))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def seconds(value) -> str | None:
    if value is None:
        return None
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def size(value) -> str | None:
    if value is None:
        return None
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return None
