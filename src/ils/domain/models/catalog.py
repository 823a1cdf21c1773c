"""The product catalogue of a company: lenses, frames, coatings and accessories with their
prices, costs and stock, and the suppliers they are bought from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ils.domain.base import Base
from ils.domain.enums import ProductKind
from ils.domain.models.columns import RefractiveIndex, str_enum
from ils.domain.models.shared import CompanyOwned, not_negative
from ils.domain.models.types import Money, UtcDateTime, utcnow


class Supplier(CompanyOwned, Base):
    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
        UniqueConstraint("company_id", "name", name="uq_suppliers_company_name"),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    lead_time_days: Mapped[int] = mapped_column(default=7)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Product(CompanyOwned, Base):
    """Something a company sells or uses. Lenses also say their material, design and index."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("company_id", "sku", name="uq_products_company_sku"),
        *not_negative("price", "cost", "stock", "reorder_threshold"),
        Index("ix_products_company_kind", "company_id", "kind"),
    )

    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProductKind] = mapped_column(str_enum(ProductKind))
    supplier_id: Mapped[int | None] = mapped_column(
        ForeignKey("suppliers.id", ondelete="SET NULL"), index=True
    )
    price: Mapped[Decimal] = mapped_column(Money())
    cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    stock: Mapped[int] = mapped_column(default=0)
    reorder_threshold: Mapped[int] = mapped_column(default=0)
    material: Mapped[str | None] = mapped_column(String(60))
    design: Mapped[str | None] = mapped_column(String(60))
    lens_index: Mapped[Decimal | None] = mapped_column(RefractiveIndex())
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    supplier: Mapped[Supplier | None] = relationship(lazy="raise_on_sql")

    @property
    def needs_reorder(self) -> bool:
        return self.active and self.stock <= self.reorder_threshold
