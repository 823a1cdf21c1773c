"""The daily-briefing job: yesterday's orders and revenue against the usual for that weekday
(the median of the eight same weekdays before), orders at risk, low stock, the anomalies and
insights found since the day before, and the reorder suggestions of the latest demand forecast
("order 12 now, else a 40% risk of running out"); stored as structured data with a short
narrative made from those numbers, then sent as the daily-briefing email and an ai-insight
notification to each recipient (follow-up jobs keyed on this job, so a retry sends nothing twice).
SQLAlchemy, the models and the AI data queries are imported when the job runs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ils.domain.enums import ADMIN_ROLES, AiResultKind, OrderStatus
from ils.errors import GiveUp
from ils.jobs.ai.forecasting import reorder
from ils.jobs.ai.insights import OPEN
from ils.jobs.ai.results import follow_up, latest, store
from ils.jobs.email.handlers import daily_briefing as briefing_email
from ils.jobs.notification.handlers import ai_insight
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.db import Database
    from ils.domain.models import Company

SAME_WEEKDAYS = 8


class DailyBriefingTask(Payload):
    """The briefing of ``date`` (default: today in the company's time zone, as the 08:00 job
    scheduler sends it) about the day before; ``user_ids`` default to the company's admins."""

    company_id: Id
    date: dt.date | None = None
    user_ids: list[Id] = Field(default_factory=list, max_length=500)


async def _day_totals(s: AsyncSession, c: Company, day: dt.date) -> tuple[int, float]:
    from sqlalchemy import func, select

    from ils.domain.models import Order
    from ils.jobs.ai import data

    start, end = data.utc_bounds(c, day, day)
    count, revenue = (await s.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(
            Order.company_id == c.id, Order.status != OrderStatus.cancelled,
            Order.created_at >= start, Order.created_at < end,
        )
    )).one()  # fmt: skip
    return int(count), float(revenue)


async def figures(s: AsyncSession, c: Company, day: dt.date) -> dict[str, Any]:
    """The numbers of ``day`` and of the days before it that the briefing compares."""
    import statistics

    from sqlalchemy import select

    from ils.domain.models import Order, Product

    orders, revenue = await _day_totals(s, c, day)
    before = [await _day_totals(s, c, day - dt.timedelta(weeks=k))
              for k in range(1, SAME_WEEKDAYS + 1)]  # fmt: skip
    usual_orders = statistics.median(n for n, _ in before)
    usual_revenue = statistics.median(r for _, r in before)
    at_risk = (await s.execute(
        select(Order.number, Order.due_date).where(
            Order.company_id == c.id, Order.status.in_(OPEN),
            Order.due_date <= day + dt.timedelta(days=1),
        ).order_by(Order.due_date).limit(20)
    )).all()  # fmt: skip
    low = (await s.execute(
        select(Product.sku, Product.stock, Product.reorder_threshold).where(
            Product.company_id == c.id, Product.active,
            Product.stock <= Product.reorder_threshold,
        ).order_by(Product.stock, Product.sku)
    )).all()  # fmt: skip
    return {
        "day": day.isoformat(), "weekday": f"{day:%A}", "orders": orders,
        "revenue": round(revenue, 2), "usual_orders": usual_orders,
        "usual_revenue": round(usual_revenue, 2),
        "orders_at_risk": [{"number": n, "due_date": d.isoformat() if d else None}
                           for n, d in at_risk],
        "low_stock": [{"sku": k, "stock": st, "reorder_threshold": t} for k, st, t in low],
    }  # fmt: skip


async def reorders(db: Database, company_id: int, since: dt.datetime) -> list[dict[str, Any]]:
    """The reorder suggestions of the company's demand forecast made since ``since``, the
    likeliest to run out first."""
    found = await latest(db, company_id, AiResultKind.demand_forecast, since)
    if found is None:
        return []
    out = [{"sku": e["sku"], "name": e["name"], **e["reorder"]}
           for e in found.data.get("forecasts", []) if e.get("reorder")]  # fmt: skip
    return sorted(out, key=lambda r: (-r["stockout_risk_without_order"], r["sku"]))


def narrative(
    f: dict[str, Any],
    anomalies: list[Any],
    insights: list[Any],
    to_order: list[dict[str, Any]] | None = None,
) -> str:
    """A few sentences, each from the figures above."""

    def versus(value: float, usual: float) -> str:
        if not usual:
            return "no usual figure to compare with"
        return f"{(value - usual) / usual * 100:+.0f}% against a usual {f['weekday']} of {usual:g}"

    orders = versus(f["orders"], f["usual_orders"])
    lines = [
        f"{f['weekday']} {f['day']}: {f['orders']} orders ({orders})"
        f" and revenue of {f['revenue']:,.2f} ({versus(f['revenue'], f['usual_revenue'])}).",
        f"{len(f['orders_at_risk'])} open orders are due by tomorrow or overdue; "
        f"{len(f['low_stock'])} products are at or below their reorder level.",
    ]
    if anomalies:
        lines.append(f"{len(anomalies)} anomalies found since yesterday; the largest: "
                     f"{anomalies[0]['text']}")  # fmt: skip
    if insights:
        lines.append(f"Top insight: {insights[0]['text']}")
    if to_order:
        lines.append(f"{len(to_order)} products to reorder; most urgent: "
                     f"{reorder.sentence(to_order[0]['sku'], to_order[0])}")  # fmt: skip
    return " ".join(lines)


async def recipients(s: AsyncSession, company_id: int, user_ids: list[int]) -> list[int]:
    """The named active users of the company, else its active admins."""
    from sqlalchemy import select

    from ils.domain.models import User

    query = select(User.id).where(User.company_id == company_id, User.is_active)
    query = query.where(User.id.in_(user_ids)) if user_ids else query.where(
        User.role.in_(sorted(ADMIN_ROLES)))  # fmt: skip
    return list(await s.scalars(query.order_by(User.id)))


@job(DailyBriefingTask, queue="ai", name="daily-briefing", description="daily briefing",
     priority=5, resources=("db", "producer"))  # fmt: skip
async def daily_briefing(payload: DailyBriefingTask, ctx: Ctx) -> dict[str, Any]:
    """figures -> fresh anomalies and insights -> narrative -> store -> email and notify."""
    from ils.jobs.ai import data

    db, producer = ctx.resources.db, ctx.resources.producer
    async with db.session() as s:
        company = await data.company(s, payload.company_id)
        today = payload.date or data.local_today(company)
        day = today - dt.timedelta(days=1)
        f = await figures(s, company, day)
        users = await recipients(s, company.id, payload.user_ids)
    if not users:
        raise GiveUp(f"company {payload.company_id} has no active recipient for its briefing")
    since = dt.datetime.combine(day, dt.time(), data.zone(company))
    found = await latest(db, company.id, AiResultKind.anomaly, since)
    facts = await latest(db, company.id, AiResultKind.insight, since)
    anomalies = found.data.get("anomalies", [])[:5] if found else []
    insights = facts.data.get("insights", [])[:3] if facts else []
    to_order = await reorders(db, company.id, since)
    summary = narrative(f, anomalies, insights, to_order)
    ctx.check_cancelled("before storing and sending the briefing")
    result = {**f, "anomalies": anomalies, "insights": insights, "reorders": to_order[:10],
              "summary": summary, "recipients": users}  # fmt: skip
    result_id = await store(db, company.id, AiResultKind.daily_briefing, ctx.job_id, result,
                            for_date=day)  # fmt: skip
    await briefing_email.helper.using(options=follow_up(ctx, "email"), producer=producer)(
        company_id=company.id, user_ids=users, date=day
    )
    for user_id in users:
        notify = ai_insight.helper.using(company_id=company.id, producer=producer,
                                         options=follow_up(ctx, f"notify:{user_id}"))  # fmt: skip
        await notify(user_id=user_id, title=f"Your briefing for {day:%d %b %Y}", message=summary,
                     priority="low", insight_id=result_id)  # fmt: skip
    return {"resultId": result_id, "day": day.isoformat(), "recipients": users}
