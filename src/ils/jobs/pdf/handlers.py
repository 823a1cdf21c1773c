"""The five PDF handlers: load the entity (async, on the loop), render it in the render pool,
store the file (both in the pool), record the document row (one upsert).

They find the database, the render pool and the file storage in the job's resources (``db``,
``pdf_renderer``, ``files``), built once per process by :class:`ils.bootstrap.JobSystem`. A job
that runs again (a retry, a redelivery) writes the same file and updates the same row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ils.domain.db import Database
from ils.domain.models import ENTITY_OF, Document, DocumentType
from ils.domain.models.types import utcnow
from ils.files import FileStorage, StoredFile, safe_name
from ils.jobs import payloads as p
from ils.jobs.pdf.load import LOADERS, Loaded
from ils.jobs.pdf.pool import RenderPool
from ils.queue.context import JobContext
from ils.queue.errors import GiveUp
from ils.queue.registry import Handler


@dataclass(frozen=True)
class Tools:
    db: Database
    renderer: RenderPool
    files: FileStorage


def tools(ctx: JobContext) -> Tools:
    db, renderer = ctx.resources.get("db"), ctx.resources.get("pdf_renderer")
    files = ctx.resources.get("files")
    if not isinstance(db, Database) or not isinstance(renderer, RenderPool) or files is None:
        raise GiveUp("this process has no database, render pool or file storage for PDF jobs")
    return Tools(db, renderer, files)


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
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
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


async def produce(doc_type: DocumentType, entity_id: int, ctx: JobContext) -> dict[str, Any]:
    """load -> render and store (in the pool) -> record."""
    t = tools(ctx)
    async with t.db.session() as session:
        loaded = await LOADERS[doc_type](session, entity_id)
    key = storage_key(doc_type, loaded, ctx.job_id)
    stored = await t.renderer.render_and_store(loaded.doc, t.files, key)
    document_id = await record(t.db, doc_type, loaded, stored, ctx.job_id)
    return {"documentId": document_id, "path": stored.key, "size": stored.size,
            "sha256": stored.sha256}  # fmt: skip


async def order_sheet(payload: p.OrderSheetPdf, ctx: JobContext) -> Any:
    return await produce(DocumentType.order_sheet, payload.order_id, ctx)


async def invoice(payload: p.InvoicePdf, ctx: JobContext) -> Any:
    return await produce(DocumentType.invoice, payload.invoice_id, ctx)


async def receipt(payload: p.ReceiptPdf, ctx: JobContext) -> Any:
    return await produce(DocumentType.receipt, payload.payment_id, ctx)


async def lab_work_ticket(payload: p.LabWorkTicketPdf, ctx: JobContext) -> Any:
    return await produce(DocumentType.lab_work_ticket, payload.order_id, ctx)


async def examination_form(payload: p.ExaminationFormPdf, ctx: JobContext) -> Any:
    return await produce(DocumentType.examination_form, payload.examination_id, ctx)


HANDLERS: dict[str, Handler] = {
    "order-sheet": order_sheet,
    "invoice": invoice,
    "receipt": receipt,
    "lab-work-ticket": lab_work_ticket,
    "examination-form": examination_form,
}
