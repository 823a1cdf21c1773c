"""Initial schema: every domain table and the job outbox.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 14:22:06.106748

Enums are stored as VARCHAR (non-native, no CHECK), money and Rx values as exact decimals
(integer units on SQLite), timestamps with time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def fixed(precision: int, scale: int) -> sa.types.TypeEngine[Any]:
    """Exact decimals as the models store them: NUMERIC on PostgreSQL, integer units on SQLite."""
    return sa.Numeric(precision, scale).with_variant(sa.Integer(), "sqlite")


MONEY = fixed(14, 2)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("brand_color", sa.String(length=7), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("slug", name=op.f("uq_companies_slug")),
    )
    op.create_table(
        "ai_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("for_date", sa.Date(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_ai_results_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_results")),
        sa.UniqueConstraint("job_id", name=op.f("uq_ai_results_job_id")),
    )
    op.create_index(op.f("ix_ai_results_company_id"), "ai_results", ["company_id"], unique=False)
    op.create_index(
        "ix_ai_results_company_kind_date",
        "ai_results",
        ["company_id", "kind", "for_date"],
        unique=False,
    )

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_patients_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_index(op.f("ix_patients_company_id"), "patients", ["company_id"], unique=False)
    op.create_index(
        "ix_patients_company_name",
        "patients",
        ["company_id", "last_name", "first_name"],
        unique=False,
    )

    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_suppliers_lead_time_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_suppliers_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("company_id", "name", name="uq_suppliers_company_name"),
    )
    op.create_index(op.f("ix_suppliers_company_id"), "suppliers", ["company_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_login_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_users_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_company_id"), "users", ["company_id"], unique=False)

    op.create_table(
        "ai_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_ai_conversations_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ai_conversations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_conversations")),
    )
    op.create_index(
        op.f("ix_ai_conversations_company_id"), "ai_conversations", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_ai_conversations_user_id"), "ai_conversations", ["user_id"], unique=False
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=50), nullable=True),
        sa.Column("target_id", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_audit_log_company_id_companies")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_company_id"), "audit_log", ["company_id"], unique=False)
    op.create_index(op.f("ix_audit_log_user_id"), "audit_log", ["user_id"], unique=False)

    op.create_table(
        "examinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("examiner_user_id", sa.Integer(), nullable=True),
        sa.Column("examined_at", TIMESTAMP, nullable=False),
        sa.Column("right_va", sa.String(length=12), nullable=True),
        sa.Column("left_va", sa.String(length=12), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recall_due", sa.Date(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("right_sphere", fixed(5, 2), nullable=True),
        sa.Column("right_cylinder", fixed(5, 2), nullable=True),
        sa.Column("right_axis", sa.Integer(), nullable=True),
        sa.Column("right_add", fixed(5, 2), nullable=True),
        sa.Column("right_prism", fixed(5, 2), nullable=True),
        sa.Column(
            "right_prism_base",
            sa.String(length=10),
            nullable=True,
        ),
        sa.Column("left_sphere", fixed(5, 2), nullable=True),
        sa.Column("left_cylinder", fixed(5, 2), nullable=True),
        sa.Column("left_axis", sa.Integer(), nullable=True),
        sa.Column("left_add", fixed(5, 2), nullable=True),
        sa.Column("left_prism", fixed(5, 2), nullable=True),
        sa.Column(
            "left_prism_base",
            sa.String(length=10),
            nullable=True,
        ),
        sa.Column("pd_binocular", fixed(5, 2), nullable=True),
        sa.Column("pd_right", fixed(5, 2), nullable=True),
        sa.Column("pd_left", fixed(5, 2), nullable=True),
        sa.CheckConstraint("left_add >= 0", name=op.f("ck_examinations_left_add_not_negative")),
        sa.CheckConstraint(
            "left_axis BETWEEN 0 AND 180", name=op.f("ck_examinations_left_axis_range")
        ),
        sa.CheckConstraint("left_prism >= 0", name=op.f("ck_examinations_left_prism_not_negative")),
        sa.CheckConstraint("pd_binocular > 0", name=op.f("ck_examinations_pd_binocular_positive")),
        sa.CheckConstraint("pd_left > 0", name=op.f("ck_examinations_pd_left_positive")),
        sa.CheckConstraint("pd_right > 0", name=op.f("ck_examinations_pd_right_positive")),
        sa.CheckConstraint("right_add >= 0", name=op.f("ck_examinations_right_add_not_negative")),
        sa.CheckConstraint(
            "right_axis BETWEEN 0 AND 180", name=op.f("ck_examinations_right_axis_range")
        ),
        sa.CheckConstraint(
            "right_prism >= 0", name=op.f("ck_examinations_right_prism_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_examinations_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["examiner_user_id"],
            ["users.id"],
            name=op.f("fk_examinations_examiner_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_examinations_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_examinations")),
    )
    op.create_index(
        op.f("ix_examinations_company_id"), "examinations", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_examinations_examiner_user_id"), "examinations", ["examiner_user_id"], unique=False
    )
    op.create_index(
        "ix_examinations_patient_examined",
        "examinations",
        ["patient_id", "examined_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_examinations_recall_due"), "examinations", ["recall_due"], unique=False
    )

    op.create_table(
        "marketplace_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_company_id", sa.Integer(), nullable=False),
        sa.Column("target_company_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("responded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("responded_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "requester_company_id <> target_company_id",
            name=op.f("ck_marketplace_connections_not_self"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_marketplace_connections_requested_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_company_id"],
            ["companies.id"],
            name=op.f("fk_marketplace_connections_requester_company_id_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["responded_by_user_id"],
            ["users.id"],
            name=op.f("fk_marketplace_connections_responded_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_company_id"],
            ["companies.id"],
            name=op.f("fk_marketplace_connections_target_company_id_companies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_connections")),
        sa.UniqueConstraint(
            "requester_company_id", "target_company_id", name="uq_marketplace_connections_pair"
        ),
    )
    op.create_index(
        op.f("ix_marketplace_connections_requested_by_user_id"),
        "marketplace_connections",
        ["requested_by_user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketplace_connections_requester_company_id"),
        "marketplace_connections",
        ["requester_company_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketplace_connections_responded_by_user_id"),
        "marketplace_connections",
        ["responded_by_user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketplace_connections_target_company_id"),
        "marketplace_connections",
        ["target_company_id"],
        unique=False,
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "priority",
            sa.String(length=10),
            nullable=False,
        ),
        sa.Column("action_url", sa.String(length=500), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("read_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_notifications_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("job_id", name=op.f("uq_notifications_job_id")),
    )
    op.create_index(
        "ix_notifications_company_created",
        "notifications",
        ["company_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_notifications_company_id"), "notifications", ["company_id"], unique=False
    )
    op.create_index(op.f("ix_notifications_user_id"), "notifications", ["user_id"], unique=False)
    op.create_index(
        "ix_notifications_user_unread", "notifications", ["user_id", "read_at"], unique=False
    )

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("carrier", sa.String(length=60), nullable=True),
        sa.Column("shipped_at", TIMESTAMP, nullable=True),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("tray_number", sa.String(length=20), nullable=True),
        sa.Column("special_instructions", sa.Text(), nullable=True),
        sa.Column("frame_a", fixed(5, 2), nullable=True),
        sa.Column("frame_b", fixed(5, 2), nullable=True),
        sa.Column("frame_dbl", fixed(5, 2), nullable=True),
        sa.Column("frame_ed", fixed(5, 2), nullable=True),
        sa.Column("subtotal", MONEY, nullable=False),
        sa.Column("tax", MONEY, nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("right_sphere", fixed(5, 2), nullable=True),
        sa.Column("right_cylinder", fixed(5, 2), nullable=True),
        sa.Column("right_axis", sa.Integer(), nullable=True),
        sa.Column("right_add", fixed(5, 2), nullable=True),
        sa.Column("right_prism", fixed(5, 2), nullable=True),
        sa.Column(
            "right_prism_base",
            sa.String(length=10),
            nullable=True,
        ),
        sa.Column("left_sphere", fixed(5, 2), nullable=True),
        sa.Column("left_cylinder", fixed(5, 2), nullable=True),
        sa.Column("left_axis", sa.Integer(), nullable=True),
        sa.Column("left_add", fixed(5, 2), nullable=True),
        sa.Column("left_prism", fixed(5, 2), nullable=True),
        sa.Column(
            "left_prism_base",
            sa.String(length=10),
            nullable=True,
        ),
        sa.Column("pd_binocular", fixed(5, 2), nullable=True),
        sa.Column("pd_right", fixed(5, 2), nullable=True),
        sa.Column("pd_left", fixed(5, 2), nullable=True),
        sa.CheckConstraint("left_add >= 0", name=op.f("ck_orders_left_add_not_negative")),
        sa.CheckConstraint("left_axis BETWEEN 0 AND 180", name=op.f("ck_orders_left_axis_range")),
        sa.CheckConstraint("left_prism >= 0", name=op.f("ck_orders_left_prism_not_negative")),
        sa.CheckConstraint("pd_binocular > 0", name=op.f("ck_orders_pd_binocular_positive")),
        sa.CheckConstraint("pd_left > 0", name=op.f("ck_orders_pd_left_positive")),
        sa.CheckConstraint("pd_right > 0", name=op.f("ck_orders_pd_right_positive")),
        sa.CheckConstraint("right_add >= 0", name=op.f("ck_orders_right_add_not_negative")),
        sa.CheckConstraint("right_axis BETWEEN 0 AND 180", name=op.f("ck_orders_right_axis_range")),
        sa.CheckConstraint("right_prism >= 0", name=op.f("ck_orders_right_prism_not_negative")),
        sa.CheckConstraint("subtotal >= 0", name=op.f("ck_orders_subtotal_not_negative")),
        sa.CheckConstraint("tax >= 0", name=op.f("ck_orders_tax_not_negative")),
        sa.CheckConstraint("total >= 0", name=op.f("ck_orders_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_orders_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_orders_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_orders_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("company_id", "number", name="uq_orders_company_number"),
    )
    op.create_index(
        "ix_orders_company_created", "orders", ["company_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_orders_company_id"), "orders", ["company_id"], unique=False)
    op.create_index("ix_orders_company_status", "orders", ["company_id", "status"], unique=False)
    op.create_index(
        op.f("ix_orders_created_by_user_id"), "orders", ["created_by_user_id"], unique=False
    )
    op.create_index(op.f("ix_orders_patient_id"), "orders", ["patient_id"], unique=False)

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("reorder_threshold", sa.Integer(), nullable=False),
        sa.Column("material", sa.String(length=60), nullable=True),
        sa.Column("design", sa.String(length=60), nullable=True),
        sa.Column("lens_index", fixed(4, 2), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("cost >= 0", name=op.f("ck_products_cost_not_negative")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price_not_negative")),
        sa.CheckConstraint(
            "reorder_threshold >= 0", name=op.f("ck_products_reorder_threshold_not_negative")
        ),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_products_stock_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_products_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_products_supplier_id_suppliers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("company_id", "sku", name="uq_products_company_sku"),
    )
    op.create_index(op.f("ix_products_company_id"), "products", ["company_id"], unique=False)
    op.create_index("ix_products_company_kind", "products", ["company_id", "kind"], unique=False)
    op.create_index(op.f("ix_products_supplier_id"), "products", ["supplier_id"], unique=False)

    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=True),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("total >= 0", name=op.f("ck_purchase_orders_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_purchase_orders_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_purchase_orders_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("company_id", "number", name="uq_purchase_orders_company_number"),
    )
    op.create_index(
        op.f("ix_purchase_orders_company_id"), "purchase_orders", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_purchase_orders_created_by_user_id"),
        "purchase_orders",
        ["created_by_user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_purchase_orders_supplier_id"), "purchase_orders", ["supplier_id"], unique=False
    )

    op.create_table(
        "ai_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.String(length=10),
            nullable=False,
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["ai_conversations.id"],
            name=op.f("fk_ai_messages_conversation_id_ai_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_messages")),
        sa.UniqueConstraint("job_id", name=op.f("uq_ai_messages_job_id")),
    )
    op.create_index(
        op.f("ix_ai_messages_conversation_id"), "ai_messages", ["conversation_id"], unique=False
    )

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("issued_at", TIMESTAMP, nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("billing_name", sa.String(length=200), nullable=False),
        sa.Column("billing_address", sa.Text(), nullable=True),
        sa.Column("subtotal", MONEY, nullable=False),
        sa.Column("tax_rate", fixed(6, 3), nullable=False),
        sa.Column("tax", MONEY, nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("amount_paid", MONEY, nullable=False),
        sa.Column("payment_terms", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount_paid >= 0", name=op.f("ck_invoices_amount_paid_not_negative")),
        sa.CheckConstraint("subtotal >= 0", name=op.f("ck_invoices_subtotal_not_negative")),
        sa.CheckConstraint("tax >= 0", name=op.f("ck_invoices_tax_not_negative")),
        sa.CheckConstraint("tax_rate >= 0", name=op.f("ck_invoices_tax_rate_not_negative")),
        sa.CheckConstraint("total >= 0", name=op.f("ck_invoices_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_invoices_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_invoices_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("company_id", "number", name="uq_invoices_company_number"),
    )
    op.create_index(op.f("ix_invoices_company_id"), "invoices", ["company_id"], unique=False)
    op.create_index(
        "ix_invoices_company_status", "invoices", ["company_id", "status"], unique=False
    )
    op.create_index(op.f("ix_invoices_order_id"), "invoices", ["order_id"], unique=False)

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("line_total", MONEY, nullable=False),
        sa.Column(
            "eye",
            sa.String(length=10),
            nullable=True,
        ),
        sa.CheckConstraint("line_total >= 0", name=op.f("ck_order_lines_line_total_not_negative")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_order_lines_unit_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_order_lines_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"], unique=False)
    op.create_index(op.f("ix_order_lines_product_id"), "order_lines", ["product_id"], unique=False)

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_cost", MONEY, nullable=False),
        sa.Column("line_total", MONEY, nullable=False),
        sa.CheckConstraint(
            "line_total >= 0", name=op.f("ck_purchase_order_lines_line_total_not_negative")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_cost >= 0", name=op.f("ck_purchase_order_lines_unit_cost_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_purchase_order_lines_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
    )
    op.create_index(
        op.f("ix_purchase_order_lines_product_id"),
        "purchase_order_lines",
        ["product_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_purchase_order_lines_purchase_order_id"),
        "purchase_order_lines",
        ["purchase_order_id"],
        unique=False,
    )

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("line_total", MONEY, nullable=False),
        sa.CheckConstraint(
            "line_total >= 0", name=op.f("ck_invoice_lines_line_total_not_negative")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_invoice_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_invoice_lines_unit_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_invoice_lines_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index(
        op.f("ix_invoice_lines_invoice_id"), "invoice_lines", ["invoice_id"], unique=False
    )
    op.create_index(
        op.f("ix_invoice_lines_product_id"), "invoice_lines", ["product_id"], unique=False
    )

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column(
            "method",
            sa.String(length=20),
            nullable=False,
        ),
        sa.Column("paid_at", TIMESTAMP, nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_payments_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_company_id"), "payments", ["company_id"], unique=False)
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)

    op.create_table(
        "job_outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("relay_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_outbox")),
    )
    op.create_index(
        "ix_job_outbox_pending", "job_outbox", ["relayed_at", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("job_outbox")
    op.drop_table("payments")
    op.drop_table("invoice_lines")
    op.drop_table("purchase_order_lines")
    op.drop_table("order_lines")
    op.drop_table("invoices")
    op.drop_table("ai_messages")
    op.drop_table("purchase_orders")
    op.drop_table("products")
    op.drop_table("orders")
    op.drop_table("notifications")
    op.drop_table("marketplace_connections")
    op.drop_table("examinations")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_table("ai_conversations")
    op.drop_table("users")
    op.drop_table("suppliers")
    op.drop_table("patients")
    op.drop_table("ai_results")
    op.drop_table("companies")
