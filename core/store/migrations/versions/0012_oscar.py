"""Whether a job was invoked synchronously: OSCAR's face lists only the others, as OSCAR
lists only the Kubernetes Jobs its asynchronous invocations make.

Revision ID: 0012_oscar
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_oscar"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("synchronous", sa.Boolean, nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("synchronous")
