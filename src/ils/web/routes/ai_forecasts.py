"""Demand forecasts over HTTP: a product's forecast with its history and bands, and the reorder
list (what to order now at a service level, given today's stock and open purchase orders), both
read from the company's latest demand-forecast job. Another company's product answers 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ils.domain.models import Product
from ils.domain.services import Id
from ils.jobs.ai.forecasting import stored
from ils.jobs.ai.forecasting.reorder import DEFAULT_SERVICE_LEVEL
from ils.web.auth import CurrentUser, DbSession, get_owned, permit
from ils.web.errors import ErrorOut

router = APIRouter(prefix="/api/ai", tags=["ai"], dependencies=[permit("ai.forecasts")])

ServiceLevel = Annotated[
    float,
    Query(ge=0.5, le=0.99, description="the chance of not running out before the next delivery"),
]


class History(BaseModel):
    dates: list[str]
    demand: list[float]


class ProductForecastOut(BaseModel):
    product_id: int
    sku: str
    name: str
    stock: int
    on_order: int
    history: History
    forecast: dict[str, Any] | None  # None until a demand-forecast job has covered the product
    reorder: dict[str, Any] | None


class ReorderListOut(BaseModel):
    made_at: dt.datetime | None  # the forecast's; None before the first demand-forecast job
    history_end: str | None
    service_level: float
    items: list[dict[str, Any]]


@router.get(
    "/forecasts/products/{product_id}",
    response_model=ProductForecastOut,
    responses={404: {"model": ErrorOut}},
    summary="A product's demand: its recent history, latest forecast with bands, and reorder",
)
async def product_forecast(
    product_id: Id,
    user: CurrentUser,
    session: DbSession,
    service_level: ServiceLevel = DEFAULT_SERVICE_LEVEL,
) -> dict[str, Any]:
    owned = await get_owned(session, Product, product_id, user)
    return await stored.product_forecast(session, owned, service_level)


@router.get("/reorders", response_model=ReorderListOut, summary="What to order now, riskiest first")
async def reorders(
    user: CurrentUser, session: DbSession, service_level: ServiceLevel = DEFAULT_SERVICE_LEVEL
) -> dict[str, Any]:
    return await stored.reorder_list(session, user.company_id, service_level)
