"""Purchase orders: ``/api/purchase-orders`` — draft one, send it to the supplier (the email is
queued with the request's transaction), receive it into stock.

Sending and receiving are audited. Another company's ids answer 404; referenced ids in a body
that are not the company's are a 422 naming the field. Rules: :mod:`ils.domain.services.purchasing`.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict

from ils.domain.enums import PurchaseOrderStatus
from ils.domain.models.purchasing import PurchaseOrder
from ils.domain.services import Amount, QueuedJob
from ils.domain.services import purchasing as service
from ils.domain.services.purchasing import PurchaseOrderCreate
from ils.web.auth import CurrentUser, DbSession, permit
from ils.web.routes.common import CONFLICT, NOT_FOUND, Acting, OwnedRows, Page

router = APIRouter(tags=["purchasing"])


class PurchaseOrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_id: int
    quantity: int
    unit_cost: Amount
    line_total: Amount


class PurchaseOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    status: PurchaseOrderStatus
    supplier_id: int
    created_by_user_id: int | None
    notes: str | None
    total: Amount
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[PurchaseOrderLineOut]


class PurchaseOrderPage(Page[PurchaseOrderOut]):
    pass


class PurchaseOrderSentOut(BaseModel):
    purchase_order: PurchaseOrderOut
    job: QueuedJob


# An action on a purchase order answers 404 for another company's, 409 where its status forbids it.
FAILS = {**NOT_FOUND, **CONFLICT}

purchase_orders = OwnedRows(
    router, PurchaseOrder, PurchaseOrderOut, "/api/purchase-orders", "purchasing.read"
)


purchase_orders.search(
    PurchaseOrderPage, service.list_purchase_orders, "The company's purchase orders, newest first"
)


@router.post(
    "/api/purchase-orders",
    response_model=PurchaseOrderOut,
    status_code=status.HTTP_201_CREATED,
    summary="Draft a purchase order; totals are computed here",
    dependencies=[permit("purchasing.draft")],
)
async def create_purchase_order(
    body: PurchaseOrderCreate, user: CurrentUser, session: DbSession
) -> PurchaseOrder:
    return await service.create_purchase_order(session, user.company_id, user.id, body)


purchase_orders.read("A purchase order with its lines")


@purchase_orders.action(
    "POST", "send", "purchasing.send", PurchaseOrderSentOut, quota="email", responses=FAILS
)
async def send_purchase_order(order: PurchaseOrder, act: Acting[None]) -> PurchaseOrderSentOut:
    """Send a draft to its supplier: the email is queued

    Sending twice, or to a supplier without an email address, is a 409.
    """
    job = await service.send_purchase_order(act.session, order)
    detail = {"number": order.number, "supplier_id": order.supplier_id, "job_id": job.job_id}
    await act.audit("purchase_order.sent", order.id, detail)
    return PurchaseOrderSentOut(purchase_order=PurchaseOrderOut.model_validate(order), job=job)


@purchase_orders.action("POST", "receive", "purchasing.receive", PurchaseOrderOut, responses=FAILS)
async def receive_purchase_order(order: PurchaseOrder, act: Acting[None]) -> PurchaseOrder:
    """Receive a sent order: its quantities are added to stock"""
    await service.receive_purchase_order(act.session, order)
    detail = {"number": order.number, "lines": len(order.lines)}
    await act.audit("purchase_order.received", order.id, detail)
    return order
