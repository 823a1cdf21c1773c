"""Demand forecasts over HTTP: a product's forecast with its history and bands, and the reorder
list (what to order now at a service level, given today's stock and open purchase orders), both
read from the company's latest demand-forecast job; and the company's own service level, which
they use when the query names none (read by the roles that read forecasts, set by its admins).
Another company's product answers 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ils.domain.models import Company, Product
from ils.domain.services import Id
from ils.jobs.ai.forecasting import stored
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.errors import ErrorOut

router = APIRouter(prefix="/api/ai", tags=["ai"])

LEVEL_LOW, LEVEL_HIGH = 0.5, 0.99
LEVEL_MEANS = "the chance of not running out before the next delivery"
ServiceLevel = Annotated[
    float | None,
    Query(ge=LEVEL_LOW, le=LEVEL_HIGH, description=f"{LEVEL_MEANS}; the company's own if absent"),
]


class AiSettings(BaseModel):
    service_level: float = Field(ge=LEVEL_LOW, le=LEVEL_HIGH, description=LEVEL_MEANS)


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
    dependencies=[permit("ai.forecasts")],
    response_model=ProductForecastOut,
    responses={404: {"model": ErrorOut}},
    summary="A product's demand: its recent history, latest forecast with bands, and reorder",
)
async def product_forecast(
    product_id: Id,
    user: CurrentUser,
    session: DbSession,
    service_level: ServiceLevel = None,
) -> dict[str, Any]:
    owned = await get_owned(session, Product, product_id, user)
    return await stored.product_forecast(session, owned, service_level)


@router.get(
    "/reorders",
    dependencies=[permit("ai.forecasts")],
    response_model=ReorderListOut,
    summary="What to order now, riskiest first",
)
async def reorders(
    user: CurrentUser, session: DbSession, service_level: ServiceLevel = None
) -> dict[str, Any]:
    return await stored.reorder_list(session, user.company_id, service_level)


async def _company(session: DbSession, user: CurrentUser) -> Company:
    company = await session.get(Company, user.company_id)
    assert company is not None  # a signed-in user's company exists (foreign key)
    return company


@router.get("/settings", dependencies=[permit("ai.forecasts")], response_model=AiSettings)
async def get_settings(user: CurrentUser, session: DbSession) -> AiSettings:
    """The company's service level: what its reorder suggestions and demand forecasts use when
    none is asked for (the forecast page's default)."""
    return AiSettings(service_level=(await _company(session, user)).service_level)


@router.put("/settings", dependencies=[permit("ai.settings")], response_model=AiSettings)
async def put_settings(
    body: AiSettings, request: Request, user: CurrentUser, session: DbSession
) -> AiSettings:
    """Set the company's service level, which its reorder suggestions and demand forecasts use
    when none is asked for."""
    company = await _company(session, user)
    detail = {"from": company.service_level, "to": body.service_level}
    company.service_level = body.service_level
    await record_audit(session, user, "ai.settings_changed", "company", company.id, detail, request)
    return AiSettings(service_level=company.service_level)
