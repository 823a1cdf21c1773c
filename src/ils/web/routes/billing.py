"""Invoices and payments: ``/api/invoices`` — draft an invoice (from lines or an order), issue it
(its PDF is queued), record payments (each queues a receipt).

Issuing and payments are audited. Money is exact and travels as strings (``"129.99"``).
Rules: :mod:`ils.domain.services.billing`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict

from ils.domain.enums import InvoiceStatus, PaymentMethod
from ils.domain.models.billing import Invoice, Payment
from ils.domain.services import Amount, Id, QueuedJob, Window
from ils.domain.services import billing as service
from ils.domain.services.billing import InvoiceCreate, PaymentCreate
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.quota_deps import PdfQuota
from ils.web.routes.common import CONFLICT, NOT_FOUND, Limit, Offset, OwnedRows, Page

router = APIRouter(tags=["billing"])

InvoiceId = Id


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_id: int | None
    description: str
    quantity: int
    unit_price: Amount
    line_total: Amount


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    status: InvoiceStatus
    order_id: int | None
    issued_at: dt.datetime | None
    due_date: dt.date | None
    billing_name: str
    billing_address: str | None
    subtotal: Amount
    tax_rate: Decimal
    tax: Amount
    total: Amount
    amount_paid: Amount
    balance_due: Amount
    payment_terms: str | None
    created_at: dt.datetime
    lines: list[InvoiceLineOut]


class InvoicePage(Page[InvoiceOut]):
    pass


class InvoiceIssuedOut(BaseModel):
    invoice: InvoiceOut
    job: QueuedJob


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    invoice_id: int
    amount: Amount
    method: PaymentMethod
    reference: str | None
    paid_at: dt.datetime
    created_at: dt.datetime


class PaymentRecordedOut(BaseModel):
    payment: PaymentOut
    invoice: InvoiceOut
    job: QueuedJob


invoices = OwnedRows(
    router, Invoice, InvoiceOut, "/api/invoices", "invoices.read", "invoices.draft", True
)


@router.get(
    "/api/invoices",
    response_model=InvoicePage,
    summary="The company's invoices, newest first",
    dependencies=[permit("invoices.read")],
)
async def list_invoices(
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    status: InvoiceStatus | None = None,
    order_id: Id | None = None,
) -> InvoicePage:
    window = Window(limit, offset)
    found = await service.list_invoices(
        session, user.company_id, window, status=status, order_id=order_id
    )
    return InvoicePage.of(found, window, InvoiceOut.model_validate)


invoices.create(
    InvoiceCreate,
    service.create_invoice,
    "Draft an invoice from lines, or from an order (its lines are copied)",
)
invoices.read("An invoice with its lines")


@router.post(
    "/api/invoices/{invoice_id}/issue",
    response_model=InvoiceIssuedOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Issue a draft invoice: its PDF is queued",
    dependencies=[permit("invoices.issue")],
)
async def issue_invoice(
    invoice_id: InvoiceId,
    request: Request,
    user: CurrentUser,
    _quota: PdfQuota,
    session: DbSession,
) -> InvoiceIssuedOut:
    invoice = await get_owned(session, Invoice, invoice_id, user)
    job = await service.issue_invoice(session, invoice)
    detail = {"number": invoice.number, "total": str(invoice.total), "job_id": job.job_id}
    await record_audit(session, user, "invoice.issued", "invoice", invoice.id, detail, request)
    return InvoiceIssuedOut(invoice=InvoiceOut.model_validate(invoice), job=job)


@router.get(
    "/api/invoices/{invoice_id}/payments",
    response_model=list[PaymentOut],
    responses=NOT_FOUND,
    summary="The payments on an invoice, oldest first",
    dependencies=[permit("invoices.read")],
)
async def list_payments(
    invoice_id: InvoiceId, user: CurrentUser, session: DbSession
) -> list[Payment]:
    invoice = await get_owned(session, Invoice, invoice_id, user)
    return await service.list_payments(session, invoice)


@router.post(
    "/api/invoices/{invoice_id}/payments",
    response_model=PaymentRecordedOut,
    status_code=status.HTTP_201_CREATED,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Record a payment: the invoice is paid once settled; a receipt is queued",
    dependencies=[permit("payments.record")],
)
async def record_payment(
    invoice_id: InvoiceId,
    body: PaymentCreate,
    request: Request,
    user: CurrentUser,
    _quota: PdfQuota,
    session: DbSession,
) -> PaymentRecordedOut:
    """More than the balance due is a 422 on ``amount``; a draft, paid or void invoice a 409."""
    invoice = await get_owned(session, Invoice, invoice_id, user)
    payment, job = await service.record_payment(session, invoice, body)
    detail = {
        "number": invoice.number,
        "payment_id": payment.id,
        "amount": str(payment.amount),
        "method": payment.method.value,
        "status": invoice.status.value,
        "job_id": job.job_id,
    }
    await record_audit(
        session, user, "invoice.payment_recorded", "invoice", invoice.id, detail, request
    )
    return PaymentRecordedOut(
        payment=PaymentOut.model_validate(payment),
        invoice=InvoiceOut.model_validate(invoice),
        job=job,
    )
