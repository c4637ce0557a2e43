"""Migrations keep what a store held, on SQLite and PostgreSQL: up from the schema before
function revisions had a table of their own, and back down."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from core.functions import Function
from core.store import JobStore
from core.store.jobstore import MIGRATIONS

OLD = {"name": "f", "command": ["echo", "old"]}
CURRENT = {"name": "f", "command": ["echo", "current"]}
GONE = {"name": "g", "command": ["echo", "gone"]}
functions = sa.table("functions", sa.column("name"), sa.column("revision"),
                     sa.column("spec", sa.JSON), sa.column("token"),
                     sa.column("created_at"), sa.column("updated_at"))
jobs = sa.table("jobs", *(sa.column(c) for c in (
    "id", "function", "revision", "trigger", "status", "input_size", "attempts",
    "created_at", "bytes_in", "bytes_out", "depth")), sa.column("spec", sa.JSON))


@pytest.fixture
def empty_store(database_url):
    store = JobStore(database_url)
    yield store
    store.close()


def migrate(store: JobStore, target: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    def run(connection) -> None:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)
    store.db.write(run)


def job(job_id: str, function: str, revision: int, spec: dict, created_at: float) -> dict:
    return {"id": job_id, "function": function, "revision": revision, "trigger": "http",
            "status": "queued", "input_size": 0, "attempts": 0, "created_at": created_at,
            "bytes_in": 0, "bytes_out": 0, "depth": 0, "spec": spec}


def test_revisions_get_a_table_and_every_job_keeps_the_spec_it_was_invoked_with(empty_store):
    """`f` was deleted and created again (both at revision 1, as before revisions had
    their own numbers); `g` was deleted with a job still queued."""
    store, now = empty_store, time.time()
    migrate(store, "0002")
    store.db.write(lambda c: (
        c.execute(functions.insert().values(name="f", revision=1, spec=CURRENT, token="t",
                                            created_at=now, updated_at=now)),
        c.execute(jobs.insert(), [job("a-old", "f", 1, OLD, now - 20),
                                  job("b-current", "f", 1, CURRENT, now - 10),
                                  job("c-gone", "g", 2, GONE, now - 5)])))
    migrate(store, "head")
    runs = {j.id: store.get_revision(j.function, j.revision).spec["command"]
            for j in store.list_jobs(limit=10)}
    assert runs == {"a-old": ["echo", "old"], "b-current": ["echo", "current"],
                    "c-gone": ["echo", "gone"]}
    assert store.get_function("f").revision == 1
    assert store.get_job("a-old").revision == 2
    replaced = store.replace_function(Function.from_spec({**CURRENT, "command": ["echo", "3"]}))
    assert replaced.revision == 3, "a number a job holds is not given again"

    migrate(store, "0002", down=True)
    specs = dict(store.db.read(lambda c: c.execute(
        sa.select(jobs.c.id, jobs.c.spec)).all()))
    assert specs == {"a-old": OLD, "b-current": CURRENT, "c-gone": GONE}
    [(spec,)] = store.db.read(lambda c: c.execute(sa.select(functions.c.spec)).all())
    assert spec["command"] == ["echo", "3"]
