"""The invoice email: an issued invoice sent to its customer with its PDF attached.

Run as the parent of the ``invoice-email`` flow (:mod:`ils.jobs.flows`) it attaches the PDF its
child job has just rendered (``ctx.flow``); run alone (a bulk resend, :mod:`ils.jobs.batches`)
it attaches the invoice's newest stored PDF. The address is the one the caller gave, else the
email of the patient the invoice's order is for; an invoice without either, or without a PDF,
gives up with the reason.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from pydantic import Field

from ils.errors import GiveUp
from ils.files import FileStorage, StoredFileMissing
from ils.jobs.email.outgoing import Email
from ils.jobs.payloads import EmailAddress, Id
from ils.jobs.resources import Ctx
from ils.jobs.rows import need
from ils.queue.declare import job
from ils.queue.registry import Payload, Personal

USES = ("db", "mailer", "files")


class InvoiceEmail(Payload):
    invoice_id: Id
    to: Annotated[list[EmailAddress], Personal()] | None = Field(
        None, max_length=10, description="the addresses; by default the order's patient's email"
    )


def _read(files: FileStorage, key: str) -> bytes:
    with files.open(key) as handle:
        return handle.read()


async def _document_id(ctx: Ctx, invoice_id: int) -> int | None:
    """The PDF to attach: the one this flow's child rendered, else the newest stored one."""
    from sqlalchemy import select

    from ils.domain.models import Document, DocumentEntity, DocumentType

    if ctx.flow is not None:
        rendered = await ctx.flow.result_of("pdf", "invoice")
        if isinstance(rendered, dict) and rendered.get("documentId"):
            return int(rendered["documentId"])
    async with ctx.resources.db.session() as session:
        found: int | None = await session.scalar(
            select(Document.id)
            .where(
                Document.entity == DocumentEntity.invoice,
                Document.entity_id == invoice_id,
                Document.type == DocumentType.invoice,
            )
            .order_by(Document.created_at.desc(), Document.id.desc())
            .limit(1)
        )
    return found


@job(InvoiceEmail, queue="email", name="invoice",
     description="an issued invoice to its customer, its PDF attached", priority=3,
     attempts=5, resources=USES)  # fmt: skip
async def invoice_email(payload: InvoiceEmail, ctx: Ctx) -> Any:
    from ils.domain.models import Company, Document, Invoice, Order, Patient

    db, mailer = ctx.resources.db, ctx.resources.mailer
    async with db.session() as session:
        invoice = await need(session, Invoice, payload.invoice_id, "invoice")
        company = await need(session, Company, invoice.company_id, "company")
        to = tuple(str(a) for a in payload.to or ())
        if not to and invoice.order_id is not None:
            order = await session.get(Order, invoice.order_id)
            patient = await session.get(Patient, order.patient_id) if order else None
            to = (patient.email,) if patient is not None and patient.email else ()
    if not to:
        raise GiveUp(f"invoice {invoice.number} has no address to send it to")
    document_id = await _document_id(ctx, invoice.id)
    async with db.session() as session:
        document = await session.get(Document, document_id) if document_id else None
    if document is None or document.company_id != invoice.company_id:
        raise GiveUp(f"invoice {invoice.number} has no PDF yet")
    from ils.jobs.email.transports import Attachment

    try:
        data = await asyncio.to_thread(_read, ctx.resources.files, document.path)
    except StoredFileMissing as exc:
        raise GiveUp(f"the PDF of invoice {invoice.number} is gone: {exc}") from exc
    email = Email(
        to,
        f"{company.name}: invoice {invoice.number}",
        "invoice",
        company.id,
        {"invoice": invoice, "company": company},
        (Attachment(document.filename, "application/pdf", data),),
    )
    ctx.check_cancelled("before sending")
    delivery = await mailer.deliver(db, ctx.job_id, email)
    return delivery.as_result() | {"documentId": document.id}
