"""The dashboard in a real browser (Debian's Chromium via Playwright) against ``ils serve``:
live counts, a failed job retried from its panel, pause and resume, who may see and do what (a
company's admin sees its company's jobs only), and the Redis-down banner. Waits are Playwright's
auto-waiting expectations, never sleeps."""

from __future__ import annotations

from playwright.async_api import Page, expect

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
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

pytestmark = IN_SESSION_LOOP


def count(page: Page, queue: str, state: str):  # type: ignore[no-untyped-def]
    return page.locator(f"#card-{queue} [data-count={state}]")


async def confirm(page: Page, label: str) -> None:
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name=label, exact=True).click()
    await expect(dialog).to_be_hidden()


async def test_counts_follow_jobs_as_they_are_enqueued_and_processed(
    page: Page, site: Site, system: JobSystem
):
    await system.admin.actions.pause("oma")  # the jobs wait until the test resumes the queue
    await log_in(page, site, Role.admin)
    await expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)
    await expect(count(page, "oma", "waiting")).to_have_text("0", timeout=WAIT_MS)
    for i in range(3):
        await system.producer.enqueue(
            "oma", "test-probe", {"tag": f"job-{i}"}, company_id=OWN_COMPANY
        )
    await expect(count(page, "oma", "waiting")).to_have_text("3", timeout=WAIT_MS)
    await expect(count(page, "oma", "paused")).to_have_text("3")
    await expect(page.locator("#card-oma .badge-paused")).to_be_visible()
    await system.admin.actions.resume("oma")
    await expect(count(page, "oma", "completed")).to_have_text("3", timeout=WAIT_MS)
    await expect(count(page, "oma", "waiting")).to_have_text("0")
    await expect(page.locator("#card-oma .dot")).to_have_attribute("data-health", "ok")
    await expect(page.locator("#workers-body")).to_contain_text("oma", timeout=WAIT_MS)
    legend = page.locator("#chart-throughput .legend")
    await expect(legend).to_contain_text("completed (3)", timeout=WAIT_MS)
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)


async def test_a_failed_job_is_retried_from_its_panel_and_completes(
    page: Page, site: Site, system: JobSystem
):
    job = await system.producer.enqueue(
        "oma", "test-probe", {"tag": "flaky", "fail_times": 1}, EnqueueOptions(attempts=1),
        company_id=OWN_COMPANY,
    )  # fmt: skip
    await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
    await log_in(page, site, Role.admin)
    await page.locator("#jobs-queue").select_option("oma")
    await page.locator("#state-tabs").get_by_role("button", name="failed").click()
    await page.get_by_role("button", name=f"Open job {job.job_id}").click()
    panel = page.locator("#detail")
    await expect(panel).to_be_visible()
    await expect(panel.locator("#detail-state")).to_have_text("failed")
    await expect(panel.locator("#detail-reason")).to_contain_text("transient failure 1")
    await expect(panel.locator("#detail-payload")).to_contain_text('"tag": "flaky"')
    await panel.get_by_role("button", name="Retry").click()
    await confirm(page, "Retry")
    await expect(panel.locator("#detail-state")).to_have_text("completed", timeout=WAIT_MS)
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()


async def test_a_queue_is_paused_and_resumed_from_its_card(
    page: Page, site: Site, system: JobSystem
):
    await log_in(page, site, Role.platform_admin)
    card = page.locator("#card-oma")
    await card.get_by_role("button", name="Pause", exact=True).click()
    await confirm(page, "Pause")
    await expect(card.locator(".badge-paused")).to_be_visible(timeout=WAIT_MS)
    assert await system.admin.queue("oma").isPaused()
    # Escape closes the confirmation without acting.
    await card.get_by_role("button", name="Resume", exact=True).click()
    await expect(page.locator("#confirm")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#confirm")).to_be_hidden()
    assert await system.admin.queue("oma").isPaused()
    await card.get_by_role("button", name="Resume", exact=True).click()
    await confirm(page, "Resume")
    await expect(card.locator(".badge-paused")).to_be_hidden(timeout=WAIT_MS)
    assert not await system.admin.queue("oma").isPaused()


async def test_a_staff_user_gets_the_not_allowed_page(page: Page, site: Site):
    await log_in(page, site, Role.staff)
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    await expect(page.locator("#cards")).to_have_count(0)


async def test_a_company_admin_sees_only_its_companys_jobs_and_no_queue_actions(
    page: Page, site: Site, system: JobSystem
):
    give_up = EnqueueOptions(attempts=1)
    job = await system.producer.enqueue(
        "oma", "test-probe", {"tag": "gone", "give_up": True}, give_up, company_id=OWN_COMPANY
    )
    theirs = [
        await system.producer.enqueue(
            "oma", "test-probe", {"tag": f"theirs-{i}", "give_up": True}, give_up,
            company_id=OTHER_COMPANY,
        )
        for i in range(2)
    ]  # fmt: skip
    for done in (job, *theirs):
        await system.admin.wait_for_job("oma", done.job_id, timeout_s=30)
    await log_in(page, site, Role.company_admin)
    await expect(count(page, "oma", "failed")).to_have_text("1", timeout=WAIT_MS)
    await expect(page.get_by_text("(your company's jobs)")).to_be_visible()
    # Its own failed jobs may be retried; pausing, cleaning and overrides are the operator's.
    await expect(page.locator("#card-oma [data-action]")).to_have_count(1)
    await expect(page.locator("#card-oma [data-action=retry-failed]")).to_be_visible()
    await expect(page.locator("#card-oma").get_by_role("button", name="Pause")).to_have_count(0)
    await page.locator("#jobs-queue").select_option("oma")
    await page.locator("#state-tabs").get_by_role("button", name="failed").click()
    await expect(page.get_by_role("button", name=f"Open job {job.job_id}")).to_be_visible()
    for other in theirs:
        await expect(page.get_by_role("button", name=f"Open job {other.job_id}")).to_have_count(0)
    await page.get_by_role("button", name=f"Open job {job.job_id}").click()
    await expect(page.locator("#detail-state")).to_have_text("failed")
    await expect(page.locator("#detail-reason")).to_have_text("[personal data hidden]")
    await expect(page.locator("#detail-actions button")).not_to_have_count(0)


async def test_the_platform_admin_sees_every_companys_jobs(
    page: Page, site: Site, system: JobSystem
):
    await system.admin.actions.pause("oma")
    for company in (OWN_COMPANY, OTHER_COMPANY, None):
        await system.producer.enqueue("oma", "test-probe", {"tag": "t"}, company_id=company)
    await log_in(page, site, Role.platform_admin)
    await expect(count(page, "oma", "waiting")).to_have_text("3", timeout=WAIT_MS)
    await expect(page.locator("#card-oma").get_by_role("button", name="Resume")).to_be_visible()


async def test_with_redis_down_a_banner_says_so_and_no_zeros_are_shown(
    page: Page, dead_redis_site: Site
):
    await log_in(page, dead_redis_site, Role.admin)
    banner = page.locator("#redis-banner")
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(banner).to_contain_text("Redis is unreachable")
    await expect(count(page, "oma", "waiting")).to_have_text("—")
    await expect(page.locator("#card-oma .dot")).to_have_attribute("data-health", "down")
