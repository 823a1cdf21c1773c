"""Purchase orders: ``/api/purchase-orders`` — draft one, send it to the supplier (the email is
queued with the request's transaction), receive it into stock.

Sending and receiving are audited. Another company's ids answer 404; referenced ids in a body
that are not the company's are a 422 naming the field. Rules: :mod:`ils.domain.services.purchasing`.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict

from ils.domain.enums import PurchaseOrderStatus
from ils.domain.models.purchasing import PurchaseOrder
from ils.domain.services import Amount, Id, QueuedJob, Window
from ils.domain.services import purchasing as service
from ils.domain.services.purchasing import PurchaseOrderCreate
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.quota_deps import EmailQuota
from ils.web.routes.common import CONFLICT, NOT_FOUND, Limit, Offset, OwnedRows, Page

router = APIRouter(tags=["purchasing"])

PurchaseOrderId = Id


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


purchase_orders = OwnedRows(
    router, PurchaseOrder, PurchaseOrderOut, "/api/purchase-orders", "purchasing.read"
)


@router.get(
    "/api/purchase-orders",
    response_model=PurchaseOrderPage,
    summary="The company's purchase orders, newest first",
    dependencies=[permit("purchasing.read")],
)
async def list_purchase_orders(
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    status: PurchaseOrderStatus | None = None,
    supplier_id: Id | None = None,
) -> PurchaseOrderPage:
    window = Window(limit, offset)
    found = await service.list_purchase_orders(
        session, user.company_id, window, status=status, supplier_id=supplier_id
    )
    return PurchaseOrderPage.of(found, window, PurchaseOrderOut.model_validate)


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


@router.post(
    "/api/purchase-orders/{purchase_order_id}/send",
    response_model=PurchaseOrderSentOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Send a draft to its supplier: the email is queued",
    dependencies=[permit("purchasing.send")],
)
async def send_purchase_order(
    purchase_order_id: PurchaseOrderId,
    request: Request,
    user: CurrentUser,
    _quota: EmailQuota,
    session: DbSession,
) -> PurchaseOrderSentOut:
    """Sending twice, or to a supplier without an email address, is a 409."""
    order = await get_owned(session, PurchaseOrder, purchase_order_id, user)
    job = await service.send_purchase_order(session, order)
    detail = {"number": order.number, "supplier_id": order.supplier_id, "job_id": job.job_id}
    await record_audit(
        session, user, "purchase_order.sent", "purchase_order", order.id, detail, request
    )
    return PurchaseOrderSentOut(purchase_order=PurchaseOrderOut.model_validate(order), job=job)


@router.post(
    "/api/purchase-orders/{purchase_order_id}/receive",
    response_model=PurchaseOrderOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Receive a sent order: its quantities are added to stock",
    dependencies=[permit("purchasing.receive")],
)
async def receive_purchase_order(
    purchase_order_id: PurchaseOrderId, request: Request, user: CurrentUser, session: DbSession
) -> PurchaseOrder:
    order = await get_owned(session, PurchaseOrder, purchase_order_id, user)
    await service.receive_purchase_order(session, order)
    detail = {"number": order.number, "lines": len(order.lines)}
    await record_audit(
        session, user, "purchase_order.received", "purchase_order", order.id, detail, request
    )
    return order
