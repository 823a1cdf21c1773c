"""OMA lab files: one row per process-oma-file job (unique job id), linked to its company and
order, with the original's storage key and checksum, the parsed data, traces and issues.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oma_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("job_ref", sa.String(length=80), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("traces", sa.JSON(), nullable=False),
        sa.Column("issues", sa.JSON(), nullable=False),
        sa.Column("svg_path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_oma_files_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_oma_files_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oma_files")),
        sa.UniqueConstraint("job_id", name=op.f("uq_oma_files_job_id")),
    )
    op.create_index(op.f("ix_oma_files_company_id"), "oma_files", ["company_id"])
    op.create_index("ix_oma_files_order", "oma_files", ["order_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_oma_files_order", table_name="oma_files")
    op.drop_index(op.f("ix_oma_files_company_id"), table_name="oma_files")
    op.drop_table("oma_files")
