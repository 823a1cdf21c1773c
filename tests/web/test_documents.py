"""Document routes: the owning company downloads a PDF with its filename, another company gets 404
as for a missing id; each entity lists its documents (an invoice with its receipts). Runs on
SQLite and PostgreSQL; the documents are made by the real PDF handler."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Document, DocumentType, Examination, Invoice, Order, Patient, Payment
from ils.jobs.pdf.handlers import produce
from ils.queue.context import JobContext
from tests.support.pdf_world import PdfWorld, make_pdf_world
from tests.web.conftest import Accounts
from tests.web.helpers import outsider_admin, signed_in


async def make_documents(
    app: FastAPI, db: Database, company_id: int
) -> tuple[PdfWorld, dict[DocumentType, Any]]:
    """The world moved into company A, and one document of each type (job ids ``job-<type>``)."""
    world = await make_pdf_world(db, slug="docs")
    async with db.session() as s:
        for model in (Order, Invoice, Payment, Patient, Examination):
            await s.execute(update(model).values(company_id=company_id))
    system: JobSystem = app.state.system
    ids = {}
    entities = {
        DocumentType.order_sheet: world.order_id,
        DocumentType.lab_work_ticket: world.order_id,
        DocumentType.invoice: world.invoice_id,
        DocumentType.receipt: world.payment_id,
        DocumentType.examination_form: world.examination_id,
    }
    for doc_type, entity_id in entities.items():
        ctx = JobContext(job_id=f"job-{doc_type.value}", queue="pdf", name=doc_type.value,
                         attempt=1, max_attempts=3,
                         logger=logging.LoggerAdapter(logging.getLogger("test")),
                         resources=system.resources)  # fmt: skip
        ids[doc_type] = (await produce(doc_type, entity_id, ctx))["documentId"]
    return world, ids


async def test_the_owner_downloads_and_lists_others_get_404(
    api: FastAPI, db: Database, accounts: Accounts
):
    world, ids = await make_documents(api, db, accounts.company_a)
    async with signed_in(api) as client:
        got = await client.get(f"/api/documents/{ids[DocumentType.invoice]}")
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == 'attachment; filename="invoice-INV-000007.pdf"'
        assert got.content.startswith(b"%PDF-") and len(got.content) > 1000

        orders = await client.get(f"/api/orders/{world.order_id}/documents")
        assert orders.status_code == 200
        assert {d["type"] for d in orders.json()} == {"order-sheet", "lab-work-ticket"}
        invoices = (await client.get(f"/api/invoices/{world.invoice_id}/documents")).json()
        assert {d["type"] for d in invoices} == {"invoice", "receipt"}
        assert {d["filename"] for d in invoices} == {"invoice-INV-000007.pdf",
                                                     "receipt-RCT-000001.pdf"}  # fmt: skip
        exams = (await client.get(f"/api/examinations/{world.examination_id}/documents")).json()
        assert [d["id"] for d in exams] == [ids[DocumentType.examination_form]]

        assert (await client.get("/api/documents/999999")).status_code == 404
        assert (await client.get("/api/documents/0")).status_code == 422

    async with outsider_admin(api) as client:
        for doc_id in ids.values():
            assert (await client.get(f"/api/documents/{doc_id}")).status_code == 404
        for path in (f"/api/orders/{world.order_id}/documents",
                     f"/api/invoices/{world.invoice_id}/documents",
                     f"/api/examinations/{world.examination_id}/documents"):  # fmt: skip
            assert (await client.get(path)).status_code == 404


async def test_a_document_whose_file_is_gone_is_a_404_not_a_500(
    api: FastAPI, db: Database, accounts: Accounts
):
    _, ids = await make_documents(api, db, accounts.company_a)
    system: JobSystem = api.state.system
    async with db.session() as s:
        row = await s.get(Document, ids[DocumentType.receipt])
        assert row is not None
        system.files.delete(row.path)
    async with signed_in(api) as client:
        gone = await client.get(f"/api/documents/{ids[DocumentType.receipt]}")
    assert gone.status_code == 404 and "has no file" in gone.json()["detail"]
