"""What each job type of the scheduled queue does, run by a real worker on real Redis and
SQLite/PostgreSQL: the company triggers hand their work to the ai queue once per local day (or
week) in the company's zone; the digest emails yesterday's failures to the company's admins once;
the retention job deletes exactly what its rules name. Runs are started as the API's run-now
starts them (through the outbox) and written to their schedule's row."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import (
    ApiToken,
    AuthSession,
    Company,
    CompanyKind,
    Document,
    DocumentEntity,
    DocumentType,
    Notification,
    NotificationType,
    OmaFile,
    Order,
    Role,
    Schedule,
    User,
)
from ils.domain.models.events import Event
from ils.domain.services import Window
from ils.domain.services import companies as company_service
from ils.domain.services import schedules as service
from ils.domain.services.companies import CompanyCreate
from ils.domain.services.schedules import ScheduleCreate
from ils.events.envelope import new_event_id
from ils.queue.admin import JobView
from ils.queue.outbox_table import outbox
from ils.settings import IlsSettings
from tests.support.running import running

TOKYO = ZoneInfo("Asia/Tokyo")
OLD = dt.timedelta(days=400)


async def _company(db: Database, slug: str, tz: str = "Asia/Tokyo") -> int:
    data = CompanyCreate(name=f"{slug.title()} Optical", slug=slug, kind=CompanyKind.practice,
                         timezone=tz)  # fmt: skip
    async with db.session() as s:
        company = await company_service.create_company(s, data)
        for n, role in enumerate((Role.company_admin, Role.admin, Role.staff)):
            s.add(User(company_id=company.id, email=f"u{n}@{slug}.example.com", name=f"U{n}",
                       password_hash="x", role=role))  # fmt: skip
        return company.id


async def _schedule(db: Database, company_id: int | None, job_type: str) -> int:
    async with db.session() as s:
        found = await service.list_schedules(s, company_id, Window(), job_type=job_type)
        if found.items:
            return found.items[0].id
        spec = ScheduleCreate(name=job_type, job_type=job_type, cron="0 * * * *")
        return (await service.create_schedule(s, spec, company_id)).id


async def run_now(db_system: JobSystem, db: Database, schedule_id: int) -> JobView:
    async with db.session() as s:
        sent = await service.run_now(s, await s.get(Schedule, schedule_id))
    await db_system.relay.wait_idle()
    done = await db_system.admin.wait_for_job("scheduled", sent.job_id, timeout_s=30)
    assert done.state == "completed", done.failed_reason
    return done


async def test_the_company_triggers_hand_their_work_to_the_ai_queue_once_per_local_day(
    db_system: JobSystem, db: Database
):
    company = await _company(db, "ginza")
    today = dt.datetime.now(TOKYO).date()
    year, week, _ = today.isocalendar()
    expected = {
        "nightly-anomaly-scan": ("anomaly-detection", f"anomaly-detection-{company}-{today}"),
        "weekly-demand-forecast": ("demand-forecast",
                                   f"demand-forecast-{company}-{year}-W{week:02d}"),
        "daily-briefing": ("daily-briefing", f"daily-briefing-{company}-{today}"),
    }  # fmt: skip
    ai = db_system.producer.queue("ai")
    async with running(db_system, "scheduled"):
        for job_type, (name, job_id) in expected.items():
            schedule_id = await _schedule(db, company, job_type)
            first = await run_now(db_system, db, schedule_id)
            again = await run_now(db_system, db, schedule_id)
            assert first.return_value["job_id"] == again.return_value["job_id"] == job_id
            job = await ai.getJob(job_id)
            assert job is not None and job.name == name
            assert job.data["companyId"] == company
            async with db.session() as s:
                row = await s.get(Schedule, schedule_id)
            assert row.last_job_id == again.id and row.last_run_at is not None
    assert (await ai.getJob(expected["daily-briefing"][1])).data["date"] == today.isoformat()
    assert await ai.getJobCountByTypes("waiting", "prioritized") == 3


async def test_a_company_deactivated_since_its_run_was_due_is_skipped(
    db_system: JobSystem, db: Database
):
    company = await _company(db, "shut")
    async with db.session() as s:
        await company_service.set_active(s, await s.get(Company, company), False)
    sent = await db_system.producer.enqueue("scheduled", "daily-briefing", {"company_id": company})
    async with running(db_system, "scheduled"):
        done = await db_system.admin.wait_for_job("scheduled", sent.job_id, timeout_s=30)
    assert done.state == "completed" and "deactivated" in done.return_value["skipped"]
    assert await db_system.producer.queue("ai").getJobCountByTypes("waiting", "prioritized") == 0


async def test_the_digest_emails_the_days_failures_to_each_admin_once(
    db_system: JobSystem, db: Database
):
    company, other = await _company(db, "fail"), await _company(db, "other")
    failing = [
        await db_system.producer.enqueue("oma", "test-probe", {"give_up": True, "tag": t},
                                      company_id=owner)
        for t, owner in (("one", company), ("two", company), ("theirs", other))
    ]  # fmt: skip
    async with running(db_system, "oma", "scheduled"):
        for sent in failing:
            assert (await db_system.admin.wait_for_job("oma", sent.job_id, 30)).state == "failed"
        today = dt.datetime.now(TOKYO).date()
        payload = {"company_id": company, "day": today.isoformat()}
        digests = [await db_system.producer.enqueue("scheduled", "failed-jobs-digest", payload)
                   for _ in range(2)]  # fmt: skip
        results = [(await db_system.admin.wait_for_job("scheduled", d.job_id, 30)).return_value
                   for d in digests]  # fmt: skip
    assert results[0]["failed"] == 2 and results[0]["emails"] == results[1]["emails"]
    email = db_system.producer.queue("email")
    assert await email.getJobCountByTypes("waiting", "prioritized") == 2  # two admins, once each
    job = await email.getJob(results[0]["emails"][0])
    assert job.name == "generic" and job.data["to"] == ["u0@fail.example.com"]
    assert "2 background jobs" in job.data["text"] and "oma/test-probe" in job.data["text"]
    assert failing[2].job_id not in job.data["text"]
    quiet = await db_system.producer.enqueue(
        "scheduled", "failed-jobs-digest", {"company_id": company, "day": "2020-01-01"}
    )
    async with running(db_system, "scheduled"):
        done = await db_system.admin.wait_for_job("scheduled", quiet.job_id, 30)
    assert (done.return_value["failed"], done.return_value["emails"]) == (0, [])


async def _aged_world(db: Database, files: Path, now: dt.datetime) -> dict[str, int]:
    """Rows and files the retention job must delete, beside ones it must keep."""
    company = await _company(db, "aged")
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.company_id == company).limit(1))
        old, new = now - OLD, now - dt.timedelta(hours=1)
        s.add_all([
            AuthSession(user_id=user.id, secret_hash="a" * 64, created_at=old, last_seen_at=old),
            AuthSession(user_id=user.id, secret_hash="b" * 64, created_at=new, last_seen_at=new),
            AuthSession(user_id=user.id, secret_hash="c" * 64, created_at=new, last_seen_at=new,
                        revoked_at=old),
            ApiToken(user_id=user.id, name="old", token_hash="d" * 64, prefix="ils_d",
                     created_at=old),
            ApiToken(user_id=user.id, name="new", token_hash="e" * 64, prefix="ils_e",
                     created_at=new),
            Notification(company_id=company, user_id=user.id, type=NotificationType.system,
                         title="old", message="m", created_at=old),
            Notification(company_id=company, user_id=user.id, type=NotificationType.system,
                         title="new", message="m", created_at=new),
            Document(company_id=company, type=DocumentType.order_sheet,
                     entity=DocumentEntity.order, entity_id=1, path=f"{company}/kept.pdf",
                     filename="kept.pdf", size=3, sha256="f" * 64, job_id="doc-kept"),
        ])  # fmt: skip
        order = Order(company_id=company, number="ORD-AGED", customer_name="A")
        s.add(order)
        await s.flush()
        # An OMA file's original and its SVG are named by its row, not by a document's.
        s.add(OmaFile(company_id=company, order_id=order.id, job_id="oma-kept", filename="k.oma",
                      path=f"{company}/kept.oma", svg_path=f"{company}/kept.svg", size=3,
                      sha256="f" * 64, status="valid", data={}, traces={}, issues=[]))  # fmt: skip
        rows = [{"id": f"row-{age}", "queue": "email", "name": "generic", "payload": {},
                 "options": {}, "created_at": at, "relayed_at": at, "relay_attempts": 0}
                for age, at in (("old", old), ("new", new))]  # fmt: skip
        await s.execute(insert(outbox), rows)
        for age, at in (("old", old), ("new", new)):
            data = {"order_id": 1, "number": age}
            s.add(Event(id=new_event_id(at), type="order.delivered", version=1,
                        company_id=company, actor_kind="system", subject_type="order",
                        subject_id=age, occurred_at=at, data=data))  # fmt: skip
    aged = (("kept.pdf", OLD), ("orphan.pdf", OLD), ("fresh.pdf", dt.timedelta()),
            ("kept.oma", OLD), ("kept.svg", OLD))  # fmt: skip
    for name, age in aged:
        path = files / str(company) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"pdf")
        stamp = (now - age).timestamp()
        os.utime(path, (stamp, stamp))
    return {"company": company}


async def test_retention_deletes_exactly_what_its_rules_name(
    db_system: JobSystem, db: Database, settings: IlsSettings
):
    now = dt.datetime.now(dt.UTC)
    world = await _aged_world(db, settings.files_root, now)
    schedule_id = await _schedule(db, None, "retention")
    async with running(db_system, "scheduled"):
        done = await run_now(db_system, db, schedule_id)
    assert done.return_value == {"outbox_rows": 1, "orphaned_files": 1, "sessions": 2,
                                 "tokens": 1, "notifications": 1, "events_archived": 1}  # fmt: skip
    company = world["company"]
    left = sorted(p.name for p in (settings.files_root / str(company)).iterdir())
    assert left == ["fresh.pdf", "kept.oma", "kept.pdf", "kept.svg"]
    async with db.session() as s:
        assert list(await s.scalars(select(ApiToken.name))) == ["new"]
        assert list(await s.scalars(select(Notification.title))) == ["new"]
        assert len(list(await s.scalars(select(AuthSession.id)))) == 1
        kept = set(await s.scalars(select(outbox.c.id).where(outbox.c.id.like("row-%"))))
        events = list(
            await s.scalars(select(Event.subject_id).where(Event.type == "order.delivered"))
        )
    assert kept == {"row-new"}
    assert events == ["new"]
    (archive,) = (settings.var_dir / "events" / "archive").iterdir()
    lines = [json.loads(line) for line in archive.read_text().splitlines()]
    assert [(e["type"], e["subject_id"]) for e in lines] == [("order.delivered", "old")]
