"""The schedules tab in a real browser (Debian's Chromium via Playwright) against ``ils serve``:
a company admin sees its company's schedules with their next runs, pauses, resumes and runs one
now; a platform admin sees every company's and the platform's; staff get the not-allowed page."""

from __future__ import annotations

import datetime as dt

import pytest_asyncio
from playwright.async_api import Page, expect
from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.models import Schedule
from ils.domain.models.accounts import Role
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

NEXT = dt.datetime(2030, 1, 2, 8, 0, tzinfo=dt.UTC)


async def _schedules(url: str) -> None:
    db = Database(url)
    try:
        async with db.session() as s:
            for company, name, job_type, cron in (
                (OWN_COMPANY, "daily briefing", "daily-briefing", "0 8 * * *"),
                (OWN_COMPANY, "nightly anomaly scan", "nightly-anomaly-scan", "0 3 * * *"),
                (OTHER_COMPANY, "their briefing", "daily-briefing", "0 8 * * *"),
                (None, "retention", "retention", "0 * * * *"),
            ):
                s.add(Schedule(company_id=company, name=name, job_type=job_type, cron=cron,
                               payload={}, next_run_at=NEXT))  # fmt: skip
    finally:
        await db.dispose()


async def _enabled(url: str, name: str) -> bool:
    db = Database(url)
    try:
        async with db.session() as s:
            return bool(await s.scalar(select(Schedule.enabled).where(Schedule.name == name)))
    finally:
        await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def site_db(site_db: str) -> str:
    """The dashboard tests' database with schedules of both companies and of the platform."""
    await _schedules(site_db)
    return site_db


async def test_a_company_admin_pauses_resumes_and_runs_its_schedules(
    page: Page, site: Site, site_db: str
):
    await log_in(page, site, Role.company_admin, "/admin/schedules")
    rows = page.locator("#schedules-body tr")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator("#schedules-body")).not_to_contain_text("their briefing")
    briefing = rows.filter(has_text="daily briefing")
    await expect(briefing.locator("td").nth(3)).to_have_text("0 8 * * *")
    await expect(briefing.locator("td").nth(5)).to_have_text("enabled")
    assert "2030" in await briefing.locator("td").nth(7).inner_text()  # the next run
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "schedules-page.png"), full_page=True)
    await briefing.get_by_role("button", name="Pause").click()
    await expect(briefing.locator("td").nth(5)).to_have_text("paused", timeout=WAIT_MS)
    await expect(briefing.locator("td").nth(7)).to_have_text("—")
    assert not await _enabled(site_db, "daily briefing")
    await briefing.get_by_role("button", name="Resume").click()
    await expect(briefing.locator("td").nth(5)).to_have_text("enabled", timeout=WAIT_MS)
    assert await _enabled(site_db, "daily briefing")
    await briefing.get_by_role("button", name="Run now").click()
    await expect(page.locator("#toast")).to_contain_text("daily briefing: job schedule-",
                                                         timeout=WAIT_MS)  # fmt: skip


async def test_a_platform_admin_sees_every_schedule(page: Page, site: Site):
    await log_in(page, site, Role.platform_admin, "/admin/schedules")
    rows = page.locator("#schedules-body tr")
    await expect(rows).to_have_count(4, timeout=WAIT_MS)
    await expect(rows.filter(has_text="retention").locator("td").nth(1)).to_have_text("platform")


async def test_staff_get_the_not_allowed_page(page: Page, site: Site):
    await log_in(page, site, Role.staff, "/admin/schedules")
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
