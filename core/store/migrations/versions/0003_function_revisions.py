"""Function revisions in a table of their own, instead of a copy of the spec in every job.

Before this, a function deleted and created again started at revision 1 again, so one
(name, revision) may stand for several specs among the jobs. Each spec keeps its number
where it is the function's current one, or the first seen; the others get new numbers,
above every number the name had, and their jobs follow them.

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_functions = sa.table("functions", sa.column("name"), sa.column("revision"),
                      sa.column("spec", sa.JSON), sa.column("updated_at"))
_jobs = sa.table("jobs", sa.column("id"), sa.column("function"), sa.column("revision"),
                 sa.column("spec", sa.JSON), sa.column("created_at"))
_revisions = sa.table("function_revisions", sa.column("name"), sa.column("revision"),
                      sa.column("spec", sa.JSON), sa.column("created_at"))


def _same(spec) -> str:
    return json.dumps(spec, sort_keys=True)


def upgrade() -> None:
    op.create_table(
        "function_revisions",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    connection = op.get_bind()
    kept: dict[tuple[str, int], dict] = {}
    for row in connection.execute(sa.select(_functions)):
        kept[(row.name, row.revision)] = {"spec": row.spec, "created_at": row.updated_at,
                                          "same": _same(row.spec)}
    renumbered: dict[tuple[str, str], dict] = {}
    rows = connection.execute(sa.select(_jobs).order_by(_jobs.c.created_at)
                              .execution_options(stream_results=True))
    for row in rows:
        key, same = (row.function, row.revision), _same(row.spec)
        first = kept.setdefault(key, {"spec": row.spec, "created_at": row.created_at,
                                      "same": same})
        if first["same"] != same:
            renumbered.setdefault((row.function, same), {
                "spec": row.spec, "created_at": row.created_at, "jobs": []})["jobs"].append(row.id)
    highest: dict[str, int] = {}
    for name, number in kept:
        highest[name] = max(number, highest.get(name, 0))
    for (name, _same_spec), found in renumbered.items():
        highest[name] += 1
        kept[(name, highest[name])] = found
        connection.execute(_jobs.update().where(_jobs.c.id.in_(found["jobs"]))
                           .values(revision=highest[name]))
    if kept:
        connection.execute(_revisions.insert(), [
            {"name": name, "revision": number, "spec": found["spec"],
             "created_at": found["created_at"]}
            for (name, number), found in kept.items()])
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("spec")
    with op.batch_alter_table("functions") as batch:
        batch.drop_column("spec")


def downgrade() -> None:
    with op.batch_alter_table("functions") as batch:
        batch.add_column(sa.Column("spec", sa.JSON))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("spec", sa.JSON))
    connection = op.get_bind()
    for table, name in ((_functions, _functions.c.name), (_jobs, _jobs.c.function)):
        connection.execute(table.update().values(spec=sa.select(_revisions.c.spec).where(
            _revisions.c.name == name, _revisions.c.revision == table.c.revision
        ).scalar_subquery()))
    for table in ("functions", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("spec", existing_type=sa.JSON, nullable=False)
    op.drop_table("function_revisions")
