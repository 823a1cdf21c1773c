"""What many tables share: the id and owning company of a company's row, a parent's list of the
children it owns and a child's key to its owner, the CHECKs of amounts and of a document's lines,
the columns of a line of what a company sells, and document numbers."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from ils.domain.models.types import Money


class CompanyOwned:
    """A row of one company: its ``id`` and its ``company_id`` (indexed), the table's first two
    columns. Only the owning company sees it (``ils.web.auth.get_owned`` checks ``company_id``)."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-2)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True, sort_order=-1)


def owned_children(
    back_populates: str, order_by: str, lazy: Literal["selectin", "raise_on_sql"] = "selectin"
) -> Any:
    """A parent's children, in ``order_by`` order: saved and deleted with the parent (the
    children's foreign key cascades on the database, so deleting need not load them)."""
    return relationship(
        back_populates=back_populates,
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=order_by,
        lazy=lazy,
    )


def owner_key(table: str) -> Any:
    """A child's foreign key to the row of ``table`` that owns it: indexed, and deleted with it
    on the database (ON DELETE CASCADE)."""
    return mapped_column(ForeignKey(f"{table}.id", ondelete="CASCADE"), index=True)


def owner(back_populates: str) -> Any:
    """A child's owner, the other side of :func:`owned_children`: never loaded by lazy SQL."""
    return relationship(back_populates=back_populates, lazy="raise_on_sql")


def not_negative(*columns: str) -> tuple[CheckConstraint, ...]:
    """A CHECK ``<column> >= 0`` named ``<column>_not_negative`` for each column."""
    return tuple(CheckConstraint(f"{c} >= 0", name=f"{c}_not_negative") for c in columns)


def line_checks(price: str) -> tuple[CheckConstraint, ...]:
    """The CHECKs of a document's line: a positive quantity, its ``price`` column (unit price or
    cost) and its total not negative."""
    positive = CheckConstraint("quantity > 0", name="quantity_positive")
    return (positive, *not_negative(price, "line_total"))


class SoldLine:
    """A line of what a company sells, as an order carries it and its invoice copies it: the
    product (the line stays when the product is deleted), the description, quantity, unit price
    and total, with the CHECKs of :func:`line_checks`.

    Its columns follow the table's own id and owner key: the product (``sort_order`` 1), then the
    rest (3); a table's own column may stand between them (2) or after them (4)."""

    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), index=True, sort_order=1
    )
    description: Mapped[str] = mapped_column(String(300), sort_order=3)
    quantity: Mapped[int] = mapped_column(default=1, sort_order=3)
    unit_price: Mapped[Decimal] = mapped_column(Money(), sort_order=3)
    line_total: Mapped[Decimal] = mapped_column(Money(), sort_order=3)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[CheckConstraint, ...]:  # noqa: N805
        return line_checks("unit_price")


def document_number(prefix: str) -> Callable[[int], str]:
    """The display number of a company's ``sequence``-th document of a kind: ``PREFIX-000042``."""

    def number(sequence: int) -> str:
        return f"{prefix}-{sequence:06d}"

    return number
