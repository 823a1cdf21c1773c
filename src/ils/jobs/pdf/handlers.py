"""The five PDF job types: each one's payload, declaration and handler. A handler loads the
entity (async, on the loop), renders it in the render pool, stores the file (both in the pool)
and records the document row (one upsert).

They declare the database, the render pool and the file storage (``ctx.resources.db``,
``.pdf_renderer``, ``.files``); the pool (and reportlab with it) is built by the process that
runs them. A job that runs again (a retry, a redelivery) writes the same file and updates the
same row. The loaders (:mod:`ils.jobs.pdf.load`) and the document row's writer
(:mod:`ils.jobs.pdf.record`) are imported by the first job, not by the declarations, which every
process's registry imports: so these load neither SQLAlchemy nor the ORM models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ils.domain.enums import DocumentType
from ils.files import safe_name
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.jobs.pdf.load import Loaded

USES = ("db", "pdf_renderer", "files")


class OrderSheetPdf(Payload):
    order_id: Id


class InvoicePdf(Payload):
    invoice_id: Id


class ReceiptPdf(Payload):
    payment_id: Id


class LabWorkTicketPdf(Payload):
    order_id: Id


class ExaminationFormPdf(Payload):
    examination_id: Id


def storage_key(doc_type: DocumentType, loaded: Loaded, job_id: str) -> str:
    name = f"{safe_name(loaded.reference)}-{safe_name(job_id)}.pdf"
    return f"{loaded.company_id}/{doc_type.value}/{name}"


async def produce(doc_type: DocumentType, entity_id: int, ctx: Ctx) -> dict[str, Any]:
    """load -> render and store (in the pool) -> record."""
    # At the first job, not with the declarations: the loaders' ORM queries configure every
    # mapper, and the document row is written with SQLAlchemy.
    from ils.jobs.pdf.load import LOADERS
    from ils.jobs.pdf.record import record

    db = ctx.resources.db
    async with db.session() as session:
        loaded = await LOADERS[doc_type](session, entity_id)
    ctx.check_cancelled("before rendering")
    key = storage_key(doc_type, loaded, ctx.job_id)
    stored = await ctx.resources.pdf_renderer.render_and_store(loaded.doc, ctx.resources.files, key)
    document_id = await record(db, doc_type, loaded, stored, ctx.job_id)
    return {"documentId": document_id, "path": stored.key, "size": stored.size,
            "sha256": stored.sha256}  # fmt: skip


@job(OrderSheetPdf, queue="pdf", name="order-sheet", description="order sheet",
     priority=2, resources=USES)  # fmt: skip
async def order_sheet(payload: OrderSheetPdf, ctx: Ctx) -> Any:
    return await produce(DocumentType.order_sheet, payload.order_id, ctx)


@job(InvoicePdf, queue="pdf", name="invoice", description="invoice", priority=2, resources=USES)
async def invoice(payload: InvoicePdf, ctx: Ctx) -> Any:
    return await produce(DocumentType.invoice, payload.invoice_id, ctx)


@job(ReceiptPdf, queue="pdf", name="receipt", description="payment receipt", priority=2,
     resources=USES)  # fmt: skip
async def receipt(payload: ReceiptPdf, ctx: Ctx) -> Any:
    return await produce(DocumentType.receipt, payload.payment_id, ctx)


@job(LabWorkTicketPdf, queue="pdf", name="lab-work-ticket",
     description="lab work ticket", priority=1, resources=USES)  # fmt: skip
async def lab_work_ticket(payload: LabWorkTicketPdf, ctx: Ctx) -> Any:
    return await produce(DocumentType.lab_work_ticket, payload.order_id, ctx)


@job(ExaminationFormPdf, queue="pdf", name="examination-form",
     description="examination form", priority=3, resources=USES)  # fmt: skip
async def examination_form(payload: ExaminationFormPdf, ctx: Ctx) -> Any:
    return await produce(DocumentType.examination_form, payload.examination_id, ctx)
