"""The demand-forecast page in a real browser (Debian's Chromium via Playwright) against
``ils serve``: the reorder list from the company's stored forecast, a product's chart with its
history, forecast line and bands (inline SVG drawn by the page's own script), the service level
changing the quantities, and the not-allowed page for a role that does not buy stock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest_asyncio
from playwright.async_api import Page, expect

from ils.domain.db import Database
from ils.domain.models import AiResultKind, Product, ProductKind, Supplier
from ils.domain.models.accounts import Role
from ils.jobs.ai.data import ProductInfo
from ils.jobs.ai.demand import product_entry
from ils.jobs.ai.forecasting.pipeline import forecast_series
from ils.jobs.ai.results import store
from tests.support.ai_world import WEEKDAY, Shop, add_orders, yesterday
from tests.web.dashboard.conftest import IN_SESSION_LOOP, OWN_COMPANY, SCREENSHOTS, Site, log_in

pytestmark = IN_SESSION_LOOP
WAIT_MS = 20_000


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
async def site_db(site_db: str) -> str:
    """The dashboard tests' database with the lens and its forecast added."""
    await _stock_and_forecast(site_db)
    return site_db


async def test_the_reorder_list_and_a_products_chart(page: Page, site: Site):
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
    await page.locator("#service-level").select_option("0.8")
    await expect(row.locator("td").nth(2)).not_to_have_text(str(at95), timeout=WAIT_MS)
    assert int(await row.locator("td").nth(2).inner_text()) < at95


async def test_a_role_that_does_not_buy_stock_gets_the_not_allowed_page(page: Page, site: Site):
    await log_in(page, site, Role.staff, "/admin/forecasts")
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("main")).to_contain_text("roles that buy stock")
