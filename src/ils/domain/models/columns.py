"""Column types the domain models share beyond money and time: exact fixed-point decimals
(diopters, millimetres, percentages) and enums stored as their string values."""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from sqlalchemy import Dialect, Enum, Integer, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine


class Fixed(TypeDecorator[Decimal]):
    """An exact Decimal with ``scale`` places: NUMERIC(precision, scale) on PostgreSQL, an integer
    count of the smallest unit on SQLite (whose NUMERIC would round-trip through float).

    Values are rounded half-up to the scale on both databases; a value with more integer digits
    than ``precision - scale`` is refused on both, as PostgreSQL would refuse it. Because SQLite
    holds scaled integers, CHECK constraints on these columns compare with 0 only.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(self.quantum, rounding=ROUND_HALF_UP)
        if abs(exact) >= Decimal(10) ** (self.precision - self.scale):
            raise ValueError(f"{value} does not fit NUMERIC({self.precision}, {self.scale})")
        return int(exact.scaleb(self.scale)) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale).quantize(self.quantum)
        return Decimal(value).quantize(self.quantum)


# The fixed-point columns, each a Fixed of its precision and scale.
# Refraction powers (sphere, cylinder, add) and prism: two places, e.g. ``-2.25``.
Diopter = partial(Fixed, 5, 2)
# Lengths in millimetres (pupillary distance, frame A/B/DBL/ED): two places, e.g. ``31.5``.
Millimeters = partial(Fixed, 5, 2)
# A rate in percent with three places, e.g. ``8.875`` for a sales tax of 8.875 %.
Percent = partial(Fixed, 6, 3)
# A lens material's refractive index, e.g. ``1.67``.
RefractiveIndex = partial(Fixed, 4, 2)


def str_enum(kind: type[enum.StrEnum], length: int = 20) -> Enum:
    """A ``StrEnum`` stored as its values (not its member names) in a VARCHAR, no native type."""
    return Enum(
        kind,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )
