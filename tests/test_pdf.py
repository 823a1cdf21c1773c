"""The PDF worker end to end on both databases: every document type through the queue, read back
with pypdf (numbers, names, each line, exact totals); the lab ticket's barcode decoded from a
rendered page; a 60-line order over several pages with its headers; a missing entity given up
at once; a failing renderer retried then kept with its traceback; a job run twice keeping one
row. Each type is also drawn to ``test-output/pdf/`` for a person to look at."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pypdfium2
import zxingcpp
from bullmq import Job
from pypdf import PdfReader
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Document, DocumentType
from ils.jobs.pdf.handlers import produce
from ils.jobs.pdf.load import order_sheet
from ils.jobs.pdf.pool import RenderPool
from ils.jobs.pdf.render import render_document
from ils.jobs.resources import Resources
from ils.queue.admin import JobView
from ils.queue.context import JobContext
from tests.conftest import REPO, make_settings
from tests.support.pdf_renderers import failing
from tests.support.pdf_samples import sample_ticket
from tests.support.pdf_world import CUSTOMER, PATIENT_FIRST, PATIENT_LAST, make_long_order
from tests.support.pdf_world import make_pdf_world as make_world
from tests.support.running import running

OUTPUT = REPO / "test-output" / "pdf"


@contextlib.asynccontextmanager
async def pdf_system(
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    db: Database,
    resources: Resources | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[JobSystem]:
    """A job system on ``db``: pdf retries 1 s apart, no rate limit, files under tmp_path."""
    env = {"ILS_QUEUE_PDF_BACKOFF_DELAY_MS": "1000", "ILS_QUEUE_PDF_RATE_MAX": "none",
           **(env or {})}  # fmt: skip
    settings = make_settings(redis_url, prefix, tmp_path, env=env)
    system = JobSystem(settings, database=db, resources=resources)
    try:
        yield system
    finally:
        await system.close()


async def run_jobs(system: JobSystem, jobs: list[tuple[str, dict[str, Any]]]) -> list[JobView]:
    enqueued = [await system.producer.enqueue("pdf", name, data) for name, data in jobs]
    async with running(system, "pdf"):
        return [await system.admin.wait_for_job("pdf", e.job_id, timeout_s=60) for e in enqueued]


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def to_png(data: bytes, name: str) -> list[Path]:
    """Every page of ``data`` as ``test-output/pdf/<name>-<n>.png``."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    paths = []
    pdf = pypdfium2.PdfDocument(data)
    for n in range(len(pdf)):
        path = OUTPUT / f"{name}-{n + 1}.png"
        pdf[n].render(scale=1.5).to_pil().save(path)
        paths.append(path)
    pdf.close()
    return paths


async def documents(db: Database) -> list[Document]:
    async with db.session() as s:
        return list(await s.scalars(select(Document).order_by(Document.id)))


async def test_every_document_type_is_rendered_stored_and_recorded(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with pdf_system(redis_url, prefix, tmp_path, db) as system:
        views = await run_jobs(system, [
            ("order-sheet", {"orderId": w.order_id}),
            ("invoice", {"invoiceId": w.invoice_id}),
            ("receipt", {"paymentId": w.payment_id}),
            ("lab-work-ticket", {"orderId": w.order_id}),
            ("examination-form", {"examinationId": w.examination_id}),
        ])  # fmt: skip
        files = system.files
        assert [v.state for v in views] == ["completed"] * 5, [v.failed_reason for v in views]
        by_job = {row.job_id: row for row in await documents(db)}
        rows = [by_job[view.id] for view in views]
        assert [r.type for r in rows] == list(DocumentType)
        pdfs: dict[DocumentType, bytes] = {}
        for row, view in zip(rows, views, strict=True):
            with files.open(row.path) as fh:
                pdfs[row.type] = fh.read()
            assert row.path.startswith(f"{w.lab_id}/{row.type.value}/")
            assert row.job_id == view.id and row.company_id == w.lab_id
            assert row.size == len(pdfs[row.type]) and len(row.sha256) == 64
            assert view.return_value["documentId"] == row.id
    assert (tmp_path / "var" / "files" / rows[0].path).is_file()  # ILS_FILES_DIR's default

    sheet = "\n".join(pdf_text(pdfs[DocumentType.order_sheet]))
    for expected in ("Order sheet", "ORD-000042", CUSTOMER, "Poly 1.67 progressive",
                     "Titan frame 52-18", "Anti-reflective coating", "1,224.99", "1,428.99",
                     "114.32", "1,543.31", "-2.25", "-0.50", "+2.00", "63.00",
                     "edging.", "Check step 79 twice"):  # fmt: skip
        assert expected in sheet, expected

    invoice = "\n".join(pdf_text(pdfs[DocumentType.invoice]))
    for expected in ("Invoice", "INV-000007", "Dana Whitfield", "1 High Street", "SV 1.60 lens",
                     "33.33", "99.99", "8.875 %", "8.87", "108.86", "50.00", "58.86",
                     "Net 30 days", "ORD-000042", "28 Dec 2026"):  # fmt: skip
        assert expected in invoice, expected

    receipt = "\n".join(pdf_text(pdfs[DocumentType.receipt]))
    for expected in ("Receipt", "INV-000007", "Dana Whitfield", "bank transfer", "BACS-9911",
                     "50.00", "108.86", "58.86", "29 Nov 2026"):  # fmt: skip
        assert expected in receipt, expected

    ticket = "\n".join(pdf_text(pdfs[DocumentType.lab_work_ticket]))
    for expected in ("Lab work ticket", "ORD-000042", "T-17", "24 Dec 2026", CUSTOMER,
                     "52.00", "38.50", "18.00", "56.00", "Polycarbonate", "Progressive", "1.67",
                     "Anti-reflective coating", "Titan frame 52-18", "1.50", "in",
                     "Check step 79 twice"):  # fmt: skip
        assert expected in ticket, expected

    exam = "\n".join(pdf_text(pdfs[DocumentType.examination_form]))
    patient = f"{PATIENT_FIRST} {PATIENT_LAST}"
    for expected in ("Examination form", patient, "Dr Ada Lens", "6/6", "6/9", "31.50",
                     "Reports glare", "20 Nov 2027", "14 Mar 1980"):  # fmt: skip
        assert expected in exam, expected

    for kind, data in pdfs.items():
        print("rendered:", *to_png(data, kind.value))


def test_the_lab_ticket_barcode_holds_the_order_number(tmp_path: Path):
    data = render_document(sample_ticket("ORD-004711"))
    pdf = pypdfium2.PdfDocument(data)
    image = pdf[0].render(scale=3).to_pil()
    pdf.close()
    found = zxingcpp.read_barcodes(image)
    assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.Code128, "ORD-004711")]


async def test_a_sixty_line_order_flows_over_pages_with_its_headers(db: Database):
    w = await make_world(db)
    order_id = await make_long_order(db, w.lab_id, lines=60)
    async with db.session() as s:
        loaded = await order_sheet(s, order_id)
    data = render_document(loaded.doc)
    pages = pdf_text(data)
    assert len(pages) >= 2
    for n, page in enumerate(pages, start=1):
        assert "Clearview Lab" in page and "Order sheet" in page and "ORD-000060" in page
        assert f"Page {n} of {len(pages)}" in page
    for page in pages[:-1]:
        assert "Description" in page and "Unit price" in page  # the table's header repeats
    everything = "\n".join(pages)
    for n in range(1, 61):
        assert f"Line item number {n:02d}" in everything
    assert "18,318.30" in pages[-1]  # 10.01 x (1 + ... + 60)
    print("rendered:", *to_png(data, "order-sheet-60-lines"))


async def test_a_missing_entity_fails_at_once_with_the_reason(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    await make_world(db)
    async with pdf_system(redis_url, prefix, tmp_path, db) as system:
        views = await run_jobs(system, [
            ("invoice", {"invoiceId": 999_999}),
            ("examination-form", {"examinationId": 999_998}),
            ("receipt", {"paymentId": 999_997}),
        ])  # fmt: skip
    reasons = ("invoice 999999", "examination 999998", "payment 999997")
    for view, reason in zip(views, reasons, strict=True):
        assert view.state == "failed" and view.attempts_made == 1 and view.attempts == 3
        assert view.failed_reason == f"{reason} no longer exists"
    assert await documents(db) == []


async def test_a_renderer_error_is_retried_then_kept_with_its_traceback(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    pool = RenderPool(1, renderer=failing)
    try:
        async with pdf_system(
            redis_url, prefix, tmp_path, db, Resources(pdf_renderer=pool)
        ) as system:
            [view] = await run_jobs(system, [("order-sheet", {"orderId": w.order_id})])
            job = await Job.fromId(system.admin.queue("pdf"), view.id)
    finally:
        await pool.close()
    assert view.state == "failed" and view.attempts_made == 3
    assert view.failed_reason == "renderer broke on OrderSheet"
    trace = "\n".join(job.stacktrace)
    assert "RendererBroke: renderer broke on OrderSheet" in trace
    assert "pdf_renderers.py" in trace  # the traceback from inside the render process
    assert await documents(db) == []


async def test_a_job_run_again_replaces_its_file_and_row(db: Database, tmp_path: Path):
    w = await make_world(db)
    settings = make_settings("redis://127.0.0.1:1/0", "unused", tmp_path)
    system = JobSystem(settings, database=db)
    ctx = JobContext(job_id="job-1", queue="pdf", name="invoice", attempt=1, max_attempts=3,
                     logger=logging.LoggerAdapter(logging.getLogger("test")),
                     resources=system.resources)  # fmt: skip
    try:
        first = await produce(DocumentType.invoice, w.invoice_id, ctx)
        second = await produce(DocumentType.invoice, w.invoice_id, ctx)
    finally:
        await system.close()
    assert first["documentId"] == second["documentId"] and first["path"] == second["path"]
    async with db.session() as s:
        assert await s.scalar(select(func.count(Document.id))) == 1
    stored = sorted(p.name for p in (tmp_path / "var" / "files").rglob("*.pdf"))
    assert stored == ["INV-000007-job-1.pdf"]
