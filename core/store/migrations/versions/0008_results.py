"""Results: what functions publish while they run, kept until they expire.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "results",
        sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(26), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_results_job_sequence", "results", ["job_id", "sequence"])
    op.create_index("ix_results_expires", "results", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_results_expires", "results")
    op.drop_index("ix_results_job_sequence", "results")
    op.drop_table("results")
