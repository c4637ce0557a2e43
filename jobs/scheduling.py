"""Schedules as the job model sees them: firing what is due, once per tick whatever the
number of listeners, and the checks and next fire times the API shows.

A tick is submitted before its fire time is moved on: with the idempotency key
`cron:{function}:{fire time}`, a listener that dies in between, or two that see the same
tick, make one job. Ticks missed while no listener ran come to one job, for the latest."""

from __future__ import annotations

import dataclasses
import logging

from core import metrics
from core.catalog import FunctionCatalog
from core.errors import Invalid
from core.functions import Function
from core.jobs import Job, Trigger
from core.schedules import ScheduleError, with_time
from core.store import JobStore
from core.times import rfc3339
from jobs.submission import JobSubmitter

log = logging.getLogger(__name__)


def fire_key(function: str, fire_time: float) -> str:
    return f"{Trigger.CRON}:{function}:{rfc3339(fire_time)}"


class Schedules:
    def __init__(self, store: JobStore, catalog: FunctionCatalog, submitter: JobSubmitter):
        self.store, self.catalog, self.submitter = store, catalog, submitter

    def fire_due(self, now: float) -> tuple[list[Job], float | None]:
        """Submit a job for each schedule due at `now`. Returns the jobs this call made and
        when the next schedule is due (None when none is enabled). With no scheduled
        function this asks the store nothing: the function list is cached."""
        scheduled = [fn for fn in self.catalog.all() if fn.schedule and fn.schedule_enabled]
        if not scheduled:
            return [], None
        rows = self.store.schedule_rows()
        made, next_due = [], None
        for fn in scheduled:
            row = rows.get(fn.name)
            if row is None or row.schedule != fn.schedule.text or not row.enabled:
                continue  # deployed a moment ago: the cached list catches up within a second
            fire, following = fn.schedule.catch_up(row.next_fire, now)
            if fire is not None:
                job, created = self.submitter.submit(fn, trigger=Trigger.CRON,
                                                     idempotency_key=fire_key(fn.name, fire))
                self.store.advance_schedule(fn.name, row.next_fire, following)
                metrics.SCHEDULE_FIRES.labels(fn.name, "fired" if created else "duplicate").inc()
                if created:
                    log.info("%s fired for %s: job %s", fn.name, rfc3339(fire), job.id)
                    made.append(job)
            next_due = following if next_due is None else min(next_due, following)
        return made, next_due

    def refuse_past(self, functions: list[Function], now: float, *, many: bool) -> None:
        """Raise `Invalid` (422) for a new or changed schedule whose start has passed, as
        Abaco refuses one. An unchanged schedule is not checked again: it keeps its next
        fire time, whenever it started."""
        errors = []
        for fn in functions:
            if fn.schedule is None:
                continue
            row = self.store.get_schedule(fn.name)
            if row is not None and row.schedule == fn.schedule.text:
                continue
            try:
                fn.schedule.check_start(now)
            except ScheduleError as exc:
                errors.append({"path": f"functions.{fn.name}.schedule" if many else "schedule",
                               "message": with_time(str(exc), now)})
        if errors:
            raise Invalid("the function spec is invalid", errors=errors)

    def with_next_fire(self, functions: list[Function]) -> list[Function]:
        """The functions with the store's next fire time of each enabled schedule."""
        if not any(fn.schedule and fn.schedule_enabled for fn in functions):
            return functions
        rows = self.store.schedule_rows()

        def shown(fn: Function) -> Function:
            row = rows.get(fn.name)
            if fn.schedule and fn.schedule_enabled and row and row.schedule == fn.schedule.text:
                return dataclasses.replace(fn, next_fire=row.next_fire)
            return fn
        return [shown(fn) for fn in functions]
