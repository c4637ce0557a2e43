"""Reading schedules and finding their ticks: cron expressions checked against a plain
reading of cron(5) by hypothesis, Abaco's `yyyy-mm-dd hh + N unit` as TACC/abaco's code reads
it (actors/models.py and actors/controllers.py at 9e83e1cb4f6c509cdc3bc93b9e09daee5fd2224e),
and the refusals, which give the current UTC time."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.errors import Invalid
from core.functions import Function
from core.schedules import Cron, Every, ScheduleError, parse_schedule
from core.times import parse_rfc3339, rfc3339

UTC = datetime.UTC
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAYS = "sun mon tue wed thu fri sat".split()
# (lowest, highest) of each field: minute, hour, day of month, month, day of week (7: sun).
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
NOW_TEXT = re.compile(r"the current UTC time is (\S+)$")


def at(*parts: int) -> float:
    return datetime.datetime(*parts, tzinfo=UTC).timestamp()


# -- cron: the ticks, as cron(5) says, against a reference written from the man page -----

@st.composite
def cron_field(draw, index: int) -> tuple[str, set[int]]:
    """One field as text, with the values it stands for."""
    low, high = BOUNDS[index]
    names = {3: MONTHS, 4: DAYS}.get(index)

    def value(number: int) -> str:
        if names and draw(st.booleans()) and number - (index == 3) < len(names):
            name = names[number - (index == 3)]
            return draw(st.sampled_from([name, name.upper(), name.title()]))
        return str(number)

    kind = draw(st.sampled_from(["star", "value", "range", "step", "list"]))
    if kind == "star":
        return "*", set(range(low, high + 1))
    if kind == "value":
        number = draw(st.integers(low, high))
        return value(number), {number}
    if kind in ("range", "step"):
        start = draw(st.integers(low, high - 1))
        # cronsim reads `5-5/3` as `5/3` (5, 8, ... 59); cron(5) as 5. Nobody writes it.
        end = draw(st.integers(start + (kind == "step"), high))
        if kind == "range":
            return f"{value(start)}-{value(end)}", set(range(start, end + 1))
        step = draw(st.integers(1, high - low + 1))
        if draw(st.booleans()):
            return f"*/{step}", set(range(low, high + 1, step))
        return f"{start}-{end}/{step}", set(range(start, end + 1, step))
    numbers = draw(st.lists(st.integers(low, high), min_size=2, max_size=4, unique=True))
    return ",".join(value(n) for n in numbers), set(numbers)


@st.composite
def cron_expression(draw) -> tuple[str, list[set[int]], bool]:
    """An expression, its fields' values, and whether day of month and day of week must
    both match (cron(5): when either field starts with `*`) or either may."""
    fields = [draw(cron_field(i)) for i in range(5)]
    if min(fields[2][1]) > 28:  # may never come (the 30th of February): refused, below
        fields[2] = ("1-28", set(range(1, 29)))
    text = " ".join(f[0] for f in fields)
    both = fields[2][0].startswith("*") or fields[4][0].startswith("*")
    return text, [f[1] for f in fields], both


def day_matches(values: list[set[int]], both: bool, moment: datetime.datetime) -> bool:
    _, _, days, months, weekdays = values
    weekday = (moment.weekday() + 1) % 7
    day = (moment.day in days, weekday in weekdays or (weekday == 0 and 7 in weekdays))
    return moment.month in months and (all(day) if both else any(day))


def matches(values: list[set[int]], both: bool, moment: datetime.datetime) -> bool:
    return moment.minute in values[0] and moment.hour in values[1] \
        and day_matches(values, both, moment)


def reference_next(values: list[set[int]], both: bool, after: float) -> float:
    """The first minute after `after` that matches, day by day. A date comes on a given
    weekday again within 40 years of the Gregorian calendar (the 29th of February's longest
    wait, across a century that is not a leap year): `*/21 * 3 5` waits more than nine."""
    start = datetime.datetime.fromtimestamp(after, UTC)
    for offset in range(366 * 40):
        day = (start + datetime.timedelta(days=offset)).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
        if not day_matches(values, both, day):
            continue
        for hour in sorted(values[1]):
            for minute in sorted(values[0]):
                moment = day.replace(hour=hour, minute=minute)
                if moment.timestamp() > after:
                    return moment.timestamp()
    raise AssertionError("no tick within forty years")


MOMENTS = st.floats(at(2000, 1, 1), at(2090, 1, 1))


@settings(max_examples=150, deadline=None)
@given(cron_expression(), MOMENTS)
def test_the_first_fire_of_a_cron_expression_is_the_next_minute_it_matches(expression, now):
    text, values, both = expression
    schedule = parse_schedule(text)
    assert schedule == Cron(text)
    assert schedule.first_fire(now) == reference_next(values, both, now)


@settings(max_examples=100, deadline=None)
@given(cron_expression(), MOMENTS, st.floats(0, 40 * 86400))
def test_missed_cron_ticks_come_to_the_latest_and_the_next_is_after_now(expression, since,
                                                                        later):
    text, values, both = expression
    schedule = parse_schedule(text)
    next_fire = schedule.first_fire(since)
    now = next_fire + later
    fire, following = schedule.catch_up(next_fire, now)
    assert next_fire <= fire <= now and matches(values, both, datetime.datetime.fromtimestamp(
        fire, UTC))
    assert reference_next(values, both, fire) > now, "no tick between it and now"
    assert following == reference_next(values, both, now)


def test_a_cron_tick_not_yet_due_is_not_fired():
    schedule = parse_schedule("30 * * * *")
    assert schedule.catch_up(at(2026, 12, 1, 14, 30), at(2026, 12, 1, 14, 29, 59)) == (
        None, at(2026, 12, 1, 14, 30))


@pytest.mark.parametrize("text, now, first", [
    ("*/15 8-18 * * mon-fri", at(2026, 12, 4, 18, 50), at(2026, 12, 7, 8, 0)),  # Fri -> Mon
    ("0 12 1,15 * *", at(2026, 12, 1, 12, 0), at(2026, 12, 15, 12, 0)),
    ("0 0 29 FEB *", at(2026, 3, 1), at(2028, 2, 29)),
    ("0 0 13 * fri", at(2026, 12, 1), at(2026, 12, 4)),    # either day field (cron(5))
    ("0 0 * * 7", at(2026, 12, 1), at(2026, 12, 6)),        # 7 is Sunday too
    ("5 4 * jan-mar/2 *", at(2026, 12, 1), at(2027, 1, 1, 4, 5)),
])
def test_cron_fields_names_lists_ranges_and_steps(text, now, first):
    assert parse_schedule(text).first_fire(now) == first


@pytest.mark.parametrize("text, says", [
    ("* * * *", "4 field(s) given"),
    ("0 * * * * *", "6 field(s) given"),        # no seconds field
    ("60 * * * *", "bad minute"),
    ("* 24 * * *", "bad hour"),
    ("* * 0 * *", "bad day-of-month"),
    ("* * 30 feb *", "bad day-of-month"),       # a day that never comes
    ("* * * 13 *", "bad month"),
    ("* * * * 8", "bad day-of-week"),
    ("*/0 * * * *", "bad minute"),
    ("5-1 * * * *", "bad minute"),
    ("* * L * *", "bad day-of-month field"),    # no extensions beyond cron(5)
    ("* * * * 5#2", "bad day-of-week field"),
    ("* * * * mon?", "bad day-of-week field"),
    ("* * * jan *", None),
])
def test_malformed_cron_expressions_say_which_field(text, says):
    if says is None:
        parse_schedule(text)
        return
    with pytest.raises(ScheduleError, match=re.escape(says)):
        parse_schedule(text)


# -- Abaco's form ----------------------------------------------------------------------

def test_abacos_own_examples_read_as_abaco_reads_them():
    """tests/test_abaco_core.py:212, 243 and 229: accepted, accepted, refused (400 there)."""
    assert parse_schedule("2078-09-6 20 + 3 months") == Every(
        "2078-09-6 20 + 3 months", datetime.datetime(2078, 9, 6, 20, tzinfo=UTC), 3, "month")
    assert parse_schedule("2026-12-02 23 + 6 hours").first_fire(0) == at(2026, 12, 2, 23)
    with pytest.raises(ScheduleError, match="'flimflams' is an invalid unit of time"):
        parse_schedule("2020-06-21 14 + 6 flimflams")


@pytest.mark.parametrize("unit", ["hour", "hours", "day", "days", "week", "weeks", "month",
                                  "months"])
def test_units_singular_or_plural(unit):
    """actors/controllers.py:911, the units Abaco takes."""
    assert parse_schedule(f"now + 2 {unit}").unit == unit.removesuffix("s")


def test_now_is_the_current_hour_so_it_fires_at_once():
    """actors/models.py:912-918: `now` (or `Now`) becomes the current UTC hour."""
    now = at(2026, 12, 1, 14, 7, 27)
    for text in ("now + 1 hour", "Now + 1 hour"):
        schedule = parse_schedule(text)
        assert schedule.first_fire(now) == at(2026, 12, 1, 14)
        assert schedule.catch_up(schedule.first_fire(now), now) == (
            at(2026, 12, 1, 14), at(2026, 12, 1, 15))


def test_each_tick_is_n_units_after_the_one_before():
    """actors/models.py:823-832: months by `relativedelta` from the last tick, so a series
    from the 31st goes on from the shorter month's last day."""
    schedule = parse_schedule("2027-01-31 10 + 1 month")
    ticks, next_fire = [], schedule.first_fire(0)
    for _ in range(3):
        fire, next_fire = schedule.catch_up(next_fire, next_fire)
        ticks.append(rfc3339(fire))
    assert ticks == ["2027-01-31T10:00:00.000Z", "2027-02-28T10:00:00.000Z",
                     "2027-03-28T10:00:00.000Z"]
    weekly = parse_schedule("2027-01-01 06 + 2 weeks")
    assert weekly.catch_up(at(2027, 1, 1, 6), at(2027, 1, 1, 6)) == (at(2027, 1, 1, 6),
                                                                      at(2027, 1, 15, 6))


@pytest.mark.parametrize("text, next_fire, now, fire, following", [
    # Down from 01:00 to 04:30 with every 3 hours from 00:00: one run, for 03:00, and the
    # series keeps its times (actors/models.py:841-845, `set_next_ex_past`).
    ("2027-01-01 00 + 3 hours", at(2027, 1, 1, 3), at(2027, 1, 1, 4, 30), at(2027, 1, 1, 3),
     at(2027, 1, 1, 6)),
    ("2027-01-01 00 + 1 day", at(2027, 1, 1), at(2027, 1, 9, 23), at(2027, 1, 9),
     at(2027, 1, 10)),
    ("2027-01-31 00 + 1 month", at(2027, 1, 31), at(2027, 5, 1), at(2027, 4, 28),
     at(2027, 5, 28)),
])
def test_missed_abaco_ticks_come_to_one_and_the_series_keeps_its_times(
        text, next_fire, now, fire, following):
    """Abaco's `CronResource.get` (actors/controllers.py:84-94) catches up and runs once.
    It then moves the time on once more, which skips the next tick when the catch-up lands
    ahead of now; Sluice keeps that tick, as `set_next_ex_past` means to."""
    assert parse_schedule(text).catch_up(next_fire, now) == (fire, following)


@pytest.mark.parametrize("text, says", [
    ("2026-13-01 10 + 1 day", "the starting date '2026-13-01 10' is not in the format"),
    ("2026-02-30 10 + 1 day", "is not in the format"),
    ("2026-12-01 24 + 1 day", "is not in the format"),
    ("tomorrow + 1 day", "the starting date 'tomorrow' is not in the format"),
    ("NOW + 1 day", "the starting date 'NOW'"),            # actors/models.py:912
    ("now + 0 hours", "'0' is not a whole number of hours from 1 to 9999"),
    ("now + -1 hours", "'-1' is not a whole number"),
    ("now + 10000 days", "from 1 to 9999"),
    ("9000-01-01 00 + 1 day", "must be before 9000"),
    ("now + 1  hour", "' hour' is an invalid unit of time"),
    ("now + 1 Hours", "'Hours' is an invalid unit"),
    ("now + 1 hour + 1 day", "'hour + 1 day' is an invalid unit"),
])
def test_malformed_abaco_schedules_say_what_is_wrong(text, says):
    with pytest.raises(ScheduleError, match=re.escape(says)):
        parse_schedule(text)


def test_a_start_before_the_current_hour_is_old_and_the_current_hour_is_not():
    """actors/models.py:929-931: refused when before the current hour, to the hour."""
    now = at(2026, 12, 1, 14, 59)
    parse_schedule("2026-12-01 14 + 1 hour").check_start(now)
    parse_schedule("now + 1 hour").check_start(now)
    parse_schedule("* * * * *").check_start(now)
    with pytest.raises(ScheduleError, match="the starting datetime 2026-12-01T13:00:00.000Z "
                                            "is old"):
        parse_schedule("2026-12-01 13 + 1 hour").check_start(now)


ALMOST = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["*", "0", "7", "59", "60", "*/0", "1-5", "5-1", "jan", "sun",
                              "L", ",", "/", "-", "#", "?", " ", "\t", "١"]),
             max_size=12).map("".join),
    st.tuples(st.sampled_from(["now", "Now", "NOW", "2027-01-31 10", "0001-01-01 00",
                               "9999-12-31 23", "2027-02-29 00", ""]),
              st.sampled_from([" + ", "+", " +  "]),
              st.sampled_from(["1", "0", "9999", "10000", "-1", "٣", "1.5", ""]),
              st.sampled_from([" hour", " months", " weeks", " fortnight", "", "  day"]))
    .map("".join))


@settings(max_examples=300, deadline=None)
@given(ALMOST, MOMENTS)
@example("8999-12-31 23 + 9999 months", at(2026, 12, 1))
@example("9999-12-31 23 + 1 month", at(2026, 12, 1))
def test_any_text_is_read_or_refused_and_never_breaks_what_reads_it(text, now):
    """What a deploy, the API and the scheduler do with a schedule, for whatever was sent."""
    try:
        schedule = parse_schedule(text)
    except ScheduleError as exc:
        assert str(exc)
        return
    try:
        schedule.check_start(now)
    except ScheduleError as exc:
        assert "is old" in str(exc)
    first = schedule.first_fire(now)
    assert rfc3339(first)
    fire, following = schedule.catch_up(first, max(first, now))
    assert fire is not None and fire <= max(first, now) < following


# -- in a function spec ------------------------------------------------------------------

def refusal(spec: dict) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "f", "command": ["true"], **spec})
    return {e["path"]: e["message"] for e in caught.value.errors}


@pytest.mark.parametrize("schedule", ["* * *", "now + 1 fortnight", 5, "", "x" * 201])
def test_a_malformed_schedule_is_refused_with_the_current_utc_time(schedule):
    before = datetime.datetime.now(UTC).timestamp()
    message = refusal({"schedule": schedule})["schedule"]
    shown = parse_rfc3339(NOW_TEXT.search(message).group(1))
    assert before - 0.001 <= shown <= datetime.datetime.now(UTC).timestamp()


def test_schedule_enabled_must_be_a_boolean():
    assert set(refusal({"schedule": "* * * * *", "schedule_enabled": "no"})) == {
        "schedule_enabled"}


def test_a_schedule_round_trips_through_the_spec_enabled_or_not():
    fn = Function.from_spec({"name": "f", "command": ["true"], "schedule": "0 * * * *",
                             "schedule_enabled": False})
    assert (fn.schedule, fn.schedule_enabled) == (Cron("0 * * * *"), False)
    assert Function.from_spec(fn.to_spec(), token=fn.token) == fn
    plain = Function.from_spec({"name": "f", "command": ["true"]})
    assert "schedule" not in plain.to_spec() and plain.schedule is None
