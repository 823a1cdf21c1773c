"""A company's scheduled work on its own clock: the nightly anomaly scan (03:00 local), the
weekly demand forecast (Monday) and the daily briefing (08:00 local).

Each hands the work to the ai queue as that company's job (:func:`hand_on`), with a job id made
of the job's name, the company and its local day (or ISO week), so a run repeated the same day (a
retry, a run-now) adds nothing twice. A company gone or deactivated since the schedule fired is
skipped, not failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ils.jobs.ai.alerts import anomaly_detection
from ils.jobs.ai.briefing import daily_briefing as briefing
from ils.jobs.ai.demand import demand_forecast
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.jobs.scheduled.runs import scheduled
from ils.queue.declare import JobDef
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.domain.models import Company

USES = ("producer",)


class CompanyRun(Payload):
    """The company the run is for (a schedule of that company fills it in)."""

    company_id: Id


async def active_company(db: Database, company_id: int) -> Company | None:
    from ils.domain.models import Company

    async with db.session() as session:
        company = await session.get(Company, company_id)
    return company if company is not None and company.is_active else None


def local_today(company: Company, now: dt.datetime | None = None) -> dt.date:
    """Today in the company's time zone."""
    from ils.jobs.ai.data import zone

    return (now or dt.datetime.now(dt.UTC)).astimezone(zone(company)).date()


def skipped(company_id: int) -> dict[str, Any]:
    return {"skipped": f"company {company_id} is gone or deactivated"}


async def hand_on(
    ctx: Ctx,
    company_id: int,
    target: JobDef[Any, Any],
    period: Callable[[dt.date], str],
    fields: Callable[[dt.date], dict[str, Any]] = lambda _today: {},
) -> dict[str, Any]:
    """Enqueue ``target`` as the company's job, once per ``period`` of its local today (the
    period is in the job id: ``<job name>-<company>-<period>``), with ``fields`` of today."""
    company = await active_company(ctx.resources.db, company_id)
    if company is None:
        return skipped(company_id)
    today = local_today(company)
    when = period(today)
    options = EnqueueOptions(job_id=f"{target.job_type.name}-{company.id}-{when}")
    helper = target.helper.using(producer=ctx.resources.producer, options=options)
    sent = await helper(company_id=company.id, **fields(today))
    return {"queue": sent.queue, "name": sent.name, "job_id": sent.job_id, "for": when}


def day(today: dt.date) -> str:
    return today.isoformat()


def iso_week(today: dt.date) -> str:
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def company_trigger(
    name: str,
    description: str,
    target: JobDef[Any, Any],
    period: Callable[[dt.date], str],
    fields: Callable[[dt.date], dict[str, Any]] = lambda _today: {},
) -> JobDef[Any, CompanyRun]:
    """Declare the scheduled job type ``name`` that hands ``target`` on (:func:`hand_on`)."""

    async def trigger(payload: CompanyRun, ctx: Ctx) -> dict[str, Any]:
        return await hand_on(ctx, payload.company_id, target, period, fields)

    trigger.__name__ = trigger.__qualname__ = name.replace("-", "_")
    return scheduled(CompanyRun, name=name, description=description, resources=USES)(trigger)


nightly_anomaly_scan = company_trigger(
    "nightly-anomaly-scan", "the company's anomaly detection, nightly (03:00 local)",
    anomaly_detection, day, lambda _today: {"range": "daily"},
)  # fmt: skip
weekly_demand_forecast = company_trigger(
    "weekly-demand-forecast", "the company's demand forecast, weekly (Monday)",
    demand_forecast, iso_week,
)  # fmt: skip
daily_briefing = company_trigger(
    "daily-briefing", "the company's daily briefing (08:00 local)",
    briefing, day, lambda today: {"date": today},
)  # fmt: skip
