"""The ILS domain services: business rules on an ``AsyncSession``, free of HTTP, for routes and CLI.

This module holds what their inputs and results share: exact money amounts and a line's total,
bounded text and ids, partial updates (derived from what a row is created from), a window and a
page of rows, filters and the newest-first order of a list, adding and changing a row,
per-company document numbers, a job handed to the queue, a job for a row's user, and a row
changed only if it still holds what the caller read (one conditional ``UPDATE``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar, get_type_hints

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StringConstraints,
    create_model,
    field_validator,
)
from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import UnaryExpression

from ils.domain.models.shared import CompanyOwned
from ils.domain.models.types import to_money
from ils.errors import Invalid
from ils.queue.declare import Helper
from ils.queue.producer import Enqueued

T = TypeVar("T")
RowT = TypeVar("RowT")
OwnedT = TypeVar("OwnedT", bound=CompanyOwned)

# Primary keys are 32-bit integers on PostgreSQL: a larger id can name no row.
MAX_ID = 2_147_483_647
# The largest amount a NUMERIC(14, 2) column holds.
MAX_MONEY = Decimal("999999999999.99")


def _money_text(value: Decimal) -> str:
    return str(to_money(value))


MONEY_DOC = 'exact money: a string such as "129.99" or a number, at most 2 decimals'
ToMoney = AfterValidator(to_money)
AsText = PlainSerializer(_money_text, return_type=str, when_used="json")

Amount = Annotated[
    Decimal, Field(max_digits=14, decimal_places=2, description=MONEY_DOC), ToMoney, AsText
]
NonNegativeAmount = Annotated[
    Decimal, Field(ge=0, max_digits=14, decimal_places=2, description=MONEY_DOC), ToMoney, AsText
]
PositiveAmount = Annotated[
    Decimal, Field(gt=0, max_digits=14, decimal_places=2, description=MONEY_DOC), ToMoney, AsText
]

# The one type of a database id wherever one enters: a path, a query or a body field. Bounded by
# the column's range, so 2**64 or -1 is a 422 naming the field, never a driver's overflow (500).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
RowId = Id  # the name the services' input models use
Quantity = Annotated[int, Field(gt=0, le=100_000)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refused here it is a 422, not a failed statement.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)


def _width(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


# Stripped, non-empty text no wider than its column.
Text12 = Annotated[str, _width(12), NoNul]
Text40 = Annotated[str, _width(40), NoNul]
Text60 = Annotated[str, _width(60), NoNul]
Text100 = Annotated[str, _width(100), NoNul]
Text200 = Annotated[str, _width(200), NoNul]
Text300 = Annotated[str, _width(300), NoNul]
LongText = Annotated[str, _width(10_000), NoNul]
Email = Annotated[EmailStr, Field(max_length=254)]
# What a list's ``q`` parameter searches for: 1 to 100 characters, no NUL.
SearchText = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


def line_total(index: int, price: Decimal, quantity: int) -> Decimal:
    """The exact total of a document's line ``index``: ``price`` times ``quantity``; a total past
    what the column holds is :class:`~ils.errors.Invalid`, naming the line's quantity."""
    total = to_money(price * quantity)
    if total > MAX_MONEY:
        raise Invalid(("lines", index, "quantity"), f"the line's total exceeds {MAX_MONEY}")
    return total


def not_null(value: Any) -> Any:
    """A partial update's validator for fields that may be left out but not cleared: it runs only
    for a value sent, so leaving the field out keeps it, and ``null`` is refused."""
    if value is None:
        raise ValueError("may not be null")
    return value


class PartialUpdate(BaseModel):
    """A partial update: only the fields sent change; ``null`` clears an optional one."""

    model_config = ConfigDict(extra="forbid")


def partial_update(name: str, create: type[BaseModel], *required: str) -> type[PartialUpdate]:
    """The :class:`PartialUpdate` ``name`` of what ``create`` creates: each of its fields with
    its type (and the type's constraints), optional and None by default; the ``required`` ones
    may be left out but not cleared (:func:`not_null`)."""
    hints = get_type_hints(create, include_extras=True)
    fields: dict[str, Any] = {field: (hints[field] | None, None) for field in create.model_fields}
    return create_model(
        name,
        __base__=PartialUpdate,
        __doc__=PartialUpdate.__doc__,
        __module__=create.__module__,
        __validators__={"_required": field_validator(*required)(not_null)},
        **fields,
    )


class QueuedJob(BaseModel):
    """A job handed to the queue: it reaches BullMQ once the request's transaction commits."""

    job_id: str = Field(description="the BullMQ job id")
    queue: str
    name: str

    @classmethod
    def of(cls, enqueued: Enqueued) -> QueuedJob:
        return cls(job_id=enqueued.job_id, queue=enqueued.queue, name=enqueued.name)


@dataclass(frozen=True)
class Window:
    """Which rows of a list: at most ``limit`` of them, after skipping ``offset``."""

    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One window of a list and how many rows the whole list holds."""

    items: Sequence[T]
    total: int


async def paged(session: AsyncSession, stmt: Select[T], window: Window) -> Paged[T]:
    """Run ``stmt`` (already filtered and ordered) for ``window``, counting the whole list."""
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = int((await session.execute(counted)).scalar_one())
    rows = (await session.scalars(stmt.limit(window.limit).offset(window.offset))).all()
    return Paged(items=rows, total=total)


def where_given(stmt: Select[T], *filters: tuple[Any, Any]) -> Select[T]:
    """``stmt`` narrowed by each ``(column, value)`` whose value is given (not None): equality."""
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def newest_first(model: Any) -> tuple[UnaryExpression[Any], UnaryExpression[Any]]:
    """The order of a list of ``model`` rows, latest created first (ties by id)."""
    return model.created_at.desc(), model.id.desc()


async def company_page(
    session: AsyncSession,
    model: type[OwnedT],
    company_id: int,
    window: Window,
    *filters: tuple[Any, Any],
) -> Paged[OwnedT]:
    """One window of a company's ``model`` rows, newest first, narrowed by each given
    ``(column, value)`` of ``filters`` (see :func:`where_given`)."""
    stmt = where_given(select(model).where(model.company_id == company_id), *filters)
    return await paged(session, stmt.order_by(*newest_first(model)), window)


async def added(session: AsyncSession, row: RowT) -> RowT:
    """``row`` added to ``session`` and flushed, so it has its id."""
    session.add(row)
    await session.flush()
    return row


async def changed(session: AsyncSession, row: RowT, changes: Mapping[str, Any]) -> RowT:
    """``row`` with ``changes`` (attribute: value) applied and flushed."""
    for name, value in changes.items():
        setattr(row, name, value)
    await session.flush()
    return row


async def updated_if(
    session: AsyncSession, row: OwnedT, conditions: Sequence[ColumnElement[bool]], **values: Any
) -> bool:
    """Set ``values`` on ``row`` in one ``UPDATE`` that matches it only while ``conditions``
    hold, so of two requests racing exactly one wins; ``row`` is read again either way (the
    loser sees what changed). Whether it matched."""
    model = type(row)
    stmt = (
        update(model)
        .where(model.id == row.id, *conditions)
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    matched = (await session.execute(stmt)).scalar_one_or_none()
    await session.refresh(row)
    return matched is not None


async def for_user(user_id: int | None, helper: Helper[Any], **fields: Any) -> list[Enqueued]:
    """``helper``'s job for the user ``user_id`` (passed as its ``user_id`` field, with
    ``fields``), or no job when the row has no such user (its creator was deleted, say)."""
    if user_id is None:
        return []
    return [await helper(user_id=user_id, **fields)]


async def next_sequence(
    session: AsyncSession,
    number: InstrumentedAttribute[str],
    company_column: InstrumentedAttribute[int],
    company_id: int,
) -> int:
    """The next sequence of a company's numbered documents (``PO-000042`` and the like): one past
    the latest. Two requests racing for one number meet the unique constraint: a 409."""
    latest = (
        await session.execute(
            select(number)
            .where(company_column == company_id)
            .order_by(func.length(number).desc(), number.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    digits = latest.rsplit("-", 1)[-1] if latest else ""
    return int(digits) + 1 if digits.isdigit() else 1
