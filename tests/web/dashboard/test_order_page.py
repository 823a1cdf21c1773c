"""An order's page in a real browser (Debian's Chromium via Playwright) against ``ils serve``: the
lens shapes its OMA file left (uploaded as a ``process-oma-file`` job, drawn by the server's
``oma`` worker), an order without a file saying so, and another company's order not shown."""

from __future__ import annotations

import base64

import pytest_asyncio
from playwright.async_api import Page, expect

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models import Order
from ils.jobs.oma.process import derived_id
from tests.oma.samples import rectangular_job
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

#: The orders the tests' database gets: traced, not traced, another company's.
TRACED, BARE, THEIRS = 1, 2, 3


@pytest_asyncio.fixture(loop_scope="session")
async def site_db(site_db: str) -> str:
    """The dashboard tests' database with two orders of the users' company and one of another."""
    db = Database(site_db)
    try:
        async with db.session() as s:
            s.add_all([
                Order(company_id=OWN_COMPANY, number="ORD-000501", customer_name="Ada Shape"),
                Order(company_id=OWN_COMPANY, number="ORD-000502", customer_name="Bo Plain"),
                Order(company_id=OTHER_COMPANY, number="ORD-000503", customer_name="Cy Other"),
            ])  # fmt: skip
    finally:
        await db.dispose()
    return site_db


async def traced(system: JobSystem) -> None:
    """The traced order's OMA file, processed and drawn by the server's ``oma`` worker."""
    content = base64.b64encode(rectangular_job(400, 50.0, 30.0)).decode()
    job = await system.producer.enqueue(
        "oma", "process-oma-file",
        {"companyId": OWN_COMPANY, "orderId": TRACED, "content": content, "filename": "a.oma"},
        company_id=OWN_COMPANY,
    )  # fmt: skip
    for queued in (job.job_id, derived_id(job.job_id, "render")):
        view = await system.admin.wait_for_job("oma", queued, timeout_s=WAIT_MS / 1000)
        assert view.state == "completed", view.failed_reason


async def test_an_order_shows_the_lens_shapes_of_its_oma_file(
    page: Page, site: Site, site_db: str, system: JobSystem
):
    await traced(system)
    await log_in(page, site, Role.staff, f"/admin/orders/{TRACED}")
    await expect(page.locator("#order-title")).to_have_text("Order ORD-000501", timeout=WAIT_MS)
    await expect(page.locator("#order-customer")).to_have_text("Ada Shape")
    shapes = page.get_by_role("img", name="Lens shapes of order ORD-000501")
    await expect(shapes).to_be_visible(timeout=WAIT_MS)
    # Drawn, not a broken image: the browser decoded the SVG to a picture wider than tall.
    width, height = await shapes.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > height > 0
    download = page.get_by_role("link", name="Download the OMA file")
    await expect(download).to_have_attribute("href", f"/api/orders/{TRACED}/oma")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "order-shapes.png"), full_page=True)


async def test_an_order_without_a_file_says_it_has_no_trace(page: Page, site: Site, site_db: str):
    await log_in(page, site, Role.admin, f"/admin/orders/{BARE}")
    await expect(page.locator("#order-title")).to_have_text("Order ORD-000502", timeout=WAIT_MS)
    await expect(page.locator("#shape-note")).to_contain_text("No trace drawn", timeout=WAIT_MS)
    await expect(page.locator("#trace")).to_be_hidden()


async def test_another_companys_order_is_not_found(page: Page, site: Site, site_db: str):
    await log_in(page, site, Role.company_admin, f"/admin/orders/{THEIRS}")
    await expect(page.locator("#order-note")).to_have_text(
        f"Order {THEIRS} not found.", timeout=WAIT_MS
    )
    await expect(page.locator("#order-facts")).to_be_hidden()
    await expect(page.locator("#shape")).to_be_hidden()
    await expect(page.get_by_text("Cy Other")).to_have_count(0)
