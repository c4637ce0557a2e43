"""Callbacks: where a job's record is POSTed when it ends, for which endings, and how its
delivery goes; an index of the deliveries still to make.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = sa.text("callback_state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("callback_url", sa.String(2048)))
        batch.add_column(sa.Column("callback_on", sa.String(64)))
        batch.add_column(sa.Column("callback_state", sa.String(16)))
        batch.add_column(sa.Column("callback_attempts", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("callback_error", sa.Text))
        batch.add_column(sa.Column("callback_due_at", sa.Float))
        batch.add_column(sa.Column("callback_delivered_at", sa.Float))
    op.create_index("ix_jobs_callback_due", "jobs", ["callback_due_at"],
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_jobs_callback_due", "jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in ("callback_delivered_at", "callback_due_at", "callback_error",
                       "callback_attempts", "callback_state", "callback_on", "callback_url"):
            batch.drop_column(column)
