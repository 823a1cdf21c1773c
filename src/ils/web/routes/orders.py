"""Order routes: create (with its four jobs), list, read, correct details, change status, ship.

Every enqueue happens in the request's transaction through the outbox, so an order that is not
committed sends nothing, and a committed one is never left without its jobs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ils.domain.enums import Eye, LineKind, OrderStatus, PrismBase
from ils.domain.models.orders import Order
from ils.domain.services import Id
from ils.domain.services import orders as service
from ils.domain.services.orders import MAX_UNIT_PRICE
from ils.errors import Invalid
from ils.web.auth import (
    CurrentUser,
    DbSession,
    get_owned,
    permit,
    sees_all_companies,
)
from ils.web.quota_deps import OrderQuota
from ils.web.routes.common import CONFLICT, Acting, OwnedRows

router = APIRouter(tags=["orders"])

# A line's price stays far below what the totals' columns hold (the total is checked as well).
MoneyIn = Annotated[Decimal, Field(ge=0, le=MAX_UNIT_PRICE, max_digits=12, decimal_places=2)]
Mm = Annotated[Decimal, Field(gt=0, le=200, decimal_places=2)]


class EyeRx(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sphere: Annotated[Decimal, Field(ge=-30, le=30, decimal_places=2)] | None = None
    cylinder: Annotated[Decimal, Field(ge=-15, le=15, decimal_places=2)] | None = None
    axis: Annotated[int, Field(ge=0, le=180)] | None = None
    add: Annotated[Decimal, Field(ge=0, le=5, decimal_places=2)] | None = None
    prism: Annotated[Decimal, Field(ge=0, le=20, decimal_places=2)] | None = None
    prism_base: PrismBase | None = None


class RxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    right: EyeRx = EyeRx()
    left: EyeRx = EyeRx()
    pd_binocular: Mm | None = None
    pd_right: Mm | None = None
    pd_left: Mm | None = None


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: LineKind
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    product_id: Id | None = None
    description: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    unit_price: MoneyIn | None = None
    eye: Eye | None = None


class OrderDetails(BaseModel):
    """The details an order is created with and corrected by (one definition for both bodies:
    the same names and limits)."""

    model_config = ConfigDict(extra="forbid")

    customer_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    due_date: dt.date | None = None
    tray_number: Annotated[str, Field(max_length=20)] | None = None
    special_instructions: Annotated[str, Field(max_length=2000)] | None = None
    frame_a: Mm | None = None
    frame_b: Mm | None = None
    frame_dbl: Mm | None = None
    frame_ed: Mm | None = None


class OrderIn(OrderDetails):
    customer_name: Annotated[str, Field(min_length=1, max_length=200)]
    patient_id: Id | None = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=200)]
    rx: RxIn = RxIn()
    tax_rate_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=3)] = Decimal(0)


class LineOut(BaseModel):
    id: int
    kind: LineKind
    product_id: int | None
    description: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    eye: Eye | None


class OrderOut(BaseModel):
    id: int
    number: str
    company_id: int
    patient_id: int | None
    customer_name: str
    status: OrderStatus
    tracking_number: str | None
    carrier: str | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    due_date: dt.date | None
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    created_at: dt.datetime
    lines: list[LineOut]
    rx: dict[str, dict[str, object]]


class JobRef(BaseModel):
    queue: str
    name: str
    job_id: str


class OrderWithJobs(BaseModel):
    order: OrderOut
    jobs: list[JobRef]


class OrderEdit(OrderDetails):
    """The details to correct: only the fields given change (``null`` clears an optional one)."""

    pd_binocular: Mm | None = None
    pd_right: Mm | None = None
    pd_left: Mm | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]
    carrier: Annotated[str, Field(min_length=1, max_length=60)] | None = None


orders = OwnedRows(router, Order, OrderOut, "/api/orders", "orders.read")
# A change to one order (its status, shipping it) counts as order work; it declares no errors.
ON_ONE_ORDER: dict[str, Any] = {"quota": "order", "responses": {}}


def order_out(order: Order) -> OrderOut:
    rx = {
        eye: {name: getattr(order, f"{eye}_{name}") for name in service.RX_FIELDS}
        for eye in ("right", "left")
    }
    rx["pd"] = {k: getattr(order, f"pd_{k}") for k in ("binocular", "right", "left")}
    return OrderOut(
        id=order.id, number=order.number, company_id=order.company_id,
        patient_id=order.patient_id, customer_name=order.customer_name, status=order.status,
        tracking_number=order.tracking_number, carrier=order.carrier,
        shipped_at=order.shipped_at, delivered_at=order.delivered_at, due_date=order.due_date,
        subtotal=order.subtotal, tax=order.tax, total=order.total, created_at=order.created_at,
        lines=[LineOut.model_validate(line, from_attributes=True) for line in order.lines],
        rx=rx,
    )  # fmt: skip


def with_jobs(result: service.OrderResult) -> OrderWithJobs:
    return OrderWithJobs(
        order=order_out(result.order),
        jobs=[JobRef(queue=j.queue, name=j.name, job_id=j.job_id) for j in result.jobs],
    )


@router.post(
    "/api/orders",
    status_code=status.HTTP_201_CREATED,
    summary="Create an order",
    dependencies=[permit("orders.create")],
)
async def create_order(
    body: OrderIn, user: CurrentUser, _quota: OrderQuota, session: DbSession
) -> OrderWithJobs:
    rx = {eye: getattr(body.rx, eye).model_dump(exclude_none=True) for eye in ("right", "left")}
    details = body.model_dump(
        include=set(service.ORDER_FIELDS), exclude_none=True
    ) | body.rx.model_dump(include={"pd_binocular", "pd_right", "pd_left"}, exclude_none=True)
    data = service.OrderInput(
        customer_name=body.customer_name,
        patient_id=body.patient_id,
        tax_rate_percent=body.tax_rate_percent,
        lines=[service.LineInput(**line.model_dump()) for line in body.lines],
        rx=rx,
        details=details,
    )
    return with_jobs(await service.create_order(session, user, data))


@router.get(
    "/api/orders", summary="List orders, newest first", dependencies=[permit("orders.read")]
)
async def list_orders(
    user: CurrentUser,
    session: DbSession,
    status_filter: Annotated[OrderStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[OrderOut]:
    company = None if sees_all_companies(user) else user.company_id
    rows = await service.list_orders(session, company, status_filter, limit, offset)
    return [order_out(o) for o in rows]


@router.get(
    "/api/orders/{order_id}",
    summary="One order with its lines",
    dependencies=[permit("orders.read")],
)
async def get_order(order_id: Id, user: CurrentUser, session: DbSession) -> OrderOut:
    return order_out(await get_owned(session, Order, order_id, user))


@orders.action("POST", "status", "orders.status", OrderWithJobs, body=StatusIn, **ON_ONE_ORDER)
async def change_status(order: Order, act: Acting[StatusIn]) -> OrderWithJobs:
    """Move an order to another status"""
    before, to = order.status, act.body.status
    result = await service.change_status(act.session, order, to)
    await act.audit("order.status", order.id, {"from": before.value, "to": to.value})
    return with_jobs(result)


@orders.action("POST", "ship", "orders.ship", OrderWithJobs, body=ShipIn, **ON_ONE_ORDER)
async def ship_order(order: Order, act: Acting[ShipIn]) -> OrderWithJobs:
    """Ship an order with its tracking number"""
    tracking_number, carrier = act.body.tracking_number, act.body.carrier
    result = await service.ship_order(act.session, order, tracking_number, carrier)
    await act.audit(
        "order.shipped", order.id, {"carrier": carrier, "tracking_number": tracking_number}
    )
    return with_jobs(result)


@orders.action("PATCH", "details", "orders.edit", OrderOut, body=OrderEdit, responses=CONFLICT)
async def update_order(order: Order, act: Acting[OrderEdit]) -> OrderOut:
    """Correct an order's details (customer, due date, tray, instructions, frame, PD)

    Only the fields given change; the order's history records each one's old and new value
    (``order.updated``). A shipped, delivered or cancelled order is a 409; no field, or
    ``customer_name`` set to null, a 422.
    """
    changes = act.body.model_dump(exclude_unset=True)
    if "customer_name" in changes and changes["customer_name"] is None:
        raise Invalid("customer_name", "may not be null")
    await service.update_order(act.session, order, changes)
    await act.audit("order.updated", order.id, {"fields": sorted(changes)})
    return order_out(order)
