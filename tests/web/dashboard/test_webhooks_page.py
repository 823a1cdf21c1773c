"""The webhooks page in a real browser (Debian's Chromium via Playwright) against ``ils serve``: a
company admin adds an endpoint, test-sends, rotates its secret, disables and enables it, and
opens its delivery log; a bad URL is refused naming the field; another company's
endpoint is not listed; staff get the not-allowed page."""

from __future__ import annotations

import pytest_asyncio
from playwright.async_api import Page, expect

from ils.domain.db import Database
from ils.domain.models import WebhookEndpoint
from ils.domain.models.accounts import Role
from tests.web.dashboard.conftest import (
    IN_SESSION_LOOP,
    OTHER_COMPANY,
    SCREENSHOTS,
    WAIT_MS,
    Site,
    log_in,
)

pytestmark = IN_SESSION_LOOP


@pytest_asyncio.fixture(loop_scope="session")
async def site_db(site_db: str) -> str:
    """The dashboard tests' database with an endpoint of the other company."""
    db = Database(site_db)
    try:
        async with db.session() as s:
            theirs = WebhookEndpoint(
                company_id=OTHER_COMPANY, url="https://theirs.example/hook",
                event_types=["order.created"], secret="whsec_dGhlaXJz",
            )  # fmt: skip
            s.add(theirs)
    finally:
        await db.dispose()
    return site_db


async def test_a_company_admin_manages_an_endpoint(page: Page, site: Site) -> None:
    await log_in(page, site, Role.company_admin, "/admin/webhooks")
    await expect(page.locator("#endpoints-note")).to_have_text("No endpoints yet.", timeout=WAIT_MS)
    await page.fill("#add-url", "http://lab-system.example/hook")
    await page.select_option("#add-types", ["order.shipped", "invoice.paid"])
    await page.get_by_role("button", name="Add").click()
    await expect(page.locator("#add-error")).to_contain_text("url:", timeout=WAIT_MS)
    await page.fill("#add-url", "https://lab-system.example/hook")
    await page.get_by_role("button", name="Add").click()
    rows = page.locator("#endpoints-body tr")
    await expect(rows).to_have_count(1, timeout=WAIT_MS)
    row = rows.first
    await expect(row.locator("td").nth(2)).to_have_text("invoice.paid, order.shipped")
    await expect(row.locator("td").nth(3)).to_have_text("enabled")
    secret = await row.locator("td").nth(5).inner_text()
    assert secret.startswith("whsec_")
    await row.get_by_role("button", name="Rotate secret").click()
    await expect(row.locator("td").nth(5)).not_to_have_text(secret, timeout=WAIT_MS)
    await row.get_by_role("button", name="Test").click()
    await expect(page.locator("#toast")).to_contain_text("test event", timeout=WAIT_MS)
    await row.get_by_role("button", name="Disable").click()
    await expect(row.locator("td").nth(3)).to_have_text("disabled: disabled by hand",
                                                        timeout=WAIT_MS)  # fmt: skip
    await row.get_by_role("button", name="Enable").click()
    await expect(row.locator("td").nth(3)).to_have_text("enabled", timeout=WAIT_MS)
    await row.get_by_role("button", name="Deliveries").click()
    await expect(page.locator("#deliveries-of")).to_contain_text("lab-system.example",
                                                                 timeout=WAIT_MS)  # fmt: skip
    await expect(page.locator("#endpoints-body")).not_to_contain_text("theirs.example")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "webhooks-page.png"), full_page=True)


async def test_staff_get_the_not_allowed_page(page: Page, site: Site) -> None:
    await log_in(page, site, Role.staff, "/admin/webhooks")
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
