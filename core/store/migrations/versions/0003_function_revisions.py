"""Function revisions in a table of their own, instead of a copy of the spec in every job.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_functions = sa.table("functions", sa.column("name"), sa.column("revision"),
                      sa.column("spec", sa.JSON), sa.column("updated_at"))
_jobs = sa.table("jobs", sa.column("function"), sa.column("revision"),
                 sa.column("spec", sa.JSON), sa.column("created_at"))
_revisions = sa.table("function_revisions", sa.column("name"), sa.column("revision"),
                      sa.column("spec", sa.JSON), sa.column("created_at"))


def upgrade() -> None:
    op.create_table(
        "function_revisions",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    connection = op.get_bind()
    known = {}
    for row in connection.execute(sa.select(_functions)):
        known[(row.name, row.revision)] = {"spec": row.spec, "created_at": row.updated_at}
    # Jobs may still be queued on revisions that were replaced since: their copies of the
    # spec are the only record of those.
    for row in connection.execute(sa.select(_jobs).order_by(_jobs.c.created_at)):
        known.setdefault((row.function, row.revision),
                         {"spec": row.spec, "created_at": row.created_at})
    if known:
        connection.execute(_revisions.insert(), [
            {"name": name, "revision": number, **values}
            for (name, number), values in known.items()])
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
    op.drop_table("function_revisions")
