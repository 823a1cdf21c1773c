"""Spectacle orders and their lines: the patient's Rx and frame measurements, the order's way
from pending to delivered (the allowed status transitions live here), shipping and totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import Eye, LineKind, OrderStatus
from ils.domain.models import shared
from ils.domain.models.columns import Millimeters, str_enum
from ils.domain.models.rx import RxColumns, rx_checks
from ils.domain.models.shared import CompanyOwned, document_number, not_negative, owned_children
from ils.domain.models.types import Money, UtcDateTime, to_money, utcnow
from ils.errors import IlsJobsError

# Where an order may go from each status. A failed quality check sends the job back to
# production; once shipped an order can no longer be cancelled, only delivered.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.pending: frozenset({OrderStatus.in_production, OrderStatus.cancelled}),
    OrderStatus.in_production: frozenset({OrderStatus.quality_check, OrderStatus.cancelled}),
    OrderStatus.quality_check: frozenset(
        {OrderStatus.shipped, OrderStatus.in_production, OrderStatus.cancelled}
    ),
    OrderStatus.shipped: frozenset({OrderStatus.delivered}),
    OrderStatus.delivered: frozenset(),
    OrderStatus.cancelled: frozenset(),
}


class InvalidStatusTransition(IlsJobsError):
    """An order was asked to move to a status its current one does not lead to."""

    def __init__(self, current: OrderStatus, wanted: OrderStatus) -> None:
        self.current = current
        self.wanted = wanted
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        super().__init__(f"order cannot go from {current} to {wanted} (allowed: {allowed})")


order_number = document_number("ORD")  # ORD-000123


class Order(RxColumns, CompanyOwned, Base):
    __tablename__ = "orders"
    __table_args__ = (
        *rx_checks(),
        UniqueConstraint("company_id", "number", name="uq_orders_company_number"),
        *not_negative("subtotal", "tax", "total"),
        Index("ix_orders_company_status", "company_id", "status"),
        Index("ix_orders_company_created", "company_id", "created_at"),
    )

    number: Mapped[str] = mapped_column(String(20))
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL"), index=True
    )
    customer_name: Mapped[str] = mapped_column(String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus), default=OrderStatus.pending)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    carrier: Mapped[str | None] = mapped_column(String(60))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    tray_number: Mapped[str | None] = mapped_column(String(20))
    special_instructions: Mapped[str | None] = mapped_column(Text)
    frame_a: Mapped[Decimal | None] = mapped_column(Millimeters())
    frame_b: Mapped[Decimal | None] = mapped_column(Millimeters())
    frame_dbl: Mapped[Decimal | None] = mapped_column(Millimeters())
    frame_ed: Mapped[Decimal | None] = mapped_column(Millimeters())
    subtotal: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    tax: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = owned_children("order", "OrderLine.id")

    def can_transition(self, to: OrderStatus) -> bool:
        return to in TRANSITIONS[self.status or OrderStatus.pending]

    def transition(self, to: OrderStatus, at: dt.datetime | None = None) -> None:
        """Move to ``to``, stamping ``shipped_at``/``delivered_at``; refuses a move not allowed."""
        current = self.status or OrderStatus.pending
        if not self.can_transition(to):
            raise InvalidStatusTransition(current, to)
        moment = at or utcnow()
        if to is OrderStatus.shipped:
            self.shipped_at = moment
        elif to is OrderStatus.delivered:
            self.delivered_at = moment
        self.status = to

    def recompute_totals(self, tax_rate_percent: Decimal) -> None:
        """Subtotal from the lines, tax at ``tax_rate_percent`` rounded to the cent, total."""
        self.subtotal = to_money(sum((line.line_total for line in self.lines), Decimal(0)))
        self.tax = to_money(self.subtotal * tax_rate_percent / 100)
        self.total = self.subtotal + self.tax


class OrderLine(shared.SoldLine, Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = shared.owner_key("orders")
    kind: Mapped[LineKind] = mapped_column(str_enum(LineKind), sort_order=2)
    eye: Mapped[Eye | None] = mapped_column(str_enum(Eye, 10), sort_order=4)

    order: Mapped[Order] = shared.owner("lines")
