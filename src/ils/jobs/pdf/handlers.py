"""The five PDF job types: each one's payload, declaration and handler. A handler loads the
entity (async, on the loop), renders it in the render pool, stores the file (both in the pool)
and records the document row (one upsert).

They declare the database, the render pool and the file storage (``ctx.resources.db``,
``.pdf_renderer``, ``.files``); the pool (and reportlab with it) is built by the process that
runs them. A job that runs again (a retry, a redelivery) writes the same file and updates the
same row. The loaders (:mod:`ils.jobs.pdf.load`) are imported by the first job, not by the
declarations, which every process's registry imports.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam

from ils.domain.db import Database, conflict_insert
from ils.domain.models import ENTITY_OF, Document, DocumentType
from ils.domain.models.types import utcnow
from ils.files import StoredFile, safe_name
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


def download_name(doc_type: DocumentType, reference: str) -> str:
    """What a browser saves the file as, e.g. ``invoice-INV-000042.pdf``."""
    return f"{doc_type.value}-{safe_name(reference)}.pdf"


RECORDED = ("company_id", "type", "entity", "entity_id", "path", "filename", "size", "sha256",
            "created_at")  # fmt: skip


@functools.cache
def _upsert(dialect: str) -> Any:
    """The document row's upsert for ``dialect``, built once: insert, or bring up to date the row
    an earlier run of the job left (one statement either way)."""
    insert = conflict_insert(dialect)
    statement = insert(Document).values(
        job_id=bindparam("job_id"), **{name: bindparam(name) for name in RECORDED}
    )
    return statement.on_conflict_do_update(
        index_elements=[Document.job_id],
        set_={name: statement.excluded[name] for name in RECORDED},
    ).returning(Document.id)


async def record(
    db: Database, doc_type: DocumentType, loaded: Loaded, stored: StoredFile, job_id: str
) -> int:
    """The job's document row, inserted or (when the job ran before) brought up to date. Core on
    a plain connection: the ORM session's machinery cost more than the statement itself."""
    params = {
        "job_id": job_id,
        "company_id": loaded.company_id,
        "type": doc_type,
        "entity": ENTITY_OF[doc_type],
        "entity_id": loaded.entity_id,
        "path": stored.key,
        "filename": download_name(doc_type, loaded.reference),
        "size": stored.size,
        "sha256": stored.sha256,
        "created_at": utcnow(),
    }
    async with db.engine.begin() as conn:
        document_id: int = (
            await conn.execute(_upsert(db.engine.dialect.name), params)
        ).scalar_one()
    return document_id


async def produce(doc_type: DocumentType, entity_id: int, ctx: Ctx) -> dict[str, Any]:
    """load -> render and store (in the pool) -> record."""
    from ils.jobs.pdf.load import LOADERS  # its ORM queries configure every mapper: at first use

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
