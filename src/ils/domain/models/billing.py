"""Invoices (with their lines) a company issues, usually for an order, and the payments that
settle them. Tax rates are exact percentages; every amount is exact money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import InvoiceStatus, PaymentMethod
from ils.domain.models import shared
from ils.domain.models.columns import Percent, str_enum
from ils.domain.models.shared import CompanyOwned, document_number, not_negative, owned_children
from ils.domain.models.types import Money, UtcDateTime, utcnow

invoice_number = document_number("INV")  # INV-000042


class Invoice(CompanyOwned, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("company_id", "number", name="uq_invoices_company_number"),
        # Only sign checks on exact decimals: SQLite stores them as integer units, so a bound
        # such as "<= 100" would mean different things on the two databases.
        *not_negative("subtotal", "tax_rate", "tax", "total", "amount_paid"),
        Index("ix_invoices_company_status", "company_id", "status"),
    )

    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[InvoiceStatus] = mapped_column(
        str_enum(InvoiceStatus), default=InvoiceStatus.draft
    )
    issued_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    billing_name: Mapped[str] = mapped_column(String(200))
    billing_address: Mapped[str | None] = mapped_column(Text)
    subtotal: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    tax_rate: Mapped[Decimal] = mapped_column(Percent(), default=Decimal("0.000"))
    tax: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    amount_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    payment_terms: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    lines: Mapped[list[InvoiceLine]] = owned_children("invoice", "InvoiceLine.id")

    @property
    def balance_due(self) -> Decimal:
        return self.total - self.amount_paid


class InvoiceLine(shared.SoldLine, Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = shared.owner_key("invoices")

    invoice: Mapped[Invoice] = shared.owner("lines")


class Payment(CompanyOwned, Base):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod))
    paid_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
