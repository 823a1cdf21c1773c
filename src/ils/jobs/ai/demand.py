"""The demand-forecast job: a year of daily demand per product, forecast in the model pool
(batches of products spread over its processes), stored with each product's model, holdout error,
prediction intervals and a reorder suggestion where demand over the supplier's lead time exceeds
the stock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from ils.domain.models import AiResultKind, Order
from ils.jobs.ai import data
from ils.jobs.ai.data import ProductInfo
from ils.jobs.ai.results import store
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.errors import GiveUp, JobCancelled
from ils.queue.registry import Payload

HISTORY_DAYS = 365
BATCH = 10  # products per trip to the pool: few enough to spread, enough to amortise pickling


class DemandForecastTask(Payload):
    company_id: Id
    horizon_days: int = Field(14, ge=1, le=365)
    product_ids: list[Id] | None = Field(None, max_length=1_000)


async def load_demand(
    ctx: Ctx, payload: DemandForecastTask
) -> tuple[dt.date, list[ProductInfo], dict[int, list[float]]]:
    """The last day of history (yesterday, local), the products and their daily demand since the
    company's first order (at most a year)."""
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
        demand = await data.daily_demand(session, company, days, [x.id for x in products])
    return end, products, demand


def summarise_holdout(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean holdout MAPE and WAPE of Holt-Winters against seasonal naive, over the series where
    both were scored (Holt-Winters fitted, some demand in the 30 days held out)."""
    scored = [
        r["holdout"] for r in results
        if r.get("holdout") and r["holdout"]["mape"] is not None
        and r["holdout"]["mape_naive"] is not None
    ]  # fmt: skip

    def mean_of(key: str) -> float | None:
        values = [h[key] for h in scored if h[key] is not None]
        return round(statistics.fmean(values), 2) if values else None

    return {"series": len(scored), "mape": mean_of("mape"), "mape_naive": mean_of("mape_naive"),
            "wape": mean_of("wape"), "wape_naive": mean_of("wape_naive")}  # fmt: skip


def reorder(product: ProductInfo, forecast: dict[str, Any]) -> dict[str, Any] | None:
    """A purchase suggestion when the demand expected over the supplier's lead time exceeds the
    stock: enough to cover the upper 80 % bound of that demand."""
    lead = max(1, product.lead_time_days)
    expected = sum(forecast["mean"][:lead])
    if expected <= product.stock:
        return None
    cover = math.ceil(sum(forecast["upper80"][:lead]))
    return {
        "lead_time_days": lead,
        "expected_demand": round(expected, 1),
        "stock": product.stock,
        "quantity": max(1, cover - product.stock),
    }


def product_entry(
    product: ProductInfo, forecast: dict[str, Any], first_day: dt.date, horizon: int
) -> dict[str, Any]:
    dates = [(first_day + dt.timedelta(days=i)).isoformat() for i in range(horizon)]
    bands = {k: forecast[k][:horizon] for k in ("mean", "lower80", "upper80", "lower95", "upper95")}
    return {
        "product_id": product.id, "sku": product.sku, "name": product.name,
        "model": forecast["model"], "fallback_reason": forecast.get("fallback_reason"),
        "history_days": forecast["history_days"], "history_total": forecast["history_total"],
        "holdout": forecast["holdout"], "dates": dates, **bands,
        "total": round(sum(bands["mean"]), 1), "reorder": reorder(product, forecast),
    }  # fmt: skip


async def forecast_all(
    ctx: Ctx, demand: dict[int, list[float]], horizon: int
) -> dict[int, dict[str, Any]]:
    """Every series forecast in the pool, ``BATCH`` at a time over its processes; progress as
    batches finish, and a stop between them when the job is cancelled."""
    pool = ctx.resources.ai_models
    items = list(demand.items())
    batches: Sequence[list[tuple[int, list[float]]]] = [
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
    end, products, demand = await load_demand(ctx, payload)
    if not products:
        raise GiveUp(f"company {payload.company_id} has no active products to forecast")
    longest = max([payload.horizon_days, *(x.lead_time_days for x in products)])
    forecasts = await forecast_all(ctx, demand, longest)
    first_day = end + dt.timedelta(days=1)
    entries = [product_entry(x, forecasts[x.id], first_day, payload.horizon_days)
               for x in products]  # fmt: skip
    reorders = [e for e in entries if e["reorder"]]
    summary = {
        "history_end": end.isoformat(), "horizon_days": payload.horizon_days,
        "products": len(entries), "models": dict(Counter(e["model"] for e in entries)),
        "holdout": summarise_holdout(list(forecasts.values())), "reorders": len(reorders),
    }  # fmt: skip
    result_id = await store(
        ctx.resources.db, payload.company_id, AiResultKind.demand_forecast, ctx.job_id,
        {**summary, "forecasts": entries}, for_date=first_day,
    )  # fmt: skip
    return {"resultId": result_id, **summary}
