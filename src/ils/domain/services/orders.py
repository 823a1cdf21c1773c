"""Orders: create one with its lines and Rx, correct its details, move it through its statuses,
ship it — and, in the same transaction, enqueue the jobs each step owes (the seed's integration
points) and record the events each step makes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain import models
from ils.domain.models import (
    Order,
    OrderLine,
    OrderStatus,
    Patient,
    Product,
    User,
    order_number,
)
from ils.domain.models.types import to_money
from ils.domain.services import for_user, newest_first, where_given
from ils.errors import Conflict, Invalid
from ils.events import emit
from ils.jobs import helpers
from ils.queue.producer import Enqueued

# Sane maxima for one order of lenses and frames: far below what the money columns hold, so a
# typo or a hostile request is a 422 naming the field, not an absurd invoice downstream.
MAX_UNIT_PRICE = Decimal("1000000.00")
MAX_ORDER_TOTAL = Decimal("10000000.00")

RX_FIELDS = ("sphere", "cylinder", "axis", "add", "prism", "prism_base")
ORDER_FIELDS = (
    "due_date", "tray_number", "special_instructions",
    "frame_a", "frame_b", "frame_dbl", "frame_ed",
    "pd_binocular", "pd_right", "pd_left",
)  # fmt: skip

#: What an order's details edit may change; its lines, Rx and totals are fixed once placed.
EDITABLE_FIELDS = ("customer_name", *ORDER_FIELDS)
#: Statuses past which an order's details are history, not to be corrected.
SETTLED = frozenset({OrderStatus.shipped, OrderStatus.delivered, OrderStatus.cancelled})


@dataclass(frozen=True)
class LineInput:
    kind: models.LineKind
    quantity: int
    product_id: int | None = None
    description: str | None = None
    unit_price: Decimal | None = None
    eye: models.Eye | None = None


@dataclass(frozen=True)
class OrderInput:
    customer_name: str
    lines: list[LineInput]
    patient_id: int | None = None
    tax_rate_percent: Decimal = Decimal(0)
    rx: dict[str, dict[str, Any]] = field(default_factory=dict)  # {"right": {...}, "left": {...}}
    details: dict[str, Any] = field(default_factory=dict)  # ORDER_FIELDS


@dataclass(frozen=True)
class OrderResult:
    order: Order
    jobs: list[Enqueued]


async def _products(
    session: AsyncSession, company_id: int, lines: list[LineInput]
) -> dict[int, Product]:
    ids = {line.product_id for line in lines if line.product_id is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(Product).where(Product.id.in_(ids), Product.company_id == company_id)
    )
    return {p.id: p for p in rows.scalars()}


def _line(index: int, line: LineInput, products: dict[int, Product]) -> OrderLine:
    product = None
    if line.product_id is not None:
        product = products.get(line.product_id)
        if product is None:
            raise Invalid(("lines", index, "product_id"), "no such product in your company")
    price = line.unit_price if line.unit_price is not None else (product.price if product else None)
    if price is None:
        raise Invalid(("lines", index, "unit_price"), "required when no product is given")
    description = line.description or (product.name if product else None)
    if not description:
        raise Invalid(("lines", index, "description"), "required when no product is given")
    unit_price = to_money(price)
    return OrderLine(
        product_id=line.product_id,
        kind=line.kind,
        description=description,
        quantity=line.quantity,
        unit_price=unit_price,
        line_total=to_money(unit_price * line.quantity),
        eye=line.eye,
    )


async def create_order(session: AsyncSession, user: User, data: OrderInput) -> OrderResult:
    """The order, its lines and totals; then its confirmation email, order sheet, lab work
    ticket and notification, enqueued in this transaction (nothing is sent if it rolls back)."""
    if not data.lines:
        raise Invalid("lines", "an order needs at least one line")
    if data.patient_id is not None:
        patient = await session.get(Patient, data.patient_id)
        if patient is None or patient.company_id != user.company_id:
            raise Invalid("patient_id", "no such patient in your company")
    products = await _products(session, user.company_id, data.lines)
    # The number is derived from the row id, unique across companies; a throwaway value holds the
    # NOT NULL column until the id is known.
    order = Order(
        company_id=user.company_id,
        number=uuid.uuid4().hex[:20],
        patient_id=data.patient_id,
        customer_name=data.customer_name,
        created_by_user_id=user.id,
        status=OrderStatus.pending,
        lines=[_line(i, line, products) for i, line in enumerate(data.lines)],
        **{k: v for k, v in data.details.items() if k in ORDER_FIELDS},
    )
    for eye, values in data.rx.items():
        for name, value in values.items():
            if name in RX_FIELDS:
                setattr(order, f"{eye}_{name}", value)
    order.recompute_totals(data.tax_rate_percent)
    if order.total > MAX_ORDER_TOTAL:
        raise Invalid("lines", f"the order's total may be at most {MAX_ORDER_TOTAL}")
    session.add(order)
    await session.flush()
    order.number = order_number(order.id)
    await emit.order_created(session, order)
    company = order.company_id
    async with helpers.batch(session):
        jobs = [
            await helpers.queue_order_confirmation_email.using(company_id=company, session=session)(
                order_id=order.id, user_id=user.id
            ),
            await helpers.queue_order_sheet_pdf.using(company_id=company, session=session)(
                order_id=order.id
            ),
            await helpers.queue_lab_work_ticket_pdf.using(company_id=company, session=session)(
                order_id=order.id
            ),
            await helpers.queue_order_notification.using(company_id=company, session=session)(
                user_id=user.id, order_id=order.id, status=order.status.value,
                message=f"Order {order.number} received",
            ),
        ]  # fmt: skip
    return OrderResult(order, jobs)


async def update_order(session: AsyncSession, order: Order, changes: dict[str, Any]) -> Order:
    """Correct the order's details (:data:`EDITABLE_FIELDS`) and record ``order.updated`` with
    each field's old and new value (nothing recorded when no value moved). A shipped, delivered
    or cancelled order is a conflict; a field not editable, or no field, is invalid."""
    if not changes:
        raise Invalid("body", "name at least one field to change")
    for name in changes:
        if name not in EDITABLE_FIELDS:
            raise Invalid(name, "not a field an edit may change")
    if order.status in SETTLED:
        raise Conflict(f"order {order.number} is {order.status.value}: its details are final")
    before = {name: getattr(order, name) for name in changes}
    for name, value in changes.items():
        setattr(order, name, value)
    await session.flush()
    # As stored (a frame of 52 reads back 52.00), so the event's new values match the row's.
    await session.refresh(order, attribute_names=list(changes))
    await emit.order_updated(session, order, before)
    return order


def _transition(order: Order, to: OrderStatus) -> None:
    try:
        order.transition(to)
    except models.InvalidStatusTransition as exc:
        raise Conflict(str(exc)) from exc


async def _notify_creator(session: AsyncSession, order: Order, message: str) -> list[Enqueued]:
    notify = helpers.queue_order_notification.using(company_id=order.company_id, session=session)
    fields = {"order_id": order.id, "status": order.status.value, "message": message}
    return await for_user(order.created_by_user_id, notify, **fields)


async def change_status(session: AsyncSession, order: Order, to: OrderStatus) -> OrderResult:
    """Move the order (not to ``shipped``: that needs tracking, see :func:`ship_order`) and
    notify whoever placed it."""
    if to is OrderStatus.shipped:
        raise Invalid("status", "shipping needs a tracking number: use the ship action")
    before = order.status.value
    _transition(order, to)
    await emit.order_moved(session, order, before)
    message = f"Order {order.number} is now {to.value.replace('_', ' ')}"
    return OrderResult(order, await _notify_creator(session, order, message))


async def ship_order(
    session: AsyncSession, order: Order, tracking_number: str, carrier: str | None
) -> OrderResult:
    """Mark shipped with its tracking; the shipment email and a notification follow."""
    before = order.status.value
    _transition(order, OrderStatus.shipped)
    order.tracking_number = tracking_number
    order.carrier = carrier
    await emit.order_moved(session, order, before)
    notified = await _notify_creator(session, order, f"Order {order.number} has shipped")
    email = helpers.queue_shipment_notification_email.using(
        company_id=order.company_id, session=session
    )
    tracking = {"tracking_number": tracking_number, "carrier": carrier}
    jobs = await for_user(order.created_by_user_id, email, order_id=order.id, **tracking)
    jobs += notified
    return OrderResult(order, jobs)


async def list_orders(
    session: AsyncSession,
    company_id: int | None,
    status: OrderStatus | None,
    limit: int,
    offset: int,
) -> list[Order]:
    query = select(Order).order_by(*newest_first(Order))
    query = where_given(query, (Order.company_id, company_id), (Order.status, status))
    rows = await session.execute(query.limit(limit).offset(offset))
    return list(rows.scalars())
