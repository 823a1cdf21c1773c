"""The daily briefing's job schedulers: one BullMQ job scheduler per company on the ai queue,
firing ``daily-briefing`` at 08:00 in the company's time zone (the seed's cron).

Upserted (idempotently: same id, same pattern) at the start of every process that works the ai
queue, and by :func:`ensure_briefing_schedule` when a company is created; the admin API lists them
through :meth:`ils.queue.admin.QueueAdmin.schedulers`.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.models import Company, CompanyKind
from ils.queue.producer import Producer, job_options

log = logging.getLogger("ils.jobs.ai")

BRIEFING_CRON = "0 8 * * *"
QUEUE, JOB_NAME = "ai", "daily-briefing"


def scheduler_id(company_id: int) -> str:
    return f"daily-briefing-company-{company_id}"


def _tz(name: str | None) -> str:
    try:
        ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: the briefing is scheduled in UTC", name)
        return "UTC"
    return name or "UTC"


async def ensure_briefing_schedule(producer: Producer, company_id: int, timezone: str) -> str:
    """Create or update the company's 08:00 briefing scheduler; its id."""
    job_type = producer.registry.get(QUEUE, JOB_NAME)
    opts = job_options(job_type, producer.settings.queue(QUEUE), None)
    sid = scheduler_id(company_id)
    await producer.queue(QUEUE).upsertJobScheduler(
        sid, {"pattern": BRIEFING_CRON, "tz": _tz(timezone)}, JOB_NAME,
        {"companyId": company_id}, opts,
    )  # fmt: skip
    return sid


async def install_briefing_schedules(db: Database, producer: Producer) -> list[str]:
    """A scheduler for every company that trades (the platform company has no briefing)."""
    async with db.session() as session:
        rows = (await session.execute(
            select(Company.id, Company.timezone).where(Company.kind != CompanyKind.platform)
            .order_by(Company.id)
        )).all()  # fmt: skip
    return [await ensure_briefing_schedule(producer, cid, tz) for cid, tz in rows]
