"""Purchase orders a company sends its suppliers to restock products, and their lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import PurchaseOrderStatus
from ils.domain.models import shared
from ils.domain.models.columns import str_enum
from ils.domain.models.shared import CompanyOwned, document_number, not_negative, owned_children
from ils.domain.models.types import Money, UtcDateTime, utcnow

purchase_order_number = document_number("PO")  # PO-000042


class PurchaseOrder(CompanyOwned, Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("company_id", "number", name="uq_purchase_orders_company_number"),
        *not_negative("total"),
    )

    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[PurchaseOrderStatus] = mapped_column(
        str_enum(PurchaseOrderStatus), default=PurchaseOrderStatus.draft
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    lines: Mapped[list[PurchaseOrderLine]] = owned_children(
        "purchase_order", "PurchaseOrderLine.id"
    )


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = shared.line_checks("unit_cost")

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = shared.owner_key("purchase_orders")
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column()
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    line_total: Mapped[Decimal] = mapped_column(Money())

    purchase_order: Mapped[PurchaseOrder] = shared.owner("lines")
