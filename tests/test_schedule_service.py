"""The schedules and companies services on SQLite and PostgreSQL: add, change, pause, resume,
remove and run now, each with its sync in the same transaction (a rolled-back change enqueues
nothing); bad input refused naming the field; a company deactivated or deleted loses its
schedules, one activated again gets its defaults back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Company, CompanyKind, Schedule
from ils.domain.services import Window
from ils.domain.services import companies as company_service
from ils.domain.services import schedules as service
from ils.domain.services.companies import CompanyCreate
from ils.domain.services.schedules import ScheduleCreate, ScheduleUpdate
from ils.errors import Invalid
from ils.queue.outbox_table import outbox

NOW = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)


async def _company(db: Database, slug: str = "clear", tz: str = "Europe/Paris") -> int:
    data = CompanyCreate(name=slug.title(), slug=slug, kind=CompanyKind.practice, timezone=tz)
    async with db.session() as s:
        return (await company_service.create_company(s, data, NOW)).id


async def _syncs(db: Database) -> list[list[int]]:
    async with db.session() as s:
        rows = await s.execute(select(outbox.c.payload).where(outbox.c.name == "sync-schedules")
                               .order_by(outbox.c.created_at))  # fmt: skip
        return [p.get("scheduleIds", []) for (p,) in rows]


async def _add(db: Database, company_id: int | None, **fields: Any) -> Schedule:
    async with db.session() as s:
        return await service.create_schedule(s, ScheduleCreate(**fields), company_id, NOW)


async def test_a_schedule_is_added_changed_paused_resumed_and_removed_each_with_its_sync(
    db_system: JobSystem, db: Database
):
    company = await _company(db)
    before = len(await _syncs(db))
    row = await _add(db, company, name="early scan", job_type="nightly-anomaly-scan",
                     cron="30 1 * * *")  # fmt: skip
    assert row.next_run_at == dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC)  # 01:30 in Paris
    assert row.payload == {} and row.timezone is None
    async with db.session() as s:
        found = await s.get(Schedule, row.id)
        await service.update_schedule(s, found, ScheduleUpdate(every_s=7200), NOW)
    async with db.session() as s:
        found = await s.get(Schedule, row.id)
        assert (found.cron, found.every_s) == (None, 7200)
        assert found.next_run_at == NOW + dt.timedelta(hours=2)
        await service.set_enabled(s, found, False, NOW)
        assert found.next_run_at is None
        await service.set_enabled(s, found, True, NOW)
        await service.delete_schedule(s, found)
    assert (await _syncs(db))[before:] == [[row.id]] * 5
    async with db.session() as s:
        assert await s.get(Schedule, row.id) is None


async def test_a_change_rolled_back_enqueues_no_sync(db_system: JobSystem, db: Database):
    company = await _company(db)
    before = await _syncs(db)
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await service.create_schedule(s, ScheduleCreate(
                name="x", job_type="daily-briefing", cron="0 9 * * *"), company, NOW)  # fmt: skip
            raise RuntimeError("the request failed after")
    assert await _syncs(db) == before


async def test_run_now_goes_through_the_outbox_with_the_schedules_run_id(
    db_system: JobSystem, db: Database
):
    company = await _company(db)
    async with db.session() as s:
        found = await service.list_schedules(s, company, Window(), job_type="daily-briefing")
        (row,) = found.items
        sent = await service.run_now(s, row, NOW)
    assert (sent.queue, sent.name, sent.mode) == ("scheduled", "daily-briefing", "outbox")
    assert sent.job_id == f"schedule-{row.id}-now-{int(NOW.timestamp() * 1000)}"
    async with db.session() as s:
        payload = await s.scalar(select(outbox.c.payload).where(outbox.c.id == sent.job_id))
    assert payload == {"companyId": company, "_ilsCompany": company}


def _invalid(exc: pytest.ExceptionInfo[Invalid]) -> str:
    return exc.value.field


async def test_bad_input_is_refused_naming_the_field(db_system: JobSystem, db: Database):
    company = await _company(db)
    cases: list[tuple[dict[str, Any], int | None, str]] = [
        ({"job_type": "no-such-job", "cron": "0 1 * * *"}, company, "job_type"),
        ({"job_type": "retention", "cron": "0 1 * * *"}, company, "job_type"),  # the platform's
        ({"job_type": "daily-briefing"}, company, "cron"),  # neither cron nor every_s
        ({"job_type": "daily-briefing", "cron": "0 1 * * *", "every_s": 60}, company, "cron"),
        ({"job_type": "daily-briefing", "cron": "0 1 * * *", "payload": {"x": 1}}, company,
         "payload.x"),
        ({"job_type": "daily-briefing", "cron": "0 1 * * *", "payload": {"companyId": 999}},
         company, "payload.company_id"),
        ({"job_type": "daily-briefing", "cron": "0 1 * * *"}, None, "payload.company_id"),
        ({"job_type": "daily-briefing", "cron": "0 1 * * *"}, 99_999, "company_id"),
        ({"job_type": "daily-briefing", "every_s": 30}, company, "every_s"),  # too often
        ({"job_type": "daily-briefing", "cron": "*/5 0 1 * * *"}, company, "cron"),  # seconds
    ]  # fmt: skip
    for fields, owner, field in cases:
        with pytest.raises(Invalid) as bad:
            await _add(db, owner, name="bad", **fields)
        assert _invalid(bad) == field, fields
    with pytest.raises(Invalid) as dup:
        await _add(db, company, name="daily briefing", job_type="daily-briefing", cron="0 9 * * *")
    assert _invalid(dup) == "name"
    for fields, field in (({"cron": "0 25 * * *"}, "cron"), ({"timezone": "Moon/Base"}, "timezone"),
                          ({"every_s": 0}, "every_s")):  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            ScheduleCreate(name="x", job_type="daily-briefing", **fields)
        assert refused.value.errors()[0]["loc"] == (field,)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Schedule)
                              .where(Schedule.name == "bad")) == 0  # fmt: skip


async def test_a_platform_schedule_may_name_a_company_in_its_payload(
    db_system: JobSystem, db: Database
):
    company = await _company(db)
    row = await _add(db, None, name="scan for clear", job_type="nightly-anomaly-scan",
                     cron="0 2 * * *", payload={"company_id": company},
                     timezone="Asia/Tokyo")  # fmt: skip
    assert row.company_id is None and row.payload == {"company_id": company}
    assert row.next_run_at == dt.datetime(2026, 6, 1, 17, 0, tzinfo=dt.UTC)  # 02:00 in Tokyo
    async with db.session() as s:
        listed = await service.list_schedules(s, None, Window(), every_company=True)
        own = await service.list_schedules(s, company, Window())
        platform = await service.list_schedules(s, None, Window())
    assert {r.id for r in platform.items} >= {row.id}
    assert row.id in {r.id for r in listed.items} and row.id not in {r.id for r in own.items}
    assert {r.company_id for r in own.items} == {company} and own.total == 4


async def test_deactivating_or_deleting_a_company_removes_its_schedules(
    db_system: JobSystem, db: Database
):
    kept, gone = await _company(db, "kept"), await _company(db, "gone")
    async with db.session() as s:
        await company_service.set_active(s, await s.get(Company, kept), False, NOW)
        await company_service.delete_company(s, await s.get(Company, gone))
    async with db.session() as s:
        left = await s.scalar(select(func.count()).select_from(Schedule)
                              .where(Schedule.company_id.in_([kept, gone])))  # fmt: skip
        assert left == 0 and await s.get(Company, gone) is None
        back = await company_service.set_active(s, await s.get(Company, kept), True, NOW)
        assert back.is_active
        names = set(await s.scalars(select(Schedule.name).where(Schedule.company_id == kept)))
    assert names == {name for name, _type, _cron in company_service.DEFAULT_SCHEDULES}
    # The platform company has none.
    async with db.session() as s:
        platform = await company_service.create_company(
            s, CompanyCreate(name="ILS", slug="ils", kind=CompanyKind.platform), NOW
        )
        assert await s.scalar(select(func.count()).select_from(Schedule)
                              .where(Schedule.company_id == platform.id)) == 0  # fmt: skip
