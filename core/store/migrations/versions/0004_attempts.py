"""Every attempt of a job kept; indexes for queue limits and retention; how many times the function's own policy retried it (apart
from the platform's retries), and after which attempt it was last run again by hand.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("retries", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("resumed_after", sa.Integer, nullable=False,
                                   server_default="0"))
    op.create_index("ix_jobs_function_status", "jobs", ["function", "status"])
    op.create_index("ix_jobs_function_finished", "jobs", ["function", "finished_at"])
    op.create_table(
        "attempts",
        sa.Column("job_id", sa.String(26), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(255)),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("reason", sa.String(16)),
        sa.Column("error", sa.Text),
        sa.Column("cpu_seconds", sa.Float),
        sa.Column("peak_memory", sa.BigInteger),
        sa.Column("stdout_ref", sa.String(1100)),
        sa.Column("stderr_ref", sa.String(1100)),
    )


def downgrade() -> None:
    op.drop_table("attempts")
    op.drop_index("ix_jobs_function_finished", "jobs")
    op.drop_index("ix_jobs_function_status", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("resumed_after")
        batch.drop_column("retries")
