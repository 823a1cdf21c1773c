"""Cancellation of every job type: waiting and delayed jobs of several types are removed (their
company's list forgets them, a deduplicated one can be enqueued afresh); an active one stops at
its handler's next natural step — between the briefing's emails, before a PDF is rendered,
between the anomaly scan's metrics — and ends "cancelled": not failed, not retried, no dead
letter."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Role, User
from ils.errors import JobCancelled, JobNotFound
from ils.jobs import helpers
from ils.jobs.ai.alerts import anomaly_detection
from ils.jobs.email.mailer import Mailer
from ils.jobs.pdf.handlers import invoice
from ils.jobs.resources import Resources
from ils.queue.context import JobContext
from ils.queue.producer import EnqueueOptions
from ils.queue.tenancy import PLATFORM, ViewerScope
from ils.settings import load_mail_settings
from tests.conftest import make_settings, system_on
from tests.support.email_world import make_world
from tests.support.pdf_world import make_pdf_world
from tests.support.running import Records, running
from tests.support.smtp import RecordingHandler, smtp_env, smtp_server

LATER = EnqueueOptions(delay_s=3600)


class GatedHandler(RecordingHandler):
    """Records emails; holds the first one's DATA until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.gate = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if not self.arrived.is_set():
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 30)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
async def system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    async with system_on(redis_url, prefix, tmp_path, db) as js:
        yield js


def cancelled_ctx(job_id: str, queue: str, name: str, resources: Any,
                  when: Any = lambda: True) -> JobContext[Any]:  # fmt: skip
    """A handler's context as a worker makes it, asked to cancel (``when`` says from when)."""
    return JobContext(job_id, queue, name, 1, 3, logging.LoggerAdapter(logging.getLogger("t")),
                      resources=resources, _cancelled=when)  # fmt: skip


@contextlib.contextmanager
def open_gate(handler: GatedHandler) -> Iterator[None]:
    try:
        yield
    finally:
        handler.gate.set()


async def test_waiting_and_delayed_jobs_of_several_types_are_removed(
    system: JobSystem, db: Database
):
    w = await make_world(db)
    producer = system.producer
    await system.admin.actions.pause("email")
    jobs = [
        ("email", await helpers.queue_order_confirmation_email.using(
            producer=producer, company_id=w.lab.id)(order_id=w.order.id, user_id=w.user.id)),
        ("pdf", await helpers.queue_invoice_pdf.using(
            producer=producer, options=LATER, company_id=w.lab.id)(invoice_id=7)),
        ("ai", await helpers.queue_demand_forecast.using(
            producer=producer, options=LATER)(company_id=w.lab.id)),
        ("notification", await helpers.notify_user.using(
            producer=producer, company_id=w.lab.id)(user_id=w.user.id, title="t", message="m")),
    ]  # fmt: skip
    lab = ViewerScope(company_id=w.lab.id)
    before = {q: (await system.admin.stats([q], lab))[q] for q, _ in jobs}
    assert all(sum(counts.values()) >= 1 for counts in before.values())
    for queue, job in jobs:
        assert (await system.admin.actions.cancel(queue, job.job_id, lab)).outcome == "removed"
        with pytest.raises(JobNotFound):
            await system.admin.get_job(queue, job.job_id)
    for queue, _ in jobs:
        assert sum((await system.admin.stats([queue], lab))[queue].values()) == 0
    # The confirmation's dedup key went with its job: enqueued again, it is a new job.
    again = await helpers.queue_order_confirmation_email.using(producer=producer)(
        order_id=w.order.id, user_id=w.user.id
    )
    assert again.job_id != jobs[0][1].job_id


async def test_an_active_briefing_email_stops_between_its_emails_and_ends_cancelled(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
):
    w = await make_world(db)
    async with db.session() as s:
        more = [User(company_id=w.lab.id, email=f"u{i}@example.com", name=f"U{i}",
                     password_hash="x", role=Role.staff) for i in range(2)]  # fmt: skip
        s.add_all(more)
    users = [w.user.id, *(u.id for u in more)]
    handler = GatedHandler()
    with smtp_server(handler) as port, open_gate(handler):
        mailer = Mailer(load_mail_settings(smtp_env(port), tmp_path / "var"))
        mailer_only = Resources(mailer=mailer)
        async with system_on(redis_url, prefix, tmp_path, db, resources=mailer_only) as system:
            job = await helpers.queue_daily_briefing_email.using(producer=system.producer)(
                company_id=w.lab.id, user_ids=users, date=dt.date(2026, 11, 27)
            )
            async with running(system, "email") as runtime:
                assert await asyncio.to_thread(handler.arrived.wait, 30)  # the first email
                done = await system.admin.actions.cancel("email", job.job_id)
                assert done.outcome == "cancelling"
                assert runtime.cancels is not None and await runtime.cancels.check() == 1
                handler.gate.set()
                view = await system.admin.wait_for_job("email", job.job_id, timeout_s=30)
            async with db.session() as s:
                dead = await system.admin.dead_letters.page(s, PLATFORM)
        await mailer.close()
    assert view.state == "cancelled" and view.attempts_made == 1
    assert view.return_value["_ilsCancelled"]["reason"] == "cancelled after 1 of 3 emails"
    assert len(handler.messages) == 1  # the one under way was sent, the others not
    assert dead["total"] == 0  # a cancelled job is no dead letter


async def test_an_active_probe_cancelled_is_neither_retried_nor_dead_lettered(
    system: JobSystem, db: Database
):
    records = Records(system.broker.url, system.settings.prefix)
    try:
        job = await system.producer.enqueue(
            "oma", "test-probe", {"untilCancelled": True}, EnqueueOptions(attempts=3)
        )
        async with running(system, "oma"):
            await records.wait_started(20)
            await system.admin.actions.cancel("oma", job.job_id)
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
        assert view.state == "cancelled" and await records.runs("oma", job.job_id) == 1
        assert (await system.admin.browse.jobs("oma", "completed")).jobs[0].state == "cancelled"
        detail = await system.admin.browse.detail("oma", job.job_id)
        assert detail.state == "cancelled" and detail.failed_reason is None
        async with db.session() as s:
            assert (await system.admin.dead_letters.page(s, PLATFORM))["total"] == 0
    finally:
        await records.close()


async def test_a_pdf_asked_to_cancel_stops_before_rendering(db: Database, tmp_path: Path):
    w = await make_pdf_world(db)
    system = JobSystem(make_settings("redis://127.0.0.1:1/0", "unused", tmp_path), database=db)
    try:
        ctx = cancelled_ctx("job-1", "pdf", "invoice", system.resources)
        with pytest.raises(JobCancelled, match="cancelled before rendering"):
            await invoice.job_type.handler(invoice.payload(invoice_id=w.invoice_id), ctx)  # type: ignore[misc]
    finally:
        await system.close()
    assert not list((tmp_path / "var" / "files").rglob("*.pdf"))


async def test_an_anomaly_scan_asked_to_cancel_stops_before_its_next_metric(
    db: Database, tmp_path: Path
):
    w = await make_world(db)
    system = JobSystem(make_settings("redis://127.0.0.1:1/0", "unused", tmp_path), database=db)
    try:
        ctx = cancelled_ctx("job-2", "ai", "anomaly-detection", system.resources)
        payload = anomaly_detection.payload(company_id=w.lab.id)
        with pytest.raises(JobCancelled, match="after 0 of 4 metrics"):
            await anomaly_detection.job_type.handler(payload, ctx)  # type: ignore[misc]
    finally:
        await system.close()
