"""A company's scheduled work on its own clock: the nightly anomaly scan (03:00 local), the
weekly demand forecast (Monday) and the daily briefing (08:00 local).

Each hands the work to the ai queue as that company's job, with a job id made of the company and
its local day (or ISO week), so a run repeated the same day (a retry, a run-now) adds nothing
twice. A company gone or deactivated since the schedule fired is skipped, not failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ils.domain.db import Database
from ils.domain.models import Company
from ils.domain.models.types import utcnow
from ils.jobs.ai.alerts import anomaly_detection
from ils.jobs.ai.briefing import daily_briefing as briefing
from ils.jobs.ai.data import zone
from ils.jobs.ai.demand import demand_forecast
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.jobs.scheduled.runs import scheduled
from ils.queue.producer import Enqueued, EnqueueOptions
from ils.queue.registry import Payload

USES = ("producer",)


class CompanyRun(Payload):
    """The company the run is for (a schedule of that company fills it in)."""

    company_id: Id


async def active_company(db: Database, company_id: int) -> Company | None:
    async with db.session() as session:
        company = await session.get(Company, company_id)
    return company if company is not None and company.is_active else None


def local_today(company: Company, now: dt.datetime | None = None) -> dt.date:
    """Today in the company's time zone."""
    return (now or utcnow()).astimezone(zone(company)).date()


def handed(sent: Enqueued, day: str) -> dict[str, Any]:
    return {"queue": sent.queue, "name": sent.name, "job_id": sent.job_id, "for": day}


def skipped(company_id: int) -> dict[str, Any]:
    return {"skipped": f"company {company_id} is gone or deactivated"}


@scheduled(
    CompanyRun,
    name="nightly-anomaly-scan",
    description="the company's anomaly detection, nightly (03:00 local)",
    resources=USES,
)
async def nightly_anomaly_scan(payload: CompanyRun, ctx: Ctx) -> dict[str, Any]:
    company = await active_company(ctx.resources.db, payload.company_id)
    if company is None:
        return skipped(payload.company_id)
    day = local_today(company).isoformat()
    options = EnqueueOptions(job_id=f"anomaly-scan-{company.id}-{day}")
    sent = await anomaly_detection.helper.using(producer=ctx.resources.producer, options=options)(
        company_id=company.id, range="daily"
    )
    return handed(sent, day)


@scheduled(
    CompanyRun,
    name="weekly-demand-forecast",
    description="the company's demand forecast, weekly (Monday)",
    resources=USES,
)
async def weekly_demand_forecast(payload: CompanyRun, ctx: Ctx) -> dict[str, Any]:
    company = await active_company(ctx.resources.db, payload.company_id)
    if company is None:
        return skipped(payload.company_id)
    year, week, _ = local_today(company).isocalendar()
    options = EnqueueOptions(job_id=f"demand-forecast-{company.id}-{year}w{week:02d}")
    sent = await demand_forecast.helper.using(producer=ctx.resources.producer, options=options)(
        company_id=company.id
    )
    return handed(sent, f"{year}-W{week:02d}")


@scheduled(
    CompanyRun,
    name="daily-briefing",
    description="the company's daily briefing (08:00 local)",
    resources=USES,
)
async def daily_briefing(payload: CompanyRun, ctx: Ctx) -> dict[str, Any]:
    company = await active_company(ctx.resources.db, payload.company_id)
    if company is None:
        return skipped(payload.company_id)
    today = local_today(company)
    options = EnqueueOptions(job_id=f"daily-briefing-{company.id}-{today.isoformat()}")
    sent = await briefing.helper.using(producer=ctx.resources.producer, options=options)(
        company_id=company.id, date=today
    )
    return handed(sent, today.isoformat())
