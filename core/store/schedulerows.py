"""Schedule rows: each scheduled function's next fire time. A deploy places the row in the
transaction that stores the revision; a listener that fires a tick moves the time on with a
compare-and-set, so that of several listeners one moves it and the others see it moved."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from core.functions import Function
from core.store.database import Database
from core.store.schema import schedules


@dataclasses.dataclass(frozen=True)
class ScheduleRow:
    function: str
    schedule: str
    enabled: bool
    next_fire: float


_GET = sa.select(schedules).where(schedules.c.function == sa.bindparam("w_function"))
_ALL = sa.select(schedules)
_DELETE = schedules.delete().where(schedules.c.function == sa.bindparam("w_function"))
_ADVANCE = schedules.update().where(
    schedules.c.function == sa.bindparam("w_function"),
    schedules.c.next_fire == sa.bindparam("w_next_fire")).values(
    next_fire=sa.bindparam("v_next_fire"))


def place(connection, dialect, fn: Function, now: float) -> None:
    """Keep the row of `fn` as deployed: a new or changed schedule fires first at its first
    tick; an unchanged one keeps its next fire time, except that a schedule enabled again
    skips what fell due while it was off (Abaco moves `cron_next_ex` on while `cron_on` is
    false: actors/controllers.py, `actor_exec`). No schedule, no row."""
    if fn.schedule is None:
        connection.execute(_DELETE, {"w_function": fn.name})
        return
    row = connection.execute(_GET, {"w_function": fn.name}).first()
    if row is None or row.schedule != fn.schedule.text:
        next_fire = fn.schedule.first_fire(now)
    elif fn.schedule_enabled and not row.enabled:
        next_fire = fn.schedule.catch_up(row.next_fire, now)[1]
    else:
        next_fire = row.next_fire
    values = {"schedule": fn.schedule.text, "enabled": fn.schedule_enabled,
              "next_fire": next_fire}
    statement = dialect.insert(schedules).values(function=fn.name, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=[schedules.c.function],
                                                       set_=values))


def delete(connection, name: str) -> None:
    connection.execute(_DELETE, {"w_function": name})


class ScheduleRows:
    """The schedules' part of the job store (`JobStore` is one)."""

    db: Database

    def schedule_rows(self) -> dict[str, ScheduleRow]:
        rows = self.db.read(lambda c: c.execute(_ALL).all())
        return {row.function: ScheduleRow(**row._mapping) for row in rows}

    def get_schedule(self, name: str) -> ScheduleRow | None:
        row = self.db.read(lambda c: c.execute(_GET, {"w_function": name}).first())
        return ScheduleRow(**row._mapping) if row is not None else None

    def advance_schedule(self, name: str, seen: float, next_fire: float) -> bool:
        """Move the next fire time of `name` from `seen` to `next_fire`; False when it was
        no longer `seen` (another listener moved it, or a deploy did)."""
        params = {"w_function": name, "w_next_fire": seen, "v_next_fire": next_fire}
        return self.db.write(lambda c: c.execute(_ADVANCE, params).rowcount) == 1
