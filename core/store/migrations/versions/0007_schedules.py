"""Schedules: each scheduled function's next fire time, shared by every listener.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("function", sa.String(63), primary_key=True),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("next_fire", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedules")
