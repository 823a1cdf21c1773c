"""The demand-forecast page in a real browser (Debian's Chromium via Playwright) against
``ils serve``: the reorder list from the company's stored forecast, a product's chart with its
history, forecast line and bands (inline SVG drawn by the page's own script), the service level
changing the quantities, the company's own level shown by default (no ``?service_level=`` sent
until the user picks another) and saved by a company admin but not by a dispenser, and the
not-allowed page for a role that does not buy stock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest_asyncio
from playwright.async_api import Page, Request, expect

from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models import AiResultKind, Company, Product, ProductKind, Supplier
from ils.jobs.ai.data import ProductInfo
from ils.jobs.ai.demand import product_entry
from ils.jobs.ai.forecasting.pipeline import forecast_series
from ils.jobs.ai.results import store
from tests.support.ai_world import WEEKDAY, Shop, add_orders, yesterday
from tests.web.conftest import add_user
from tests.web.dashboard.conftest import (
    IN_SESSION_LOOP,
    OWN_COMPANY,
    SCREENSHOTS,
    WAIT_MS,
    Site,
    email,
    log_in,
)

pytestmark = IN_SESSION_LOOP


async def _stock_and_forecast(url: str) -> None:
    """A lens selling about 3 a day for 120 days with 2 in stock, and its stored forecast."""
    db = Database(url)
    try:
        async with db.session() as s:
            supplier = Supplier(company_id=OWN_COMPANY, name="Lens Co", lead_time_days=5)
            s.add(supplier)
            await s.flush()
            product = Product(company_id=OWN_COMPANY, sku="SV-160", name="SV 1.60",
                              kind=ProductKind.lens, supplier_id=supplier.id,
                              price=Decimal("20.00"), stock=2)  # fmt: skip
            s.add(product)
            await s.flush()
            rng = np.random.default_rng(5)
            first = yesterday() - dt.timedelta(days=119)
            days = [first + dt.timedelta(days=d) for d in range(120)]
            history = [int(rng.poisson(3 * WEEKDAY[d.weekday()])) for d in days]
            shop = Shop(OWN_COMPANY, 0, 0, [product.id], [product.sku], supplier.id)
            sales = {d: [(product.id, q)] for d, q in zip(days, history, strict=True) if q}
            await add_orders(db_session=s, shop=shop, sales=sales, price=Decimal("20.00"))
            info = ProductInfo(product.id, product.sku, product.name, "lens", 2, 0, 5, True,
                               product.price)  # fmt: skip
        forecast = forecast_series([float(q) for q in history], 14, 12, scored=False)
        entry = product_entry(info, forecast, yesterday() + dt.timedelta(days=1), 14, 0, 0.95)
        await store(db, OWN_COMPANY, AiResultKind.demand_forecast, "page-test",
                    {"history_end": yesterday().isoformat(), "forecasts": [entry]})  # fmt: skip
    finally:
        await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def site_db(site_db: str, password_hash: str) -> str:
    """The dashboard tests' database with the lens and its forecast added, and a dispenser."""
    await _stock_and_forecast(site_db)
    db = Database(site_db)
    try:
        await add_user(db, OWN_COMPANY, email(Role.dispenser), Role.dispenser, password_hash)
    finally:
        await db.dispose()
    return site_db


def level_queries(page: Page) -> list[str | None]:
    """The ``service_level`` query of each forecast request the page makes, None when absent."""
    seen: list[str | None] = []

    def record(request: Request) -> None:
        if "/api/ai/reorders" in request.url or "/api/ai/forecasts/" in request.url:
            seen.append(parse_qs(urlsplit(request.url).query).get("service_level", [None])[0])

    page.on("request", record)
    return seen


async def test_the_reorder_list_and_a_products_chart(page: Page, site: Site):
    queries = level_queries(page)
    await log_in(page, site, Role.company_admin, "/admin/forecasts")
    row = page.locator("#reorders-body tr")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row.locator("td").first).to_have_text("SV-160")
    at95 = int(await row.locator("td").nth(2).inner_text())
    assert at95 > 20  # about 3 a day over lead time 5 + review 7, 2 in stock
    chart = page.locator("#chart-forecast svg")
    await expect(chart).to_be_visible(timeout=WAIT_MS)
    await expect(chart.locator(".bar-history").first).to_be_attached()
    await expect(chart.locator(".forecast-line")).to_have_count(1)
    await expect(chart.locator("polygon.band-95")).to_have_count(1)
    await expect(chart.locator("polygon.band-80")).to_have_count(1)
    await expect(page.locator("#product-caption")).to_contain_text(f"order {at95} now")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "forecast-page.png"), full_page=True)
    # The company's level (0.95, the default) is shown, and no request names one.
    level = page.locator("#service-level")
    await expect(level).to_have_value("0.95")
    await expect(level.locator("option:checked")).to_have_text("95 % (company's)")
    await expect(page.locator("#save-level")).to_be_hidden()
    assert queries and set(queries) == {None}, queries
    await level.select_option("0.8")
    await expect(row.locator("td").nth(2)).not_to_have_text(str(at95), timeout=WAIT_MS)
    at80 = int(await row.locator("td").nth(2).inner_text())
    assert at80 < at95 and queries[-1] == "0.8", queries
    # A company admin makes the pick the company's level: saved, and the default from then on.
    await page.locator("#save-level").click()
    await expect(page.locator("#level-note")).to_have_text(
        "Saved: the company's service level is now 80 %.", timeout=WAIT_MS
    )
    await expect(page.locator("#save-level")).to_be_hidden()
    settings = await page.request.get(f"{site.url}/api/ai/settings")  # the session's cookies
    assert settings.ok and await settings.json() == {"service_level": 0.8}
    queries.clear()
    await page.reload()
    await expect(level).to_have_value("0.8", timeout=WAIT_MS)
    await expect(level.locator("option:checked")).to_have_text("80 % (company's)")
    await expect(row.locator("td").nth(2)).to_have_text(str(at80), timeout=WAIT_MS)
    await expect(page.locator("#product-caption")).to_contain_text(f"order {at80} now")
    assert queries and set(queries) == {None}, queries


async def test_a_dispenser_sees_the_companys_level_and_cannot_save_it(
    page: Page, site: Site, site_db: str
):
    db = Database(site_db)
    try:
        async with db.session() as s:
            company = await s.get(Company, OWN_COMPANY)
            assert company is not None
            company.service_level = 0.93  # not one of the page's presets
    finally:
        await db.dispose()
    queries = level_queries(page)
    await log_in(page, site, Role.dispenser, "/admin/forecasts")
    row = page.locator("#reorders-body tr")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    level = page.locator("#service-level")
    await expect(level).to_have_value("0.93")
    await expect(level.locator("option:checked")).to_have_text("93 % (company's)")
    await expect(page.locator("#reorders-note")).to_contain_text("at 93 % service")
    await expect(page.locator("#save-level")).to_have_count(0)  # setting it is the admins'
    await level.select_option("0.99")
    await expect(page.locator("#reorders-note")).to_contain_text("at 99 % service", timeout=WAIT_MS)
    # The list and the product at the company's level, then the list (and product) at the pick.
    assert queries[:2] == [None, None] and set(queries[2:]) == {"0.99"}, queries


async def test_a_role_that_does_not_buy_stock_gets_the_not_allowed_page(page: Page, site: Site):
    await log_in(page, site, Role.staff, "/admin/forecasts")
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("main")).to_contain_text("roles that buy stock")
