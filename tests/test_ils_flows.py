"""The ILS's flows and batches end to end on both databases, with the real PDF, email and
notification workers: an invoice emailed with the PDF its flow has just rendered attached (and
no email when that PDF fails), an order's two PDFs then the lab told (skipped when a PDF fails),
and a bulk invoice resend whose one summary counts the invoice it could not send."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import (
    Document,
    EmailLog,
    Invoice,
    InvoiceStatus,
    Notification,
    Order,
    Patient,
    Role,
    User,
)
from ils.domain.services import batches
from ils.jobs import helpers
from ils.queue.admin import JobView
from tests.conftest import make_settings
from tests.support.pdf_world import PdfWorld, make_pdf_world
from tests.support.running import running

QUEUES = ("pdf", "email", "notification")


@contextlib.asynccontextmanager
async def ils_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    env = {"ILS_QUEUE_PDF_RATE_MAX": "none", "ILS_QUEUE_EMAIL_BACKOFF_DELAY_MS": "500"}
    system = JobSystem(make_settings(redis_url, prefix, tmp_path, env=env), database=db)
    try:
        yield system
    finally:
        await system.close()


def mail(system: JobSystem, job_id: str) -> EmailMessage:
    path = system.settings.var_dir / "mail" / f"{job_id}.eml"
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def finished(system: JobSystem, queue: str, job_id: str) -> JobView:
    async with running(system, *QUEUES):
        return await system.admin.wait_for_job(queue, job_id, timeout_s=90)


async def test_an_invoice_is_emailed_with_the_pdf_its_flow_rendered(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_pdf_world(db)
    async with ils_system(redis_url, prefix, tmp_path, db) as system:
        async with db.session() as session:
            send = helpers.queue_invoice_email_flow.using(company_id=w.lab_id, session=session)
            sent = await send(invoice_id=w.invoice_id, to=["dana@example.com"])
        assert (sent.queue, sent.name, sent.mode) == ("email", "invoice", "outbox")
        view = await finished(system, "email", sent.job_id)
        assert view.state == "completed", view.failed_reason
        async with db.session() as s:
            document = await s.scalar(select(Document).where(Document.job_id == f"{view.id}-0"))
        assert document is not None and view.return_value["documentId"] == document.id
        message = mail(system, view.id)
        assert message["To"] == "dana@example.com"
        assert "INV-000007" in str(message["Subject"])
        [attached] = list(message.iter_attachments())
        assert attached.get_filename() == "invoice-INV-000007.pdf"
        stored = (system.settings.var_dir / "files" / document.path).read_bytes()
        assert attached.get_content() == stored and stored.startswith(b"%PDF")


async def test_no_invoice_email_goes_out_when_its_pdf_fails(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_pdf_world(db)
    async with ils_system(redis_url, prefix, tmp_path, db) as system:
        sent = await helpers.queue_invoice_email_flow.using(producer=system.producer)(
            invoice_id=w.invoice_id + 1000,
            to=["dana@example.com"],  # no such invoice: no PDF
        )
        view = await finished(system, "email", sent.job_id)
        assert view.state == "failed"
        assert f"{sent.job_id}-0" in (view.failed_reason or "")
        assert not (system.settings.var_dir / "mail").exists()  # the handler never ran
        async with db.session() as s:
            assert list(await s.scalars(select(EmailLog))) == []


async def _lab_technician(db: Database, w: PdfWorld) -> int:
    async with db.session() as s:
        tech = User(company_id=w.lab_id, email="tech@clearview.example", name="Theo Tech",
                    password_hash="x", role=Role.lab_technician)  # fmt: skip
        s.add(tech)
        await s.flush()
        return tech.id


async def test_an_orders_two_pdfs_then_the_lab_is_told(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_pdf_world(db)
    tech = await _lab_technician(db, w)
    async with ils_system(redis_url, prefix, tmp_path, db) as system:
        sent = await helpers.queue_lab_order_flow.using(producer=system.producer)(
            order_id=w.order_id, company_id=w.lab_id
        )
        assert (sent.queue, sent.name) == ("notification", "fan-out")
        view = await finished(system, "notification", sent.job_id)
        assert view.state == "completed", view.failed_reason
        async with db.session() as s:
            types = set(await s.scalars(select(Document.type).where(Document.job_id.like(
                f"{sent.job_id}-%"))))  # fmt: skip
            notes = list(await s.scalars(select(Notification).where(Notification.user_id == tech)))
        assert {t.value for t in types} == {"order-sheet", "lab-work-ticket"}
        assert [n.title for n in notes] == ["Order ready for the lab"]
        tree = await system.admin.flows.tree("pdf", f"{sent.job_id}-1")
        assert (tree.id, tree.on_child_failure, tree.children_total) == (sent.job_id, "skip", 2)


async def test_the_lab_is_not_told_when_a_pdf_failed(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_pdf_world(db)
    await _lab_technician(db, w)
    async with ils_system(redis_url, prefix, tmp_path, db) as system:
        sent = await helpers.queue_lab_order_flow.using(producer=system.producer)(
            order_id=w.order_id + 1000, company_id=w.lab_id
        )
        view = await finished(system, "notification", sent.job_id)
        assert view.state == "completed"
        assert view.return_value["skipped"] is True
        assert len(view.return_value["failedChildren"]) == 2
        async with db.session() as s:
            assert list(await s.scalars(select(Notification))) == []


async def test_a_bulk_resend_sends_each_invoice_and_one_summary_counts_the_one_it_could_not(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_pdf_world(db)
    async with db.session() as s:
        admin = User(company_id=w.lab_id, email="boss@clearview.example", name="Bea Boss",
                     password_hash="x", role=Role.admin)  # fmt: skip
        first = await s.get(Invoice, w.invoice_id)
        patient = await s.scalar(select(Patient).where(Patient.company_id == w.lab_id))
        order = await s.get(Order, w.order_id)
        assert first is not None and patient is not None and order is not None
        patient.email, order.patient_id = "patient@example.com", patient.id
        second = Invoice(company_id=w.lab_id, number="INV-000008", billing_name="No Pdf Yet",
                         status=InvoiceStatus.issued)  # fmt: skip
        s.add_all([admin, second])
        await s.flush()
        ids, admin_id = [first.id, second.id], admin.id
    async with ils_system(redis_url, prefix, tmp_path, db) as system:
        pdf = await helpers.queue_invoice_pdf.using(producer=system.producer)(
            invoice_id=w.invoice_id
        )
        assert (await finished(system, "pdf", pdf.job_id)).state == "completed"
        async with db.session() as session:
            started = await batches.resend_invoices(session, w.lab_id, ids, admin_id)
        assert started.total == 2
        view = await finished(system, "notification", started.batch_id)
        assert view.state == "completed"
        assert view.return_value["counts"] == {"completed": 1, "failed": 1, "pending": 0}
        progress = await system.admin.batches.get(started.batch_id)
        assert (progress.done, progress.counts["completed"], progress.counts["failed"]) == (
            True, 1, 1
        )  # fmt: skip
        sent = mail(system, f"{started.batch_id}-0")
        assert sent["To"] == "patient@example.com"
        assert [a.get_filename() for a in sent.iter_attachments()] == ["invoice-INV-000007.pdf"]
        failed = await system.admin.get_job("email", f"{started.batch_id}-1")
        assert "INV-000008 has no address" in (failed.failed_reason or "")
        async with db.session() as s:  # the failed email's dead-letter notice may be there too
            notes = list(await s.scalars(select(Notification)))
        [note] = [n for n in notes if n.title.startswith("Resending")]
        assert (note.user_id, note.title) == (admin_id, "Resending 2 invoices")
        assert note.message == "1 of 2 done, 1 failed."
