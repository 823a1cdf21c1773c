"""The outbox keeps each job's company, so a company's admin lists only its own pending jobs.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-06 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_outbox") as batch:
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_job_outbox_company", "job_outbox", ["company_id", "relayed_at", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_job_outbox_company", table_name="job_outbox")
    with op.batch_alter_table("job_outbox") as batch:
        batch.drop_column("company_id")
