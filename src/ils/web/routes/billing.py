"""Invoices and payments: ``/api/invoices`` — draft an invoice (from lines or an order), issue it
(its PDF is queued), email it with its PDF attached (a flow: the PDF, then the email), resend many
at once (a batch, answered with its id), record payments (each queues a receipt) and declined
payment attempts.

Issuing, sending and payments are audited. Money is exact and travels as strings (``"129.99"``).
Rules: :mod:`ils.domain.services.billing`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ils.domain.enums import InvoiceStatus, PaymentMethod
from ils.domain.models.billing import Invoice, Payment
from ils.domain.services import Amount, Id, QueuedJob, batches
from ils.domain.services import billing as service
from ils.domain.services.billing import InvoiceCreate, PaymentCreate, PaymentFailure
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.quota_deps import EmailQuota
from ils.web.routes.batches import BatchStartedOut
from ils.web.routes.common import CONFLICT, NOT_FOUND, Acting, OwnedRows, Page

router = APIRouter(tags=["billing"])


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


class PaymentFailedOut(BaseModel):
    event_id: str = Field(description="the payment.failed event that records the attempt")
    invoice: InvoiceOut


class InvoiceEmailIn(BaseModel):
    to: list[EmailStr] | None = Field(
        None, min_length=1, max_length=10, description="by default the order's patient's email"
    )


class InvoiceSentOut(BaseModel):
    invoice_id: int
    job: QueuedJob = Field(description="the email, which runs once the invoice's PDF is made")


class ResendIn(BaseModel):
    invoice_ids: list[Id] = Field(min_length=1, max_length=batches.MAX_RESEND)


# An action on an invoice answers 404 for another company's, 409 where its status forbids it.
FAILS = {**NOT_FOUND, **CONFLICT}

invoices = OwnedRows(
    router, Invoice, InvoiceOut, "/api/invoices", "invoices.read", "invoices.draft", True
)


invoices.search(InvoicePage, service.list_invoices, "The company's invoices, newest first")
invoices.create(
    InvoiceCreate,
    service.create_invoice,
    "Draft an invoice from lines, or from an order (its lines are copied)",
)
invoices.read("An invoice with its lines")


@invoices.action("POST", "issue", "invoices.issue", InvoiceIssuedOut, quota="pdf", responses=FAILS)
async def issue_invoice(invoice: Invoice, act: Acting[None]) -> InvoiceIssuedOut:
    """Issue a draft invoice: its PDF is queued"""
    job = await service.issue_invoice(act.session, invoice)
    detail = {"number": invoice.number, "total": str(invoice.total), "job_id": job.job_id}
    await act.audit("invoice.issued", invoice.id, detail)
    return InvoiceIssuedOut(invoice=InvoiceOut.model_validate(invoice), job=job)


@router.post(
    "/api/invoices/resend",
    response_model=BatchStartedOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Email many issued invoices again, their PDFs attached: one batch, one summary",
    dependencies=[permit("invoices.send")],
)
async def resend_invoices(
    body: ResendIn, request: Request, user: CurrentUser, _quota: EmailQuota, session: DbSession
) -> BatchStartedOut:
    """An id that is not an issued (or paid) invoice of the user's company is a 422 on
    ``invoice_ids``; the answer's ``batch_id`` is for ``GET /api/batches/{batch_id}``."""
    started = await batches.resend_invoices(session, user.company_id, body.invoice_ids, user.id)
    detail = {"batch_id": started.batch_id, "invoices": started.total}
    await record_audit(session, user, "invoice.resent", "batch", started.batch_id, detail, request)
    return BatchStartedOut.model_validate(started, from_attributes=True)


@router.post(
    "/api/invoices/{invoice_id}/email",
    response_model=InvoiceSentOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Email an issued invoice with its PDF attached (the PDF first, then the email)",
    dependencies=[permit("invoices.send")],
)
async def email_invoice(
    invoice_id: Id,
    request: Request,
    user: CurrentUser,
    _quota: EmailQuota,
    session: DbSession,
    body: InvoiceEmailIn | None = None,
) -> InvoiceSentOut:
    invoice = await get_owned(session, Invoice, invoice_id, user)
    to = [str(a) for a in body.to] if body is not None and body.to else None
    job = await service.email_invoice(session, invoice, to)
    detail = {"number": invoice.number, "job_id": job.job_id, "to_given": to is not None}
    await record_audit(session, user, "invoice.emailed", "invoice", invoice.id, detail, request)
    return InvoiceSentOut(invoice_id=invoice.id, job=job)


@invoices.action("GET", "payments", "invoices.read", list[PaymentOut])
async def list_payments(invoice: Invoice, act: Acting[None]) -> list[Payment]:
    """The payments on an invoice, oldest first"""
    return await service.list_payments(act.session, invoice)


@invoices.action(
    "POST", "payments", "payments.record", PaymentRecordedOut, body=PaymentCreate, quota="pdf",
    status_code=status.HTTP_201_CREATED, responses=FAILS,
)  # fmt: skip
async def record_payment(invoice: Invoice, act: Acting[PaymentCreate]) -> PaymentRecordedOut:
    """Record a payment: the invoice is paid once settled; a receipt is queued

    More than the balance due is a 422 on ``amount``; a draft, paid or void invoice a 409.
    """
    payment, job = await service.record_payment(act.session, invoice, act.body)
    detail = {
        "number": invoice.number,
        "payment_id": payment.id,
        "amount": str(payment.amount),
        "method": payment.method.value,
        "status": invoice.status.value,
        "job_id": job.job_id,
    }
    await act.audit("invoice.payment_recorded", invoice.id, detail)
    return PaymentRecordedOut(
        payment=PaymentOut.model_validate(payment),
        invoice=InvoiceOut.model_validate(invoice),
        job=job,
    )


@invoices.action(
    "POST", "payments/failed", "payments.record", PaymentFailedOut, body=PaymentFailure,
    status_code=status.HTTP_201_CREATED, responses=FAILS,
)  # fmt: skip
async def record_failed_payment(invoice: Invoice, act: Acting[PaymentFailure]) -> PaymentFailedOut:
    """Record a declined payment attempt: nothing is paid; the attempt is a payment.failed event

    Checked as a payment is: more than the balance due is a 422 on ``amount``; a draft, paid or
    void invoice a 409. The event and the audit entry commit together.
    """
    event = await service.record_failed_payment(act.session, invoice, act.body)
    detail = {
        "number": invoice.number,
        "amount": str(act.body.amount),
        "method": act.body.method.value,
        "reason": act.body.reason,
        "event_id": event.id,
    }
    await act.audit("invoice.payment_failed", invoice.id, detail)
    return PaymentFailedOut(event_id=event.id, invoice=InvoiceOut.model_validate(invoice))
