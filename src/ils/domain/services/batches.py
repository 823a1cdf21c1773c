"""The ILS's batches, each many jobs with one completion callback (see
:func:`ils.queue.flows.send_batch`): the bulk resend of a company's invoices (each emailed with
its PDF; the user who asked is told how many went out), and the daily briefings of every company
(the platform admins are told once they have all run). Both go through the caller's outbox: the
batch exists once the transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import Company, CompanyKind, Invoice, InvoiceStatus
from ils.errors import Invalid
from ils.jobs.ai.briefing import daily_briefing
from ils.jobs.email.invoice import invoice_email
from ils.jobs.notification.handlers import batch_summary
from ils.queue.flows import send_batch
from ils.queue.producer import Enqueued

#: The most invoices one resend takes.
MAX_RESEND = 1_000


@dataclass(frozen=True)
class StartedBatch:
    """A batch just enqueued: its id (its callback's job id), how many jobs it has, and its
    callback's queue and job name."""

    batch_id: str
    total: int
    queue: str
    callback: str

    @classmethod
    def of(cls, enqueued: Enqueued, total: int) -> StartedBatch:
        return cls(enqueued.job_id, total, enqueued.queue, enqueued.name)


async def resend_invoices(
    session: AsyncSession, company_id: int, invoice_ids: Sequence[int], user_id: int
) -> StartedBatch:
    """Email each of the company's issued (or paid) invoices ``invoice_ids`` again, its newest
    PDF attached; ``user_id`` is told the outcome. An id that is not such an invoice of the
    company is :class:`Invalid` on ``invoice_ids`` (nothing is queued)."""
    ids = list(dict.fromkeys(invoice_ids))
    if not 1 <= len(ids) <= MAX_RESEND:
        raise Invalid("invoice_ids", f"give 1 to {MAX_RESEND} invoices, not {len(ids)}")
    found = set(
        await session.scalars(
            select(Invoice.id).where(
                Invoice.company_id == company_id,
                Invoice.id.in_(ids),
                Invoice.status.in_([InvoiceStatus.issued, InvoiceStatus.paid]),
            )
        )
    )
    if missing := [i for i in ids if i not in found]:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise Invalid("invoice_ids", f"not issued invoices of this company: {shown}")
    callback = batch_summary.step(
        user_id=user_id, title=f"Resending {len(ids)} invoices", action_url="/invoices"
    )
    jobs = [invoice_email.step(invoice_id=i) for i in ids]
    sent = await send_batch(callback, jobs, company_id=company_id, session=session)
    return StartedBatch.of(sent, len(jobs))


async def daily_briefings(session: AsyncSession, day: dt.date | None = None) -> StartedBatch:
    """The daily briefing of every company (the platform's aside), then one summary for the
    platform admins; ``day`` is the briefing's date (by default each company's today)."""
    companies = list(
        await session.scalars(
            select(Company.id).where(Company.kind != CompanyKind.platform).order_by(Company.id)
        )
    )
    if not companies:
        raise Invalid("companies", "there is no company to brief")
    callback = batch_summary.step(title=f"Daily briefings of {len(companies)} companies")
    jobs = [daily_briefing.step(company_id=c, date=day) for c in companies]
    return StartedBatch.of(await send_batch(callback, jobs, session=session), len(jobs))
