"""When a function runs by the clock: a 5-field cron expression, or Abaco's
`yyyy-mm-dd hh + N unit` (and `now + N unit`). Pure: every method is given the time.

    schedule: "*/15 8-18 * * mon-fri"   # minute hour day-of-month month day-of-week, UTC
    schedule: "2026-12-01 14 + 6 hours" # Abaco's: from that hour on, every 6 hours
    schedule_enabled: false             # kept, but not fired (default true)
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from cronsim import CronSim, CronSimError
from dateutil.relativedelta import relativedelta

from core.times import rfc3339

Bad = Callable[[str, str], None]
MAX_TEXT = 200
MAX_COUNT = 9999
# 9999 months on from a start before then is still a date Python can hold.
LAST_YEAR = 9000
UTC = datetime.UTC
# Abaco's units (actors/controllers.py, `r.fixed[2] in [...]`), singular and plural.
UNITS = {"hour": datetime.timedelta(hours=1), "day": datetime.timedelta(days=1),
         "week": datetime.timedelta(weeks=1), "month": relativedelta(months=1)}
# Abaco reads its form with `parse("{} + {} {}", cron)`: three lazy fields, the first up to
# the first " + ", the second up to the next space, the unit the rest.
ABACO = re.compile(r"^(.+?) \+ (.+?) (.+)$", re.DOTALL)
START = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{1,2})$")
NOW = ("now", "Now")
# What a cron field is made of: numbers, `*`, month and day names, joined by `,` `-` `/`.
CRON_ATOM = re.compile(r"^(\*|[0-9]+|[A-Za-z]{3})$")
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
FORMS = ("a cron expression (minute hour day-of-month month day-of-week, UTC) or "
         "'yyyy-mm-dd hh + N unit' (or 'now + N unit'; unit: hour, day, week or month)")


class ScheduleError(Exception):
    """A schedule that cannot be read, or whose start has passed; the message says why."""


@dataclasses.dataclass(frozen=True)
class Cron:
    """Ticks at the minutes the expression matches, in UTC."""

    text: str

    def first_fire(self, now: float) -> float:
        return _tick(self.text, now, reverse=False)

    def catch_up(self, next_fire: float, now: float) -> tuple[float | None, float]:
        """(the tick to fire at `now`, or None when `next_fire` is still ahead; the next
        fire after now). Ticks missed since `next_fire` come to one: the latest."""
        if next_fire > now:
            return None, next_fire
        latest = _tick(self.text, math.floor(now) + 1, reverse=True)
        return max(next_fire, latest), self.first_fire(now)

    def check_start(self, now: float) -> None:
        """A cron expression has no start to miss."""


@dataclasses.dataclass(frozen=True)
class Every:
    """Abaco's `yyyy-mm-dd hh + N unit`: at that hour (UTC; `now` is the current hour), then
    every N units after it, each from the one before (actors/models.py, `set_next_ex`)."""

    text: str
    start: datetime.datetime | None
    count: int
    unit: str

    def first_fire(self, now: float) -> float:
        return (self.start or _hour(now)).timestamp()

    def catch_up(self, next_fire: float, now: float) -> tuple[float | None, float]:
        if next_fire > now:
            return None, next_fire
        if self.unit != "month":
            period = self.count * UNITS[self.unit].total_seconds()
            fire = next_fire + (now - next_fire) // period * period
            return fire, fire + period
        fire = _moment(next_fire)
        while (following := fire + UNITS["month"] * self.count).timestamp() <= now:
            fire = following
        return fire.timestamp(), following.timestamp()

    def check_start(self, now: float) -> None:
        """Refuse a start before the current hour, as Abaco's `set_cron` does."""
        if self.start is not None and self.start < _hour(now):
            raise ScheduleError(f"the starting datetime {rfc3339(self.start.timestamp())} "
                                "is old")


Schedule = Cron | Every


def parse_schedule(text: str) -> Schedule:
    """Read a schedule; raise `ScheduleError` saying what is wrong with it."""
    if len(text) > MAX_TEXT:
        raise ScheduleError(f"must be at most {MAX_TEXT} characters")
    abaco = ABACO.match(text)
    return _every(text, *abaco.groups()) if abaco else _cron(text)


def parse_schedule_fields(spec: Mapping, bad: Bad) -> dict[str, Any]:
    """`schedule` and `schedule_enabled` of a function spec. A message about the schedule
    gives the current UTC time, as Abaco's do, to write a start against."""
    text, enabled = spec.get("schedule"), spec.get("schedule_enabled", True)
    schedule = None
    if not isinstance(enabled, bool):
        bad("schedule_enabled", "must be true or false")
    if isinstance(text, str):
        try:
            schedule = parse_schedule(text)
        except ScheduleError as exc:
            bad("schedule", with_time(str(exc)))
    elif text is not None:
        bad("schedule", with_time(f"must be {FORMS}"))
    return {"schedule": schedule, "schedule_enabled": enabled is not False}


def with_time(message: str, now: float | None = None) -> str:
    now = datetime.datetime.now(UTC).timestamp() if now is None else now
    return f"{message}; the current UTC time is {rfc3339(now)}"


def _every(text: str, start_text: str, count_text: str, unit_text: str) -> Every:
    unit = unit_text[:-1] if unit_text.endswith("s") else unit_text
    if unit not in UNITS:
        raise ScheduleError(f"{unit_text!r} is an invalid unit of time: give hour, day, week "
                            "or month, singular or plural")
    if not count_text.isascii() or not count_text.isdigit() \
            or not 1 <= int(count_text) <= MAX_COUNT:
        raise ScheduleError(f"{count_text!r} is not a whole number of {unit}s from 1 to "
                            f"{MAX_COUNT}")
    if start_text in NOW:
        return Every(text, None, int(count_text), unit)
    found = START.match(start_text)
    try:
        start = datetime.datetime(*map(int, found.groups()), tzinfo=UTC) if found else None
    except ValueError:
        start = None
    if start is None:
        raise ScheduleError(f"the starting date {start_text!r} is not in the format "
                            "yyyy-mm-dd hh (UTC), nor now")
    if start.year >= LAST_YEAR:
        raise ScheduleError(f"the starting date {start_text!r} must be before {LAST_YEAR}, "
                            "so that its ticks stay within the calendar")
    return Every(text, start, int(count_text), unit)


def _cron(text: str) -> Cron:
    fields = text.split()
    if len(fields) != len(CRON_FIELDS):
        raise ScheduleError(f"must be {FORMS}; {len(fields)} field(s) given")
    for name, field in zip(CRON_FIELDS, fields):
        if not all(CRON_ATOM.match(atom) for atom in re.split(r"[,/-]", field)):
            raise ScheduleError(f"bad {name} field {field!r}: give numbers, *, names of "
                                "months or days, lists (,), ranges (-) and steps (/)")
    try:
        _tick(text, 0.0, reverse=False)
    except CronSimError as exc:
        raise ScheduleError(f"{str(exc).lower()} in the cron expression {text!r}") from exc
    return Cron(text)


def _tick(expression: str, moment: float, *, reverse: bool) -> float:
    """The first tick after `moment` (with `reverse`, before it)."""
    return next(CronSim(expression, _moment(moment), reverse=reverse)).timestamp()


def _moment(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, UTC)


def _hour(timestamp: float) -> datetime.datetime:
    return _moment(timestamp).replace(minute=0, second=0, microsecond=0)
