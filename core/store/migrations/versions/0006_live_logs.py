"""Live logs: the chunks of output that running attempts have printed so far.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_chunks",
        sa.Column("job_id", sa.String(26), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("stream", sa.String(6), primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_chunks")
