"""Reading stored demand forecasts back: a product's latest forecast entry with its recent
history, and the company's reorder list recomputed with today's stock, open purchase orders and
the service level asked for, else the company's own (the percentiles of the lead-time demand are
stored, so a new level needs no new forecast).

Plain SQLAlchemy and Python: the web app reads forecasts without the ai extra.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import AiResult, AiResultKind, Company, Product
from ils.jobs.ai import data
from ils.jobs.ai.forecasting import reorder

HISTORY_SHOWN = 91
RECENT_RESULTS = 5  # a job for a few products does not hide the whole-catalogue one before it


async def _recent(session: AsyncSession, company_id: int) -> list[AiResult]:
    query = (
        select(AiResult)
        .where(AiResult.company_id == company_id, AiResult.kind == AiResultKind.demand_forecast)
        .order_by(AiResult.id.desc())
        .limit(RECENT_RESULTS)
    )
    return list(await session.scalars(query))


def _live(entry: dict[str, Any], product: Product, on_order: int, level: float) -> dict[str, Any]:
    lead = entry["lead_time_days"]
    return reorder.suggestion(entry["cover"], product.stock, on_order, lead, level)


async def _company(session: AsyncSession, company_id: int) -> Company:
    company = await session.get(Company, company_id)
    assert company is not None  # a signed-in user's and a product's company exist (foreign keys)
    return company


async def product_forecast(
    session: AsyncSession, product: Product, level: float | None, today: dt.date | None = None
) -> dict[str, Any]:
    """The product's last ``HISTORY_SHOWN`` days of demand, its latest forecast (None before the
    first demand-forecast job covers it) and the reorder suggestion from it at ``level``, else at
    the company's service level."""
    company = await _company(session, product.company_id)
    level = level or company.service_level
    end = (today or data.local_today(company)) - dt.timedelta(days=1)
    days = data.day_range(end, HISTORY_SHOWN)
    demand = await data.daily_demand(session, company, days, [product.id])
    on_order = (await data.open_purchase_quantities(session, company.id, [product.id])).get(
        product.id, 0
    )
    found: dict[str, Any] | None = None
    made_at = None
    for result in await _recent(session, company.id):
        found = next((e for e in result.data.get("forecasts", [])
                      if e.get("product_id") == product.id), None)  # fmt: skip
        if found is not None:
            made_at = result.created_at
            break
    forecast, suggested = None, None
    if found is not None and "lead_time_days" in found:
        suggested = _live(found, product, on_order, level)
        keys = ("model", "pattern", "fallback_reason", "dates", "mean", "lower80", "upper80",
                "lower95", "upper95", "total", "holdout")  # fmt: skip
        forecast = {"made_at": made_at, **{k: found.get(k) for k in keys}}
    return {
        "product_id": product.id, "sku": product.sku, "name": product.name,
        "stock": product.stock, "on_order": on_order,
        "history": {"dates": [d.isoformat() for d in days], "demand": demand[product.id]},
        "forecast": forecast,
        "reorder": suggested,
    }  # fmt: skip


async def reorder_list(
    session: AsyncSession, company_id: int, level: float | None
) -> dict[str, Any]:
    """What to order now, per product of the company's latest demand forecast, with today's stock
    and open purchase orders, at ``level`` else the company's; the likeliest to run out first."""
    level = level or (await _company(session, company_id)).service_level
    results = await _recent(session, company_id)
    if not results:
        return {"made_at": None, "history_end": None, "service_level": level, "items": []}
    latest = results[0]
    entries = {e["product_id"]: e for e in latest.data.get("forecasts", [])
               if "lead_time_days" in e}  # fmt: skip
    products = list(await session.scalars(
        select(Product).where(Product.company_id == company_id, Product.id.in_(list(entries)))
    ))  # fmt: skip
    on_order = await data.open_purchase_quantities(session, company_id, list(entries))
    items = []
    for product in products:
        s = _live(entries[product.id], product, on_order.get(product.id, 0), level)
        if s["quantity"] > 0:
            items.append({"product_id": product.id, "sku": product.sku, "name": product.name,
                          **s, "text": reorder.sentence(product.sku, s)})  # fmt: skip
    items.sort(key=lambda i: (-i["stockout_risk_without_order"], i["sku"]))
    return {"made_at": latest.created_at, "history_end": latest.data.get("history_end"),
            "service_level": level, "items": items}  # fmt: skip
