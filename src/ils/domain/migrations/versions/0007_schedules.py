"""Schedules (named recurring jobs of a company or of the platform) and a company's active flag;
every trading company gets its default schedules, the platform its hourly retention and an hourly
full sync of the job schedulers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
# The defaults as this revision made them (later changes to the code's defaults apply to
# companies created after them, not here).
COMPANY_DEFAULTS = (
    ("nightly anomaly scan", "nightly-anomaly-scan", "0 3 * * *"),
    ("weekly demand forecast", "weekly-demand-forecast", "0 5 * * 1"),
    ("daily briefing", "daily-briefing", "0 8 * * *"),
    ("failed jobs digest", "failed-jobs-digest", "0 7 * * *"),
)
PLATFORM_DEFAULTS = (
    ("retention", "retention", "0 * * * *", "run_once"),
    ("schedules sync", "sync-schedules", "30 * * * *", "skip"),
)


def upgrade() -> None:
    with op.batch_alter_table("companies") as batch:
        batch.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    schedules = op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("job_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("every_s", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "missed_run",
            sa.Enum("run_once", "skip", name="missedrun", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("last_run_at", TIMESTAMP, nullable=True),
        sa.Column("last_job_id", sa.String(length=120), nullable=True),
        sa.Column("next_run_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "(cron IS NULL) <> (every_s IS NULL)", name=op.f("ck_schedules_one_recurrence")
        ),
        sa.CheckConstraint(
            "every_s IS NULL OR every_s > 0", name=op.f("ck_schedules_every_s_positive")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_schedules_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_schedules_company_id")),
    )  # fmt: skip
    op.create_index(op.f("ix_schedules_company_id"), "schedules", ["company_id"], unique=False)
    _defaults(schedules)


def _defaults(schedules: sa.Table) -> None:
    # INSERT ... SELECT, so the offline mode (``alembic upgrade --sql``) writes it too.
    columns = (
        "company_id, name, job_type, payload, cron, enabled, missed_run, created_at, updated_at"
    )
    common = "'{}', '%s', TRUE, '%s', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
    for name, job_type, cron in COMPANY_DEFAULTS:
        values = f"id, '{name}', '{job_type}', {common % (cron, 'run_once')}"
        op.execute(
            f"INSERT INTO {schedules.name} ({columns}) "
            f"SELECT {values} FROM companies WHERE kind != 'platform'"
        )
    for name, job_type, cron, missed in PLATFORM_DEFAULTS:
        op.execute(
            f"INSERT INTO {schedules.name} ({columns}) "
            f"VALUES (NULL, '{name}', '{job_type}', {common % (cron, missed)})"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_schedules_company_id"), table_name="schedules")
    op.drop_table("schedules")
    with op.batch_alter_table("companies") as batch:
        batch.drop_column("is_active")
