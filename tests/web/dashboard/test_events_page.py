"""The event log page in a real browser (Debian's Chromium via Playwright) against ``ils serve``:
a company admin sees its company's events (not another's), filters them by type and subject (an
order's linking to the order's page); a platform admin sees every company's; staff get the
not-allowed page."""

from __future__ import annotations

import pytest_asyncio
from playwright.async_api import Page, expect

from ils.domain.db import Database
from ils.domain.models.accounts import Role
from ils.events.envelope import Actor
from ils.events.record import record
from tests.web.dashboard.conftest import (
    IN_SESSION_LOOP,
    OTHER_COMPANY,
    OWN_COMPANY,
    SCREENSHOTS,
    WAIT_MS,
    Site,
    log_in,
)

pytestmark = IN_SESSION_LOOP


def created(order_id: int) -> dict[str, object]:
    return {"order_id": order_id, "number": f"ORD-{order_id:06d}", "status": "pending",
            "customer_name": "Ada", "total": "12.50", "line_count": 1}  # fmt: skip


async def _events(url: str) -> None:
    db = Database(url)
    try:
        async with db.session() as s:
            for company, order_id in ((OWN_COMPANY, 11), (OWN_COMPANY, 12), (OTHER_COMPANY, 21)):
                await record(s, "order.created", company_id=company, subject=("order", order_id),
                             data=created(order_id), actor=Actor.user(1))  # fmt: skip
            delivered = {"order_id": 11, "number": "ORD-000011"}
            await record(s, "order.delivered", company_id=OWN_COMPANY, subject=("order", 11),
                         data=delivered, actor=Actor.system("j-1"))  # fmt: skip
    finally:
        await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def site_db(site_db: str) -> str:
    """The dashboard tests' database with events of both companies."""
    await _events(site_db)
    return site_db


async def test_a_company_admin_reads_and_filters_its_companys_events(
    page: Page, site: Site, site_db: str
):
    await log_in(page, site, Role.company_admin, "/admin/events")
    body = page.locator("#events-body")
    await expect(body).to_contain_text("ORD-000012", timeout=WAIT_MS)
    await expect(body).not_to_contain_text("ORD-000021")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "events-page.png"), full_page=True)
    await page.get_by_label("Type").select_option("order.created")
    await expect(page.locator("#events-body tr")).to_have_count(2, timeout=WAIT_MS)
    await page.get_by_label("Subject").fill("order 11")
    await page.get_by_label("Subject").press("Enter")
    await page.get_by_label("Type").select_option("")
    rows = page.locator("#events-body tr")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    await expect(rows.first).to_contain_text("order.delivered v1")
    await expect(rows.first).to_contain_text("system (job j-1)")
    link = rows.first.get_by_role("link", name="order 11")
    await expect(link).to_have_attribute("href", "/admin/orders/11")


async def test_a_platform_admin_sees_every_companys_events(page: Page, site: Site, site_db: str):
    await log_in(page, site, Role.platform_admin, "/admin/events")
    await page.get_by_label("Type").select_option("order.created")
    rows = page.locator("#events-body tr")
    await expect(rows).to_have_count(3, timeout=WAIT_MS)
    await expect(page.locator("#events-body")).to_contain_text("ORD-000021")


async def test_staff_get_the_not_allowed_page(page: Page, site: Site, site_db: str):
    await log_in(page, site, Role.staff, "/admin/events")
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
