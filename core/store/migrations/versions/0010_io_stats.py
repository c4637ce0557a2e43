"""What a job's function read from and wrote to block devices, on the job and on each of
its attempts (null for the rows from before, as where nothing can measure it).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
COLUMNS = ("io_read_bytes", "io_write_bytes")


def upgrade() -> None:
    for table in ("jobs", "attempts"):
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.add_column(sa.Column(column, sa.BigInteger))


def downgrade() -> None:
    for table in ("jobs", "attempts"):
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.drop_column(column)
