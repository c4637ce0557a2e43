"""A function's own retry policy: how often a failed attempt of the function itself (it
exited non-zero, timed out or ran out of memory) runs again, after what backoff, and for
which failures. Failures of the platform (the object store out of reach, a worker that
died) are retried regardless, by the worker's failure boundary.

    retries: 3                          # attempts after the first; default 0
    retry_backoff: 2s                   # or {initial: 2s, max: 10m}; doubles, with jitter
    retry_on: [timeout, oom, 75]        # reasons and exit codes; default: any failure
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping
from typing import Any

from core import quantities
from core.jobs import Reason

MAX_RETRIES = 100
MAX_BACKOFF = 24 * 3600.0
FAILURES = (Reason.ERROR.value, Reason.TIMEOUT.value, Reason.OOM.value)
Bad = Callable[[str, str], None]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0
    initial: float = 1.0
    max: float = 300.0
    on: tuple[str | int, ...] = FAILURES
    """Reasons (`error`: any non-zero exit) and exit codes that make an attempt run again."""

    def covers(self, reason: Reason | None, exit_code: int | None) -> bool:
        """Whether a failed attempt that ended so is one to run again."""
        if reason is None or reason.value not in FAILURES:
            return False
        if reason.value in self.on:
            return True
        return reason is Reason.ERROR and exit_code in self.on

    def delay(self, retry: int) -> float:
        """Seconds before the `retry`-th retry."""
        return backoff(self.initial, self.max, retry)

    def to_spec(self) -> dict[str, Any]:
        if self == RetryPolicy():
            return {}
        return {"retries": self.retries,
                "retry_backoff": {"initial": self.initial, "max": self.max},
                "retry_on": list(self.on)}


def backoff(initial: float, most: float, retry: int) -> float:
    """Seconds before the `retry`-th retry: doubling from `initial` up to `most`, half of it
    fixed and half random, so that jobs that failed together do not all come back together."""
    ceiling = min(most, initial * 2 ** min(retry - 1, 64))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry(spec: Mapping, bad: Bad) -> RetryPolicy:
    retries = spec.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) \
            or not 0 <= retries <= MAX_RETRIES:
        bad("retries", f"must be a whole number from 0 to {MAX_RETRIES}")
        retries = 0
    initial, most = _backoff(spec.get("retry_backoff"), bad)
    return RetryPolicy(retries=retries, initial=initial, max=most,
                       on=_failures(spec.get("retry_on"), bad))


def _backoff(value: Any, bad: Bad) -> tuple[float, float]:
    default = RetryPolicy()
    if value is None:
        return default.initial, default.max
    given = value if isinstance(value, Mapping) else {"initial": value}
    if isinstance(value, Mapping) and (set(value) - {"initial", "max"} or not value):
        bad("retry_backoff", "must be a duration, or {initial: duration, max: duration}")
        return default.initial, default.max
    found = []
    for part, fallback in (("initial", default.initial), ("max", default.max)):
        seconds = given.get(part, fallback)
        try:
            seconds = quantities.duration(seconds)
        except ValueError as exc:
            bad(f"retry_backoff.{part}" if isinstance(value, Mapping) else "retry_backoff",
                str(exc))
            seconds = fallback
        if not 0 < seconds <= MAX_BACKOFF:
            bad(f"retry_backoff.{part}", f"must be more than 0 and at most {MAX_BACKOFF:.0f} s")
            seconds = fallback
        found.append(seconds)
    initial, most = found
    if most < initial:
        bad("retry_backoff.max", "must be at least the initial backoff")
    return initial, max(initial, most)


def _failures(value: Any, bad: Bad) -> tuple[str | int, ...]:
    if value is None:
        return FAILURES
    rule = f"must be a non-empty list of {', '.join(FAILURES)} and exit codes from 1 to 255"
    if not isinstance(value, list) or not value:
        bad("retry_on", rule)
        return FAILURES
    found: list[str | int] = []
    for index, item in enumerate(value):
        if (isinstance(item, str) and item in FAILURES) or (
                isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 255):
            if item not in found:
                found.append(item)
        else:
            bad(f"retry_on.{index}", rule)
    return tuple(found) or FAILURES
