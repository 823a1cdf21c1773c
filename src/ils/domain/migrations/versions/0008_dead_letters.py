"""Dead letters: jobs that failed for good, one row per queue and job id, kept for inspection,
replay (``replayed_as``) and discarding.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("stack", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_as", sa.String(length=40), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job_dead_letters"),
        sa.UniqueConstraint("queue", "job_id", name="uq_job_dead_letters_queue"),
    )
    op.create_index("ix_job_dead_letters_last_failed", "job_dead_letters", ["last_failed_at"])
    op.create_index(
        "ix_job_dead_letters_company", "job_dead_letters", ["company_id", "last_failed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_job_dead_letters_company", table_name="job_dead_letters")
    op.drop_index("ix_job_dead_letters_last_failed", table_name="job_dead_letters")
    op.drop_table("job_dead_letters")
