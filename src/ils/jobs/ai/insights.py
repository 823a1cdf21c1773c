"""The insight-generation job: facts computed from the company's data for a period (ending
yesterday) against the period before — revenue growth, mix shifts, slow movers, stock at risk,
overdue orders, examinations due for recall — each a sentence built from its numbers, ranked by
how much it matters, and stored.

Every fact carries the numbers it was computed from; nothing is said that no number backs.
SQLAlchemy, the models and the AI data queries are imported when the job runs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

from ils.domain.enums import AiResultKind, OrderStatus
from ils.jobs.ai.results import store
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.models import Company

PERIOD_DAYS = {"week": 7, "month": 30, "quarter": 91}
TYPES_OF = {"growth": "revenue", "mix": "revenue", "slow-movers": "inventory",
            "stock-at-risk": "inventory", "overdue": "operations",
            "recalls": "patient-care"}  # fmt: skip
OPEN = (OrderStatus.pending, OrderStatus.in_production, OrderStatus.quality_check)
InsightType = Literal["revenue", "inventory", "patient-care", "operations", "all"]
InsightPeriod = Literal["week", "month", "quarter"]


class InsightGenerationTask(Payload):
    """Facts about the last ``period`` (ending yesterday) against the one before it."""

    company_id: Id
    type: InsightType = "all"
    period: InsightPeriod = "month"


def fact(kind: str, score: float, text: str, **numbers: Any) -> dict[str, Any]:
    return {"kind": kind, "type": TYPES_OF[kind], "score": round(score, 2), "text": text,
            "numbers": numbers}  # fmt: skip


def pct(new: float, old: float) -> float | None:
    return None if old == 0 else (new - old) / old * 100


async def _window_totals(
    s: AsyncSession, c: Company, first: dt.date, last: dt.date
) -> tuple[int, float, dict[str, float]]:
    from sqlalchemy import func, select

    from ils.domain.models import Order, OrderLine
    from ils.jobs.ai import data

    start, end = data.utc_bounds(c, first, last)
    live = (Order.company_id == c.id, Order.status != OrderStatus.cancelled,
            Order.created_at >= start, Order.created_at < end)  # fmt: skip
    count, revenue = (await s.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(*live)
    )).one()  # fmt: skip
    by_kind: dict[str, float] = defaultdict(float)
    rows = await s.execute(
        select(OrderLine.kind, OrderLine.line_total).join(Order, Order.id == OrderLine.order_id)
        .where(*live)
    )  # fmt: skip
    for kind, total in rows:
        by_kind[kind.value] += float(total)
    return int(count), float(revenue), dict(by_kind)


async def revenue_facts(s: AsyncSession, c: Company, end: dt.date, days: int) -> list[Any]:
    first, prev_last = end - dt.timedelta(days=days - 1), end - dt.timedelta(days=days)
    n, revenue, mix = await _window_totals(s, c, first, end)
    pn, prev_revenue, prev_mix = await _window_totals(
        s, c, prev_last - dt.timedelta(days=days - 1), prev_last
    )
    out = []
    growth = pct(revenue, prev_revenue)
    if growth is not None:
        out.append(fact(
            "growth", abs(growth),
            f"Revenue was {revenue:,.2f} over the last {days} days, {growth:+.1f}% against "
            f"{prev_revenue:,.2f} the {days} days before ({n} orders against {pn}).",
            revenue=round(revenue, 2), previous_revenue=round(prev_revenue, 2),
            growth_pct=round(growth, 1), orders=n, previous_orders=pn,
        ))  # fmt: skip
    total, prev_total = sum(mix.values()), sum(prev_mix.values())
    if total and prev_total:
        for kind in sorted(set(mix) | set(prev_mix)):
            share, before = mix.get(kind, 0) / total * 100, prev_mix.get(kind, 0) / prev_total * 100
            if abs(share - before) >= 2:
                out.append(fact(
                    "mix", abs(share - before) * 2,
                    f"{kind.capitalize()} lines made {share:.1f}% of line revenue, against "
                    f"{before:.1f}% the period before ({share - before:+.1f} points).",
                    line_kind=kind, share_pct=round(share, 1), previous_share_pct=round(before, 1),
                ))  # fmt: skip
    return out


async def inventory_facts(s: AsyncSession, c: Company, end: dt.date, days: int) -> list[Any]:
    from ils.jobs.ai import data

    products = await data.products(s, c.id)
    span = data.day_range(end, days)
    demand = await data.daily_demand(s, c, span, [x.id for x in products])
    out = []
    slow = [x for x in products if x.stock > 0 and sum(demand[x.id]) == 0]
    if slow:
        units = sum(x.stock for x in slow)
        value = sum(float(x.price) * x.stock for x in slow)
        names = ", ".join(x.sku for x in sorted(slow, key=lambda x: -x.stock)[:5])
        out.append(fact(
            "slow-movers", min(100.0, len(slow) * 2),
            f"{len(slow)} products with {units} units in stock (worth {value:,.2f} at price) "
            f"sold nothing in the last {days} days, e.g. {names}.",
            products=len(slow), units=units, value=round(value, 2),
        ))  # fmt: skip
    for x in products:
        rate = sum(demand[x.id]) / days
        cover = x.stock / rate if rate else None
        if cover is not None and cover < x.lead_time_days:
            out.append(fact(
                "stock-at-risk", 50 + (x.lead_time_days - cover) * 5,
                f"{x.sku} ({x.name}) has {x.stock} in stock at {rate:.1f} a day: {cover:.1f} days "
                f"of cover against a {x.lead_time_days}-day supplier lead time.",
                product_id=x.id, sku=x.sku, stock=x.stock, daily_rate=round(rate, 2),
                days_of_cover=round(cover, 1), lead_time_days=x.lead_time_days,
            ))  # fmt: skip
    return out


async def operations_facts(s: AsyncSession, c: Company, end: dt.date) -> list[Any]:
    from sqlalchemy import select

    from ils.domain.models import Order

    rows = (await s.execute(
        select(Order.number, Order.due_date).where(
            Order.company_id == c.id, Order.status.in_(OPEN), Order.due_date < end
        ).order_by(Order.due_date)
    )).all()  # fmt: skip
    if not rows:
        return []
    late = max((end - due).days for _, due in rows if due is not None)
    return [fact(
        "overdue", 40 + len(rows) * 3,
        f"{len(rows)} open orders are past their due date, the oldest by {late} days "
        f"({rows[0][0]}).",
        orders=len(rows), oldest_days=late, oldest=rows[0][0],
    )]  # fmt: skip


async def recall_facts(s: AsyncSession, c: Company, end: dt.date) -> list[Any]:
    from sqlalchemy import func, select

    from ils.domain.models import Examination

    soon = end + dt.timedelta(days=30)
    due, overdue = (await s.execute(
        select(
            func.count().filter(Examination.recall_due.between(end, soon)),
            func.count().filter(Examination.recall_due < end),
        ).where(Examination.company_id == c.id)
    )).one()  # fmt: skip
    if not (due or overdue):
        return []
    return [fact(
        "recalls", 30 + int(due) + int(overdue) / 4,
        f"{due} examinations fall due for recall in the next 30 days; {overdue} recalls are "
        f"already past due.",
        due_next_30_days=int(due), past_due=int(overdue),
    )]  # fmt: skip


async def compute(
    s: AsyncSession, c: Company, end: dt.date, kind: str, days: int
) -> list[dict[str, Any]]:
    """The facts of ``kind`` (or all), highest score first."""
    facts: list[dict[str, Any]] = []
    if kind in ("revenue", "all"):
        facts += await revenue_facts(s, c, end, days)
    if kind in ("inventory", "all"):
        facts += await inventory_facts(s, c, end, days)
    if kind in ("operations", "all"):
        facts += await operations_facts(s, c, end)
    if kind in ("patient-care", "all"):
        facts += await recall_facts(s, c, end)
    return sorted(facts, key=lambda f: -f["score"])


@job(InsightGenerationTask, queue="ai", name="insight-generation",
     description="insight generation", priority=4, resources=("db",))  # fmt: skip
async def insight_generation(payload: InsightGenerationTask, ctx: Ctx) -> dict[str, Any]:
    """compute the facts -> rank -> store."""
    from ils.jobs.ai import data

    db = ctx.resources.db
    days = PERIOD_DAYS[payload.period]
    async with db.session() as s:
        company = await data.company(s, payload.company_id)
        end = data.local_today(company) - dt.timedelta(days=1)
        facts = await compute(s, company, end, payload.type, days)
    ctx.check_cancelled("before storing the insights")
    result = {"type": payload.type, "period": payload.period, "period_days": days,
              "period_end": end.isoformat(), "insights": facts}  # fmt: skip
    result_id = await store(db, payload.company_id, AiResultKind.insight, ctx.job_id, result,
                            for_date=end)  # fmt: skip
    return {"resultId": result_id, "insights": len(facts)}
