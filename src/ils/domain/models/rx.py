"""The prescription (Rx) columns an examination records and an order carries, per eye, with the
rules they obey: axis 0 to 180, add and prism not negative, pupillary distances positive."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.enums import PrismBase
from ils.domain.models.columns import Diopter, Millimeters, str_enum

EYES = ("right", "left")


class RxColumns:
    """Sphere, cylinder, axis, add and prism (with its base) for each eye, and the pupillary
    distance: binocular, or monocular per eye. Every value is optional (plano, no prism)."""

    right_sphere: Mapped[Decimal | None] = mapped_column(Diopter())
    right_cylinder: Mapped[Decimal | None] = mapped_column(Diopter())
    right_axis: Mapped[int | None] = mapped_column()
    right_add: Mapped[Decimal | None] = mapped_column(Diopter())
    right_prism: Mapped[Decimal | None] = mapped_column(Diopter())
    right_prism_base: Mapped[PrismBase | None] = mapped_column(str_enum(PrismBase, 10))
    left_sphere: Mapped[Decimal | None] = mapped_column(Diopter())
    left_cylinder: Mapped[Decimal | None] = mapped_column(Diopter())
    left_axis: Mapped[int | None] = mapped_column()
    left_add: Mapped[Decimal | None] = mapped_column(Diopter())
    left_prism: Mapped[Decimal | None] = mapped_column(Diopter())
    left_prism_base: Mapped[PrismBase | None] = mapped_column(str_enum(PrismBase, 10))
    pd_binocular: Mapped[Decimal | None] = mapped_column(Millimeters())
    pd_right: Mapped[Decimal | None] = mapped_column(Millimeters())
    pd_left: Mapped[Decimal | None] = mapped_column(Millimeters())


def rx_checks() -> tuple[CheckConstraint, ...]:
    """The CHECK constraints of :class:`RxColumns`, for the ``__table_args__`` of its users."""
    checks: list[CheckConstraint] = []
    for eye in EYES:
        checks += [
            CheckConstraint(f"{eye}_axis BETWEEN 0 AND 180", name=f"{eye}_axis_range"),
            CheckConstraint(f"{eye}_add >= 0", name=f"{eye}_add_not_negative"),
            CheckConstraint(f"{eye}_prism >= 0", name=f"{eye}_prism_not_negative"),
        ]
    for column in ("pd_binocular", "pd_right", "pd_left"):
        checks.append(CheckConstraint(f"{column} > 0", name=f"{column}_positive"))
    return tuple(checks)
