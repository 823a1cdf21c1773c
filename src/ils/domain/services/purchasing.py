"""Purchase orders a company sends its suppliers: drafting them with server-side totals, sending
them (the supplier's email goes to the queue) and receiving them into stock."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.enums import PurchaseOrderStatus
from ils.domain.models.catalog import Product, Supplier
from ils.domain.models.purchasing import PurchaseOrder, PurchaseOrderLine, purchase_order_number
from ils.domain.models.types import utcnow
from ils.domain.services import (
    MAX_MONEY,
    LongText,
    NonNegativeAmount,
    Paged,
    Quantity,
    QueuedJob,
    RowId,
    Window,
    added,
    company_page,
    line_total,
    next_sequence,
    updated_if,
)
from ils.domain.services.catalog import company_products, company_supplier
from ils.errors import Conflict, Invalid
from ils.jobs.helpers import queue_purchase_order_email

MAX_LINES = 200


class PurchaseOrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: RowId
    quantity: Quantity
    unit_cost: NonNegativeAmount | None = Field(None, description="defaults to the product's cost")


class PurchaseOrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supplier_id: RowId
    notes: LongText | None = None
    lines: list[PurchaseOrderLineIn] = Field(min_length=1, max_length=MAX_LINES)


async def _lines(
    session: AsyncSession, company_id: int, data: PurchaseOrderCreate
) -> list[PurchaseOrderLine]:
    products = await company_products(session, company_id, (ln.product_id for ln in data.lines))
    lines: list[PurchaseOrderLine] = []
    for i, line in enumerate(data.lines):
        product = products.get(line.product_id)
        if product is None:
            raise Invalid(("lines", i, "product_id"), f"no product {line.product_id} here")
        unit_cost = line.unit_cost if line.unit_cost is not None else product.cost
        lines.append(
            PurchaseOrderLine(
                product_id=product.id,
                quantity=line.quantity,
                unit_cost=unit_cost,
                line_total=line_total(i, unit_cost, line.quantity),
            )
        )
    return lines


async def create_purchase_order(
    session: AsyncSession, company_id: int, user_id: int | None, data: PurchaseOrderCreate
) -> PurchaseOrder:
    """A draft purchase order; each line's total and the order's are computed here, exactly."""
    await company_supplier(session, company_id, data.supplier_id)
    lines = await _lines(session, company_id, data)
    total = sum((line.line_total for line in lines), Decimal("0.00"))
    if total > MAX_MONEY:
        raise Invalid("lines", f"the order's total exceeds {MAX_MONEY}")
    sequence = await next_sequence(
        session, PurchaseOrder.number, PurchaseOrder.company_id, company_id
    )
    order = PurchaseOrder(
        company_id=company_id,
        supplier_id=data.supplier_id,
        number=purchase_order_number(sequence),
        status=PurchaseOrderStatus.draft,
        created_by_user_id=user_id,
        notes=data.notes,
        total=total,
        lines=lines,
    )
    return await added(session, order)


class PurchaseOrderFilter(BaseModel):
    """Which of a company's purchase orders a list keeps: those with each value given."""

    status: PurchaseOrderStatus | None = None
    supplier_id: RowId | None = None


async def list_purchase_orders(
    session: AsyncSession, company_id: int, window: Window, given: PurchaseOrderFilter
) -> Paged[PurchaseOrder]:
    """A company's purchase orders, newest first."""
    filters = (PurchaseOrder.status, given.status), (PurchaseOrder.supplier_id, given.supplier_id)
    return await company_page(session, PurchaseOrder, company_id, window, *filters)


async def _move(
    session: AsyncSession,
    order: PurchaseOrder,
    wanted: PurchaseOrderStatus,
    to: PurchaseOrderStatus,
    **values: Any,
) -> None:
    """Move ``order`` from ``wanted`` to ``to`` in one conditional UPDATE, so of two requests
    racing (a double click on "send") exactly one wins and the other is a :class:`Conflict`."""
    if not await updated_if(session, order, [PurchaseOrder.status == wanted], status=to, **values):
        raise Conflict(
            f"purchase order {order.number} is {order.status.value}, not {wanted.value}: "
            f"it cannot be {to.value}"
        )


async def send_purchase_order(session: AsyncSession, order: PurchaseOrder) -> QueuedJob:
    """Mark a draft sent and queue the email to its supplier (relayed once the transaction
    commits). Sending twice is a :class:`Conflict`, as is a supplier without an email address."""
    if order.status is not PurchaseOrderStatus.draft:
        raise Conflict(f"purchase order {order.number} was already {order.status.value}")
    supplier = await session.get(Supplier, order.supplier_id)
    if supplier is None or not supplier.email:
        name = supplier.name if supplier is not None else order.supplier_id
        raise Conflict(f"supplier {name} has no email address: add one, then send the order")
    await _move(
        session, order, PurchaseOrderStatus.draft, PurchaseOrderStatus.sent, sent_at=utcnow()
    )
    enqueued = await queue_purchase_order_email.using(company_id=order.company_id, session=session)(
        purchase_order_id=order.id, supplier_id=order.supplier_id
    )
    return QueuedJob.of(enqueued)


async def receive_purchase_order(session: AsyncSession, order: PurchaseOrder) -> None:
    """Mark a sent order received and add its quantities to the products' stock."""
    await _move(
        session,
        order,
        PurchaseOrderStatus.sent,
        PurchaseOrderStatus.received,
        received_at=utcnow(),
    )
    received: Counter[int] = Counter()
    for line in order.lines:
        received[line.product_id] += line.quantity
    for product_id, quantity in sorted(received.items()):
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock=Product.stock + quantity)
            .execution_options(synchronize_session="fetch")
        )
