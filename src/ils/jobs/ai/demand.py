"""The demand-forecast job: a year of daily demand per product, forecast in the model pool
(batches of products spread over its processes, :mod:`ils.jobs.ai.forecasting`), stored with each
product's demand pattern, chosen model, holdout scores, daily bands, the distribution of demand
over lead time + review period, and the reorder quantity at the company's service level given
stock on hand and open purchase orders. SQLAlchemy, the models and the AI data queries are
imported when the job runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import Field

from ils.domain.enums import AiResultKind
from ils.errors import GiveUp, JobCancelled
from ils.jobs.ai.forecasting import reorder
from ils.jobs.ai.results import store
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.jobs.ai.data import ProductInfo

HISTORY_DAYS = 365
BATCH = 10  # products per trip to the pool: few enough to spread, enough to amortise pickling


class DemandForecastTask(Payload):
    """Reorder suggestions cover each supplier's lead time plus ``review_days`` (until the next
    purchase order; default 7) at ``service_level``, by default the company's own (0.95 unless
    its admin set another)."""

    company_id: Id
    horizon_days: int = Field(14, ge=1, le=365)
    product_ids: list[Id] | None = Field(None, max_length=1_000)
    service_level: float | None = Field(None, ge=0.5, le=0.99)
    review_days: int | None = Field(None, ge=0, le=90)


class Loaded(NamedTuple):
    end: dt.date
    products: list[ProductInfo]
    demand: dict[int, list[float]]
    on_order: dict[int, int]
    service_level: float


async def load_demand(ctx: Ctx, payload: DemandForecastTask) -> Loaded:
    """The last day of history (yesterday, local), the products, their daily demand since the
    company's first order (at most a year), their units on open purchase orders, and the service
    level (the payload's, else the company's own)."""
    from sqlalchemy import func, select

    from ils.domain.models import Order
    from ils.jobs.ai import data

    async with ctx.resources.db.session() as session:
        company = await data.company(session, payload.company_id)
        products = await data.products(session, company.id, payload.product_ids)
        if payload.product_ids:
            unknown = sorted(set(payload.product_ids) - {x.id for x in products})
            if unknown:
                raise GiveUp(f"products {unknown} are not products of company {company.id}")
        end = data.local_today(company) - dt.timedelta(days=1)
        first = await session.scalar(
            select(func.min(Order.created_at)).where(Order.company_id == company.id)
        )
        span = HISTORY_DAYS
        if first is not None:
            span = max(
                1, min(HISTORY_DAYS, (end - first.astimezone(data.zone(company)).date()).days + 1)
            )
        days = data.day_range(end, span)
        ids = [x.id for x in products]
        demand = await data.daily_demand(session, company, days, ids)
        on_order = await data.open_purchase_quantities(session, company.id, ids)
    level = payload.service_level or company.service_level
    return Loaded(end, products, demand, on_order, level)


def lead_time(product: ProductInfo) -> int:
    """Days from ordering to delivery: at least one (a delivery never arrives the same day)."""
    return max(1, product.lead_time_days)


def product_entry(
    product: ProductInfo,
    forecast: dict[str, Any],
    first_day: dt.date,
    horizon: int,
    on_order: int,
    service_level: float,
) -> dict[str, Any]:
    dates = [(first_day + dt.timedelta(days=i)).isoformat() for i in range(horizon)]
    bands = {k: forecast[k][:horizon] for k in ("mean", "lower80", "upper80", "lower95", "upper95")}
    lead = lead_time(product)
    suggested = reorder.suggestion(forecast["cover"], product.stock, on_order, lead, service_level)
    return {
        "product_id": product.id, "sku": product.sku, "name": product.name,
        "model": forecast["model"], "rate_model": forecast["rate_model"],
        "pattern": forecast["pattern"], "fallback_reason": forecast.get("fallback_reason"),
        "history_days": forecast["history_days"], "history_total": forecast["history_total"],
        "ignored_days": forecast["ignored_days"], "holdout": forecast["holdout"],
        "cv_error": forecast["cv_error"], "dates": dates, **bands,
        "total": round(sum(bands["mean"]), 1), "cover": forecast["cover"], "stock": product.stock,
        "lead_time_days": lead, "on_order": on_order,
        "reorder": suggested if suggested["quantity"] > 0 else None,
    }  # fmt: skip


async def forecast_all(
    ctx: Ctx, demand: dict[int, list[float]], covers: dict[int, int], horizon: int
) -> dict[int, dict[str, Any]]:
    """Every series forecast in the pool, ``BATCH`` at a time over its processes; progress as
    batches finish, and a stop between them when the job is cancelled."""
    pool = ctx.resources.ai_models
    items = [(pid, series, covers[pid]) for pid, series in demand.items()]
    batches: Sequence[list[tuple[int, list[float], int]]] = [
        items[i : i + BATCH] for i in range(0, len(items), BATCH)
    ]
    out: dict[int, dict[str, Any]] = {}
    pending = {asyncio.ensure_future(pool.run("forecast_batch", b, horizon)) for b in batches}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                out.update(dict(task.result()))
            await ctx.progress(round(100 * len(out) / max(1, len(items))))
            if ctx.cancelled:
                raise JobCancelled(f"cancelled after {len(out)} of {len(items)} products")
    finally:
        for task in pending:
            task.cancel()
    return out


@job(DemandForecastTask, queue="ai", name="demand-forecast", description="demand forecast",
     priority=5, resources=("db", "ai_models"))  # fmt: skip
async def demand_forecast(payload: DemandForecastTask, ctx: Ctx) -> dict[str, Any]:
    """load demand -> forecast in the pool -> entries with reorder suggestions -> store."""
    from ils.jobs.ai.forecasting.summary import summarise  # statistics: when the job runs

    end, products, demand, on_order, level = await load_demand(ctx, payload)
    if not products:
        raise GiveUp(f"company {payload.company_id} has no active products to forecast")
    review = reorder.REVIEW_DAYS if payload.review_days is None else payload.review_days
    covers = {x.id: lead_time(x) + review for x in products}
    forecasts = await forecast_all(ctx, demand, covers, payload.horizon_days)
    first_day = end + dt.timedelta(days=1)
    entries = [product_entry(x, forecasts[x.id], first_day, payload.horizon_days,
                             on_order.get(x.id, 0), level)
               for x in products]  # fmt: skip
    reorders = [e for e in entries if e["reorder"]]
    summary = {
        "history_end": end.isoformat(), "horizon_days": payload.horizon_days,
        "service_level": level, "review_days": review,
        "products": len(entries), "models": dict(Counter(e["model"] for e in entries)),
        "patterns": dict(Counter(e["pattern"]["label"] for e in entries)),
        "holdout": summarise(list(forecasts.values())), "reorders": len(reorders),
    }  # fmt: skip
    result_id = await store(
        ctx.resources.db, payload.company_id, AiResultKind.demand_forecast, ctx.job_id,
        {**summary, "forecasts": entries}, for_date=first_day,
    )  # fmt: skip
    return {"resultId": result_id, **summary}
