"""Deduplication windows (BullMQ deduplication): the order confirmation enqueued twice within its
window — directly or through the outbox, from two transactions — is one job and one email; every
helper takes a dedup key and window by keyword; a window without a key is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import EmailLog
from ils.jobs import helpers
from ils.jobs.email.handlers import CONFIRMATION_WINDOW_S
from ils.queue.producer import EnqueueOptions
from tests.conftest import make_settings, probe_registry
from tests.support.email_world import make_world
from tests.support.running import running


@pytest.fixture
async def system(redis_url: str, prefix: str, tmp_path: Path, db: Database):
    js = JobSystem(make_settings(redis_url, prefix, tmp_path), probe_registry(), database=db)
    try:
        yield js
    finally:
        await js.close()


async def emails_sent(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(EmailLog)) or 0)


async def queued(system: JobSystem, queue: str) -> int:
    counts = (await system.admin.stats([queue]))[queue]
    return counts["waiting"] + counts["prioritized"] + counts["delayed"]


async def test_an_order_confirmation_enqueued_twice_in_its_window_is_sent_once(
    system: JobSystem, db: Database
):
    w = await make_world(db)
    confirm = helpers.queue_order_confirmation_email.using(producer=system.producer)
    first = await confirm(order_id=w.order.id, user_id=w.user.id)
    second = await confirm(order_id=w.order.id, user_id=w.user.id)
    assert second.job_id == first.job_id and await queued(system, "email") == 1
    window_ms = await system.broker.admin_client.pttl(
        f"{system.settings.prefix}:email:de:order-confirmation:{w.order.id}"
    )
    assert 0 < window_ms <= CONFIRMATION_WINDOW_S * 1000
    async with running(system, "email"):
        done = await system.admin.wait_for_job("email", first.job_id, timeout_s=30)
        # Enqueued again after it ran, still within the window: nothing new.
        third = await confirm(order_id=w.order.id, user_id=w.user.id)
    assert done.state == "completed" and third.job_id == first.job_id
    assert await emails_sent(db) == 1
    assert (await system.admin.stats(["email"]))["email"]["completed"] == 1


async def test_through_the_outbox_two_transactions_make_one_job(system: JobSystem, db: Database):
    w = await make_world(db)
    rows = []
    for _ in range(2):  # e.g. a request retried by the client: two transactions, two rows
        async with db.session() as s:
            confirm = helpers.queue_order_confirmation_email.using(session=s, company_id=w.lab.id)
            rows.append(await confirm(order_id=w.order.id, user_id=w.user.id))
    await system.relay.wait_idle()
    assert [r.mode for r in rows] == ["outbox", "outbox"] and rows[0].job_id != rows[1].job_id
    assert await system.outbox.count(True) == 0  # both rows relayed...
    assert await queued(system, "email") == 1  # ...as one job, the first row's
    async with running(system, "email"):
        done = await system.admin.wait_for_job("email", rows[0].job_id, timeout_s=30)
    assert done.state == "completed" and await emails_sent(db) == 1


async def test_every_helper_takes_a_dedup_key_and_window_by_keyword(system: JobSystem):
    once = helpers.queue_invoice_pdf.using(
        producer=system.producer, dedup_key="invoice-7-reissue", dedup_ttl_s=60
    )
    a = await once(invoice_id=7)
    b = await once(invoice_id=7)
    c = await helpers.queue_invoice_pdf.using(producer=system.producer)(invoice_id=7)
    assert a.job_id == b.job_id != c.job_id  # the key, not the payload, makes a duplicate
    # The key joins options given before, and a caller's key replaces a job type's default.
    urgent = helpers.queue_order_confirmation_email.using(
        producer=system.producer, options=EnqueueOptions(priority=1), dedup_key="resend-42"
    )
    assert urgent.binding.options == EnqueueOptions(priority=1, dedup_key="resend-42")
    with pytest.raises(ValidationError, match="give dedup_key too"):
        helpers.queue_invoice_pdf.using(dedup_ttl_s=60)
    with pytest.raises(ValidationError, match="dedup_key"):
        EnqueueOptions(dedup_key="")
