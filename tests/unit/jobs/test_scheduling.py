"""Firing schedules, as the job model does it: one job per tick under its key, and nothing
asked of the job store while no function has a schedule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.functions import Function
from core.jobs import Trigger
from jobs.context import JobContext

MINUTE = 60.0


@pytest.fixture
def context(local_settings, local_bus, memory_objects):
    broker, events = local_bus
    context = JobContext.build(local_settings, broker=broker, events=events,
                               objects=memory_objects)
    context.prepare()
    yield context
    context.close()


def statements(context: JobContext) -> list[str]:
    """Every SQL statement the context's store runs from now on."""
    seen: list[str] = []
    sa.event.listen(context.store.engine, "before_cursor_execute",
                    lambda _c, _cursor, statement, *_: seen.append(statement))
    return seen


def deploy(context: JobContext, now: float, **spec) -> Function:
    fn = Function.from_spec({"name": "tick", "command": ["true"], **spec})
    context.store.create_function(fn.resolved(context.settings.s3.bucket), now=now)
    context.catalog.forget()
    return fn


def test_with_no_schedule_firing_asks_the_store_nothing_but_the_cached_list(context):
    deploy(context, 0.0, name="tick")
    context.catalog.all()
    seen = statements(context)
    for second in range(200):
        assert context.schedules.fire_due(float(second)) == ([], None)
    assert not [s for s in seen if "schedules" in s]
    assert len(seen) <= 2, "at most the function list's once-a-second check"


def test_a_due_tick_makes_one_job_under_its_key_and_moves_the_time_on(context):
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole minute
    deploy(context, start, schedule="* * * * *")
    assert context.schedules.fire_due(start + 30) == ([], start + MINUTE)
    made, next_due = context.schedules.fire_due(start + MINUTE)
    assert [(j.trigger, j.idempotency_key) for j in made] == [
        (Trigger.CRON, "cron:tick:2027-01-15T08:01:00.000Z")]
    assert next_due == start + 2 * MINUTE
    assert context.store.get_schedule("tick").next_fire == start + 2 * MINUTE
    assert context.schedules.fire_due(start + MINUTE + 1) == ([], start + 2 * MINUTE)
