"""The dashboard's dead letters and cancellation in a real browser against ``ils serve``: a job
that failed for good is listed, inspected and replayed from its panel (once), another company's
never shows, ``company_admin`` sees its failure masked; a delayed job is cancelled from its
panel. Waits are Playwright's auto-waiting expectations, never sleeps."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from ils.bootstrap import JobSystem
from ils.domain.models.accounts import Role
from ils.errors import JobNotFound
from ils.queue.producer import EnqueueOptions
from tests.web.dashboard.conftest import (
    IN_SESSION_LOOP,
    OTHER_COMPANY,
    OWN_COMPANY,
    SCREENSHOTS,
    WAIT_MS,
    Site,
    log_in,
)
from tests.web.dashboard.test_dashboard_browser import confirm

pytestmark = IN_SESSION_LOOP

ONCE = EnqueueOptions(attempts=1)


async def failed_for_good(system: JobSystem, tag: str, company_id: int) -> str:
    job = await system.producer.enqueue(
        "oma", "test-probe", {"tag": tag, "giveUp": True}, ONCE, company_id=company_id
    )
    assert (await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)).state == "failed"
    return job.job_id


async def test_a_dead_letter_is_listed_inspected_and_replayed_once_from_its_panel(
    page: Page, site: Site, system: JobSystem
):
    mine = await failed_for_good(system, "mine", OWN_COMPANY)
    theirs = await failed_for_good(system, "theirs", OTHER_COMPANY)
    await log_in(page, site, Role.admin)
    rows = page.locator("#dlq-body")
    await expect(rows).to_contain_text(mine, timeout=WAIT_MS)
    await expect(rows).not_to_contain_text(theirs)
    await rows.get_by_role("button", name="Open dead letter").first.click()
    panel = page.locator("#detail")
    await expect(panel.locator("#dlq-reason")).to_have_text("permanent problem")
    await expect(panel.locator("#dlq-payload")).to_contain_text('"tag": "mine"')
    await panel.get_by_role("button", name="Replay", exact=True).click()
    await confirm(page, "Replay")
    await expect(page.locator("#toast")).to_contain_text("Replayed dlq-")
    # Replayed, it leaves the "not replayed yet" list; unfiltered it shows its replay's job.
    await page.locator("#dlq-pending").uncheck()
    replayed = rows.locator("tr", has_text=mine)
    await expect(replayed).to_contain_text("dlq-", timeout=WAIT_MS)
    checkbox = replayed.get_by_role("checkbox")
    await expect(checkbox).to_be_disabled()  # replaying it again would add nothing
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.locator("#dead-letters").screenshot(path=str(SCREENSHOTS / "dead-letters.png"))


async def test_a_company_admin_sees_its_dead_letters_masked(
    page: Page, site: Site, system: JobSystem
):
    mine = await failed_for_good(system, "mine", OWN_COMPANY)
    await log_in(page, site, Role.company_admin)
    row = page.locator("#dlq-body tr", has_text=mine)
    await expect(row).to_contain_text("[personal data hidden]", timeout=WAIT_MS)


async def test_a_delayed_job_is_cancelled_from_its_panel(page: Page, site: Site, system: JobSystem):
    later = EnqueueOptions(delay_s=3600)
    job = await system.producer.enqueue("oma", "test-probe", {"tag": "later"}, later,
                                        company_id=OWN_COMPANY)  # fmt: skip
    await log_in(page, site, Role.admin)
    await page.locator("#jobs-queue").select_option("oma")
    await page.locator("#state-tabs").get_by_role("button", name="delayed").click()
    await page.get_by_role("button", name=f"Open job {job.job_id}").click()
    panel = page.locator("#detail")
    await panel.get_by_role("button", name="Cancel job", exact=True).click()
    await confirm(page, "Cancel job")
    await expect(panel).to_be_hidden(timeout=WAIT_MS)
    with pytest.raises(JobNotFound):
        await system.admin.get_job("oma", job.job_id)
