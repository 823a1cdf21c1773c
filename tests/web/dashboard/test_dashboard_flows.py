"""The dashboard shows flows and batches (Chromium against ``ils serve``): a batch callback's
panel draws its flow as a tree and the batch's progress; a click on a child opens that job,
whose panel shows the same tree from its root; a waiting callback is cancelled from its panel
with its jobs, the notice saying what went."""

from __future__ import annotations

from playwright.async_api import Page, expect

from ils.bootstrap import JobSystem
from ils.domain.models.accounts import Role
from ils.queue.flows import send_batch
from ils.queue.producer import EnqueueOptions
from tests.test_flows import PARENT, PROBE
from tests.web.dashboard.conftest import (
    IN_SESSION_LOOP,
    OWN_COMPANY,
    SCREENSHOTS,
    WAIT_MS,
    Site,
    log_in,
)
from tests.web.dashboard.test_dashboard_browser import confirm

pytestmark = IN_SESSION_LOOP


async def test_a_batch_callbacks_panel_shows_its_flow_and_progress(
    page: Page, site: Site, system: JobSystem
):
    jobs = [PROBE.step(tag=f"lens-{i}") for i in range(3)]
    sent = await send_batch(
        PARENT.step(tag="batch"), jobs, company_id=OWN_COMPANY, producer=system.producer
    )
    assert (await system.admin.wait_for_job("oma", sent.job_id, timeout_s=60)).state == (
        "completed"
    )
    await log_in(page, site, Role.admin)
    await page.locator("#jobs-queue").select_option("oma")
    await page.locator("#state-tabs").get_by_role("button", name="completed").click()
    await page.get_by_role("button", name=f"Open job {sent.job_id}", exact=True).click()
    panel = page.locator("#detail")
    await expect(panel).to_be_visible()
    tree = panel.locator("#detail-flow")
    await expect(tree).to_contain_text("oma/test-parent", timeout=WAIT_MS)
    await expect(tree.locator("li li")).to_have_count(3)
    await expect(tree).to_contain_text("a failed child: continue")
    batch = panel.locator("#detail-batch")
    await expect(batch).to_contain_text("Jobs3")
    await expect(batch).to_contain_text("completed3")
    SCREENSHOTS.mkdir(exist_ok=True)
    await tree.scroll_into_view_if_needed()
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-flow.png"))

    child = f"{sent.job_id}-1"
    await tree.get_by_role("button", name=f"Open job {child}", exact=True).click()
    await expect(panel.locator("#detail-title")).to_contain_text(child, timeout=WAIT_MS)
    await expect(panel.locator("#detail-flow strong")).to_have_text("oma/test-probe")
    await expect(panel.locator("#detail-flow")).to_contain_text("oma/test-parent")
    await expect(panel.locator("#detail-batch")).to_have_count(0)


async def test_a_waiting_batch_callback_is_cancelled_with_its_jobs_from_its_panel(
    page: Page, site: Site, system: JobSystem
):
    later = EnqueueOptions(delay_s=3600)
    jobs = [PROBE.step(tag=f"later-{i}").using(later) for i in range(2)]
    sent = await send_batch(
        PARENT.step(tag="batch"), jobs, company_id=OWN_COMPANY, producer=system.producer
    )
    await log_in(page, site, Role.admin)
    await page.locator("#jobs-queue").select_option("oma")
    await page.locator("#state-tabs").get_by_role("button", name="waiting-children").click()
    await page.get_by_role("button", name=f"Open job {sent.job_id}", exact=True).click()
    panel = page.locator("#detail")
    await panel.get_by_role("button", name="Cancel job", exact=True).click()
    await confirm(page, "Cancel job")
    await expect(page.locator("#toast")).to_contain_text(
        "2 removed, 1 waiting parent(s) to end cancelled", timeout=WAIT_MS
    )
    view = await system.admin.wait_for_job("oma", sent.job_id, timeout_s=60)
    assert view.state == "cancelled"
