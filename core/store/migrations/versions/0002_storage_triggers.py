"""Jobs started by storage events: the object they came from, the event, the chain depth.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("depth", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("source_bucket", sa.String(63)))
        batch.add_column(sa.Column("source_key", sa.String(1024)))
        batch.add_column(sa.Column("source_version", sa.String(255)))
        batch.add_column(sa.Column("event", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in ("event", "source_version", "source_key", "source_bucket", "depth"):
            batch.drop_column(column)
