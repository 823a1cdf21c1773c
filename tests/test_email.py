"""The email worker end to end: every email type through a real SMTP server (aiosmtpd) on both
databases, temporary and permanent SMTP failures, the email log's once-only sending, the file
transport and the rate limit. (Settings and the SMTP transport alone: test_email_transport.py.)"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import (
    EmailLog,
    EmailStatus,
    Role,
    Supplier,
    User,
)
from ils.errors import InvalidJobPayload
from ils.jobs.email.mailer import Mailer
from ils.jobs.resources import Resources
from ils.queue.admin import JobView
from ils.queue.producer import EnqueueOptions
from ils.settings import load_mail_settings
from tests.conftest import make_settings
from tests.support.email_world import make_world
from tests.support.running import running
from tests.support.smtp import PUBLIC_URL, RecordingHandler, smtp_env, smtp_server


@contextlib.asynccontextmanager
async def email_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database, env: dict[str, str]
) -> AsyncIterator[JobSystem]:
    """A job system on ``db`` whose mailer is built from ``env``, email retries 1 s apart."""
    settings = make_settings(redis_url, prefix, tmp_path,
                             env={"ILS_QUEUE_EMAIL_BACKOFF_DELAY_MS": "1000"})  # fmt: skip
    mailer = Mailer(load_mail_settings(env, settings.var_dir))
    system = JobSystem(settings, database=db, resources=Resources(mailer=mailer))
    try:
        yield system
    finally:
        await system.close()
        await mailer.close()


async def run_jobs(system: JobSystem, jobs: list[tuple[str, dict[str, Any]]]) -> list[JobView]:
    enqueued = [await system.producer.enqueue("email", name, data) for name, data in jobs]
    async with running(system, "email"):
        return [await system.admin.wait_for_job("email", e.job_id, timeout_s=30) for e in enqueued]


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content())


async def email_log(db: Database) -> dict[str, EmailLog]:
    async with db.session() as s:
        return {row.job_id: row for row in await s.scalars(select(EmailLog))}


async def test_every_email_type_arrives_with_both_parts_and_its_content(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    handler = RecordingHandler()
    today = dt.datetime.now(dt.UTC).date()
    with smtp_server(handler) as port:
        async with email_system(redis_url, prefix, tmp_path, db, smtp_env(port)) as system:
            views = await run_jobs(system, [
                ("order-confirmation", {"orderId": w.order.id, "userId": w.user.id}),
                ("order-shipment", {"orderId": w.order.id, "userId": w.user.id,
                                    "trackingNumber": "1Z999AA10123456784", "carrier": "UPS"}),
                ("purchase-order", {"purchaseOrderId": w.po.id, "supplierId": w.supplier.id}),
                ("marketplace-connection", {"connectionId": w.connection.id,
                                            "targetCompanyId": w.practice.id}),
                ("daily-briefing", {"companyId": w.lab.id, "userIds": [w.user.id],
                                    "date": today.isoformat()}),
                ("generic", {"to": ["someone@example.com"], "subject": "Hello there",
                             "text": "Plain words.",
                             "html": "<p>Hi <b>you</b></p><script>steal()</script>"
                                     "<a href='x' onclick='evil()'>x</a>"}),
            ])  # fmt: skip
            transport = system.resources.mailer.transport
            # Reused: the six emails went over the pool's connections, never one each.
            assert transport.connections_opened <= 5  # type: ignore[attr-defined]
    assert [v.state for v in views] == ["completed"] * 6, [v.failed_reason for v in views]
    by_subject = {str(m["Subject"]): m for m in handler.messages}
    assert len(handler.messages) == 6

    confirmation = by_subject["Clearview Lab: order ORD-000042 confirmed"]
    assert confirmation["To"] == "owner@example.com"
    assert confirmation["From"] == "ILS <no-reply@example.com>"
    html, text = parts(confirmation)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Smith" in html and "<script" not in html
    assert "Dear <script>alert(1)</script> Smith" in text
    for body in (html, text):
        assert "ORD-000042" in body and "1,543.32" in body and "1,250.00" in body
        assert "114.32" in body and "24 Dec 2026" in body
        assert f"{PUBLIC_URL}/orders/{w.order.id}" in body
    assert "R: SPH -2.25 CYL -0.50 AX 90" in text
    assert "#aa3300" in html and "<style" not in html  # brand colour, CSS inlined

    _, text = parts(by_subject["Clearview Lab: order ORD-000042 has shipped"])
    assert "1Z999AA10123456784" in text and "with UPS" in text

    po = by_subject["Purchase order PO-000007 from Clearview Lab"]
    assert po["To"] == "orders@example.net"
    html, text = parts(po)
    assert "SV167" in html and "300.00" in text and "15.00" in text

    connection = by_subject["Clearview Lab wants to connect with Bright Eyes"]
    assert connection["To"] == "boss@example.org"
    _, text = parts(connection)
    assert "Let's work" in text
    assert f"{PUBLIC_URL}/marketplace/connections/{w.connection.id}" in text

    briefing = by_subject[f"Clearview Lab: your briefing for {today:%d %b %Y}"]
    _, text = parts(briefing)
    assert "Orders created: 1" in text and "Revenue: 1,543.32" in text

    html, text = parts(by_subject["Hello there"])
    assert "<b>you</b>" in html and "steal()" not in html and "onclick" not in html
    assert text.strip() == "Plain words."

    log = await email_log(db)
    assert len(log) == 6 and all(r.status is EmailStatus.sent for r in log.values())
    sent = log[views[0].id]
    assert sent.to == "owner@example.com" and sent.template == "order_confirmation"
    assert sent.message_id == confirmation["Message-ID"] and sent.company_id == w.lab.id


async def test_a_451_is_retried_with_backoff_then_sent_once(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    handler = RecordingHandler(busy=("orders@example.net",))
    with smtp_server(handler) as port:
        async with email_system(redis_url, prefix, tmp_path, db, smtp_env(port)) as system:
            job = ("purchase-order", {"purchaseOrderId": w.po.id, "supplierId": w.supplier.id})
            [view] = await run_jobs(system, [job])
    assert view.state == "completed" and view.attempts_made == 2
    assert handler.offered["orders@example.net"] == 2
    assert len(handler.messages) == 1


async def test_a_550_fails_at_once_with_the_reply_as_reason(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    handler = RecordingHandler(unknown=("orders@example.net",))
    with smtp_server(handler) as port:
        async with email_system(redis_url, prefix, tmp_path, db, smtp_env(port)) as system:
            [view, after] = await run_jobs(system, [
                ("purchase-order", {"purchaseOrderId": w.po.id, "supplierId": w.supplier.id}),
                ("order-confirmation", {"orderId": w.order.id, "userId": w.user.id}),
            ])  # fmt: skip
    assert view.state == "failed" and view.attempts_made == 1 and view.attempts == 5
    assert "550" in (view.failed_reason or "") and "User unknown" in (view.failed_reason or "")
    assert handler.offered["orders@example.net"] == 1
    assert after.state == "completed"  # the connection stays usable after a refusal
    failed = (await email_log(db))[view.id]
    assert failed.status is EmailStatus.failed and "550" in (failed.error or "")


async def test_an_email_already_accepted_is_never_sent_again(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    handler = RecordingHandler()
    data = {"orderId": w.order.id, "userId": w.user.id}
    with smtp_server(handler) as port:
        async with email_system(redis_url, prefix, tmp_path, db, smtp_env(port)) as system:
            [first] = await run_jobs(system, [("order-confirmation", data)])
            # As after a crash between the server's acceptance and the job's completion: the
            # same job id runs again, and its log row says the email went.
            again = await system.producer.enqueue(
                "email", "order-confirmation", data, options=EnqueueOptions(job_id="replayed")
            )
            async with db.session() as s:
                row = (await email_log(db))[first.id]
                s.add(EmailLog(job_id="replayed", to=row.to, subject=row.subject,
                               template=row.template, message_id=row.message_id,
                               status=EmailStatus.sent, sent_at=row.sent_at))  # fmt: skip
            async with running(system, "email"):
                view = await system.admin.wait_for_job("email", again.job_id, timeout_s=30)
    assert first.return_value["sent"] is True
    assert view.state == "completed" and view.return_value["sent"] is False
    assert view.return_value["messageId"] == row.message_id
    assert len(handler.messages) == 1


async def test_missing_entities_and_bad_addresses_give_up_with_a_clear_reason(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with db.session() as s:
        (await s.get(Supplier, w.supplier.id)).email = "not an address"  # type: ignore[union-attr]
    env = {"ILS_VAR_DIR": str(tmp_path / "var")}
    async with email_system(redis_url, prefix, tmp_path, db, env) as system:
        views = await run_jobs(system, [
            ("order-confirmation", {"orderId": 99999, "userId": w.user.id}),
            ("purchase-order", {"purchaseOrderId": w.po.id, "supplierId": w.supplier.id}),
            ("daily-briefing", {"companyId": w.lab.id, "userIds": [99999], "date": "2026-11-27"}),
        ])  # fmt: skip
    assert [v.state for v in views] == ["failed"] * 3
    assert [v.attempts_made for v in views] == [1, 1, 1]
    assert views[0].failed_reason == "order 99999 no longer exists"
    assert "invalid address 'not an address'" in (views[1].failed_reason or "")
    assert "none of users [99999]" in (views[2].failed_reason or "")


async def test_the_file_transport_writes_a_parseable_eml(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with email_system(redis_url, prefix, tmp_path, db, {}) as system:
        [view] = await run_jobs(system, [
            ("order-shipment", {"orderId": w.order.id, "userId": w.user.id,
                                "trackingNumber": "TRK-1"})])  # fmt: skip
    assert view.state == "completed"
    path = system.settings.var_dir / "mail" / f"{view.id}.eml"
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "owner@example.com"
    html, text = parts(message)
    assert "TRK-1" in html and "TRK-1" in text
    assert list(path.parent.iterdir()) == [path]


async def test_the_rate_limit_holds_in_every_window(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    limit, window_ms = 3, 1500
    handler = RecordingHandler()
    env = {
        "ILS_QUEUE_EMAIL_RATE_MAX": str(limit),
        "ILS_QUEUE_EMAIL_RATE_DURATION_MS": str(window_ms),
    }
    settings = make_settings(redis_url, prefix, tmp_path, env=env)
    with smtp_server(handler) as port:
        mailer = Mailer(load_mail_settings(smtp_env(port), settings.var_dir))
        system = JobSystem(settings, database=db, resources=Resources(mailer=mailer))
        try:
            views = await run_jobs(system, [
                ("generic", {"to": [f"r{i}@example.com"], "subject": f"n{i}", "text": "t"})
                for i in range(8)
            ])  # fmt: skip
        finally:
            await system.close()
            await mailer.close()
    assert [v.state for v in views] == ["completed"] * 8
    started = sorted(v.processed_on or 0 for v in views)
    # Any ``limit + 1`` jobs taken span at least a whole window: no window holds more than limit.
    spans = [started[i + limit] - started[i] for i in range(len(started) - limit)]
    assert min(spans) >= window_ms, spans
    assert len(handler.messages) == 8


async def test_the_generic_email_layouts_and_company_branding(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    handler = RecordingHandler()
    base = {"to": ["someone@example.com"], "text": "The lab closes at noon."}
    with smtp_server(handler) as port:
        async with email_system(redis_url, prefix, tmp_path, db, smtp_env(port)) as system:
            with pytest.raises(InvalidJobPayload, match="template"):
                bad = {**base, "subject": "x", "template": "fancy"}
                await system.producer.enqueue("email", "generic", bad)
            views = await run_jobs(system, [
                ("generic", {**base, "subject": "Closing early", "template": "alert",
                             "companyId": w.lab.id}),
                ("generic", {**base, "subject": "Holiday hours", "template": "notice"}),
                ("generic", {**base, "subject": "Plain"}),
                ("generic", {**base, "subject": "Nobody", "companyId": 99999}),
            ])  # fmt: skip
    assert [v.state for v in views] == ["completed"] * 3 + ["failed"]
    assert views[3].failed_reason == "company 99999 no longer exists"
    by_subject = {str(m["Subject"]): parts(m) for m in handler.messages}
    html, text = by_subject["Closing early"]
    assert "Action needed:" in html and "#b3261e" in html
    assert "Clearview Lab" in html and "#aa3300" in html  # the company's name and colour
    assert text.startswith("ACTION NEEDED: Closing early") and "closes at noon" in text
    html, text = by_subject["Holiday hours"]
    assert "Action needed" not in html and "<strong>Holiday hours</strong>" in html
    assert text.startswith("NOTICE: Holiday hours")
    html, text = by_subject["Plain"]
    assert "Plain" not in html.split("<body", 1)[1].split("The lab", 1)[0]  # no banner
    assert text.strip() == "The lab closes at noon."


async def test_a_briefing_refused_for_one_user_still_reaches_the_others(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with db.session() as s:
        bad = User(company_id=w.lab.id, email="not an address", name="Bad", password_hash="x",
                   role=Role.staff)  # fmt: skip
        s.add(bad)
    handler = RecordingHandler()
    day = {"companyId": w.lab.id, "date": "2026-11-27"}
    with smtp_server(handler) as port:
        async with email_system(redis_url, prefix, tmp_path, db, smtp_env(port)) as system:
            mixed, only_bad = await run_jobs(system, [
                ("daily-briefing", {**day, "userIds": [bad.id, w.user.id]}),
                ("daily-briefing", {**day, "userIds": [bad.id]}),
            ])  # fmt: skip
    assert mixed.state == "completed" and [m["To"] for m in handler.messages] == [w.user.email]
    [refusal] = mixed.return_value["refused"]
    assert refusal.startswith(f"user {bad.id}: invalid address 'not an address'")
    assert [e["sent"] for e in mixed.return_value["emails"]] == [True]
    assert only_bad.state == "failed" and only_bad.attempts_made == 1
    assert f"user {bad.id}: invalid address" in (only_bad.failed_reason or "")
