"""Purchase orders a company sends its suppliers to restock products, and their lines."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ils.domain.db import Base
from ils.domain.models.columns import str_enum
from ils.domain.models.types import Money, UtcDateTime, utcnow


class PurchaseOrderStatus(enum.StrEnum):
    draft = "draft"
    sent = "sent"
    received = "received"
    cancelled = "cancelled"


def purchase_order_number(sequence: int) -> str:
    """The display number of a company's ``sequence``-th purchase order, e.g. ``PO-000042``."""
    return f"PO-{sequence:06d}"


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("company_id", "number", name="uq_purchase_orders_company_number"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
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

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PurchaseOrderLine.id",
        lazy="selectin",
    )


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
        CheckConstraint("line_total >= 0", name="line_total_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column()
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    line_total: Mapped[Decimal] = mapped_column(Money())

    purchase_order: Mapped[PurchaseOrder] = relationship(
        back_populates="lines", lazy="raise_on_sql"
    )
