"""Schedules on real Redis and SQLite/PostgreSQL: the next run is BullMQ's own in the schedule's
zone; Redis's job schedulers are made equal to the rows (idempotently, leaving other schedulers
alone); a company created at run time gets its 03:00 and 08:00 entries in its own zone through
the outbox and a scheduled worker; a run missed during downtime that the start pass reaches
first runs once or is skipped as declared (a controllable clock, no sleeps; one a worker takes
first: tests/test_schedule_missed.py); a run is written to its schedule's row."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bullmq.job_scheduler import default_repeat_strategy
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Company, CompanyKind, MissedRun, Schedule
from ils.domain.services.companies import CompanyCreate, create_company, set_timezone
from ils.domain.services.schedules import (
    ScheduleCreate,
    create_schedule,
    delete_schedule,
    set_enabled,
)
from ils.jobs.scheduled import reconcile
from ils.jobs.scheduled.runs import record_run
from ils.queue import schedulers
from ils.queue.outbox_table import outbox
from ils.queue.recurrence import (
    Recurrence,
    check_cron,
    check_timezone,
    from_ms,
    repeat_strategy,
    to_ms,
)
from ils.queue.schedulers import WantedScheduler
from ils.queue.tenancy import ViewerScope
from ils.settings import load_settings as load
from tests.support.running import running

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
async def system_queue(redis_url: str, prefix: str) -> AsyncIterator[Any]:
    """One of our queues (no database needed)."""
    from ils.queue.broker import Broker

    broker = Broker(load({"REDIS_URL": redis_url, "ILS_REDIS_PREFIX": prefix}))
    try:
        yield broker.queues.get("scheduled")
    finally:
        await broker.close()


async def by_job_type(db: Database, company_id: int | None) -> dict[str, Schedule]:
    async with db.session() as s:
        rows = await s.scalars(select(Schedule).where(Schedule.company_id == company_id))
        return {r.job_type: r for r in rows}


async def redis_schedulers(db_system: JobSystem) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in await db_system.admin.schedulers("scheduled")}


async def sync_job_ids(db: Database) -> list[str]:
    async with db.session() as s:
        found = await s.scalars(select(outbox.c.id).where(outbox.c.name == "sync-schedules"))
        return list(found)


# ---- the arithmetic ----------------------------------------------------------------------------


def test_the_next_run_keeps_its_local_time_across_a_dst_change_where_bullmqs_default_does_not(
    system_queue: Any,
):
    eight = Recurrence(pattern="0 8 * * *", tz="America/New_York")
    # 2026-03-08 is the day New York moves to summer time: 08:00 is 13:00 UTC before, 12:00 after.
    before = dt.datetime(2026, 3, 7, 14, 0, tzinfo=dt.UTC)
    assert eight.next_after(before) == dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)
    assert eight.next_after(dt.datetime(2026, 3, 6, 14, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 3, 7, 13, 0, tzinfo=dt.UTC
    )
    ms = to_ms(before)
    # BullMQ's own strategy says 07:00 local (11:00 UTC) that day; our queues use ours.
    assert default_repeat_strategy(ms, eight.repeat_options()) == to_ms(before) + 21 * 3_600_000
    assert system_queue.jobScheduler.repeat_strategy is repeat_strategy
    hourly = Recurrence(every_ms=3_600_000)
    assert hourly.next_after(before) == before + dt.timedelta(hours=1)
    assert hourly.repeat_options(before) == {"every": 3_600_000, "startDate": ms}


ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata"]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES), hour=st.integers(0, 23), minute=st.integers(0, 59),
    after=st.datetimes(dt.datetime(2025, 1, 1), dt.datetime(2027, 12, 31),
                       timezones=st.just(dt.UTC)),
)  # fmt: skip
def test_a_daily_pattern_fires_at_its_local_time_within_a_day(
    zone: str, hour: int, minute: int, after: dt.datetime
):
    tz = ZoneInfo(zone)
    found = Recurrence(pattern=f"{minute} {hour} * * *", tz=zone).next_after(after)
    assert after < found <= after + dt.timedelta(hours=25)
    local = found.astimezone(tz)
    wall = dt.datetime.combine(local.date(), dt.time(hour, minute))
    exists = wall.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == wall
    # At its time, or, on the day that time does not exist, at the offset before the jump.
    assert (local.hour, local.minute) == (hour, minute) or not exists


@pytest.mark.parametrize("bad", ["", "61 8 * * *", "0 8 * *", "every day", "0 8 * * * * *"])
def test_a_bad_cron_pattern_is_refused_saying_why(bad: str):
    with pytest.raises(ValueError, match="cron"):
        check_cron(bad)


def test_a_cron_pattern_is_normalised_and_a_zone_must_be_iana():
    assert check_cron(" 0  8 * * 1-5 ") == "0 8 * * 1-5"
    assert check_timezone("Europe/Paris") == "Europe/Paris"
    for bad in ("Mars/Olympus", "", " UTC", "../etc/passwd"):
        with pytest.raises(ValueError):
            check_timezone(bad)


# ---- Redis equal to what is wanted -------------------------------------------------------------


async def test_reconcile_is_idempotent_and_leaves_schedulers_it_does_not_own(db_system: JobSystem):
    queue = db_system.producer.queue("scheduled")
    await queue.upsertJobScheduler("node-report", {"every": 60_000}, "report", {"x": 1})
    await queue.upsertJobScheduler("schedule-999", {"every": 60_000}, "retention", {})
    wanted = [
        WantedScheduler("schedule-1", "scheduled", "retention", {"pattern": "0 * * * *",
                        "tz": "UTC"}, {}, {"attempts": 3}),
        WantedScheduler("schedule-2", "scheduled", "retention", {"every": 90_000}, {"a": 1}),
    ]  # fmt: skip

    def pass_() -> Any:
        owns = reconcile.owns
        return schedulers.reconcile(db_system.producer.queue, wanted, owns, ("scheduled",))

    first = await pass_()
    assert sorted(first.added) == ["schedule-1", "schedule-2"]
    assert first.removed == ["schedule-999"]
    found = await schedulers.read(queue)
    assert set(found) == {"node-report", "schedule-1", "schedule-2"}
    pending = found["schedule-1"]["next"]
    again = await pass_()
    assert (again.changed, again.unchanged) == (0, 2)
    assert (await schedulers.read(queue))["schedule-1"]["next"] == pending  # its run kept its time
    wanted[1] = WantedScheduler("schedule-2", "scheduled", "retention", {"every": 90_000}, {"a": 2})
    third = await pass_()
    assert (third.updated, third.unchanged) == (["schedule-2"], 1)
    assert (await schedulers.read(queue))["schedule-2"]["template"]["data"] == {"a": 2}


async def test_hundreds_of_schedulers_are_read_in_pipelines_not_one_connection_each(
    db_system: JobSystem,
):
    # BullMQ's getJobSchedulers sends every HGETALL at once, a connection each: it fails with
    # "Too many connections" here, where ours reads them in one pipeline per thousand.
    wanted = [WantedScheduler(f"schedule-{i}", "scheduled", "retention",
                              {"pattern": f"{i % 60} * * * *", "tz": "UTC"}, {})
              for i in range(1, 1201)]  # fmt: skip
    queues = db_system.producer.queue
    done = await schedulers.reconcile(queues, wanted, reconcile.owns, ("scheduled",))
    assert len(done.added) == 1200
    listed = await db_system.admin.schedulers("scheduled")
    assert len(listed) == 1200 and listed[0]["next"] <= listed[-1]["next"]
    assert (await schedulers.reconcile(db_system.producer.queue, wanted, reconcile.owns,
                                       ("scheduled",))).unchanged == 1200  # fmt: skip


# ---- a company created while the app runs ------------------------------------------------------


async def test_a_company_created_at_run_time_gets_its_0300_and_0800_in_its_own_zone(
    db_system: JobSystem, db: Database
):
    # The clock: 14:00 UTC on a Tuesday, 23:00 in Tokyo; the app has been up for days.
    now = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)
    async with db.session() as s:
        company = await create_company(s, CompanyCreate(
            name="Ginza Optical", slug="ginza", kind=CompanyKind.practice, timezone="Asia/Tokyo"
        ), now)  # fmt: skip
        company_id = company.id
    rows = await by_job_type(db, company_id)
    assert set(rows) == {"nightly-anomaly-scan", "weekly-demand-forecast", "daily-briefing",
                         "failed-jobs-digest"}  # fmt: skip
    local = {name: row.next_run_at.astimezone(TOKYO) for name, row in rows.items()}
    assert local["nightly-anomaly-scan"] == dt.datetime(2026, 3, 11, 3, 0, tzinfo=TOKYO)
    assert local["daily-briefing"] == dt.datetime(2026, 3, 11, 8, 0, tzinfo=TOKYO)
    assert local["weekly-demand-forecast"] == dt.datetime(2026, 3, 16, 5, 0, tzinfo=TOKYO)
    # One sync job in the outbox, relayed on commit, run by a worker of the scheduled queue.
    await db_system.relay.wait_idle()
    (job_id,) = await sync_job_ids(db)
    async with running(db_system, "scheduled"):
        done = await db_system.admin.wait_for_job("scheduled", job_id, timeout_s=30)
    assert done.state == "completed", done.failed_reason
    found = await redis_schedulers(db_system)
    for name, row in rows.items():
        entry = found[f"schedule-{row.id}"]
        assert (entry["name"], entry["pattern"], entry["tz"]) == (name, row.cron, "Asia/Tokyo")
        assert entry["data"] == {"companyId": company_id}
        # BullMQ's own step from the same clock lands where the row says.
        assert from_ms(repeat_strategy(to_ms(now), entry)) == row.next_run_at
    briefing = found[f"schedule-{rows['daily-briefing'].id}"]
    assert from_ms(briefing["next"]).astimezone(TOKYO).time() == dt.time(8, 0)


async def test_a_new_time_zone_moves_the_companys_schedules(db_system: JobSystem, db: Database):
    async with db.session() as s:
        company = await create_company(
            s, CompanyCreate(name="Lens Lab", slug="lens-lab", kind=CompanyKind.lab)
        )
    await reconcile.sync(db, db_system.producer)
    async with db.session() as s:
        await set_timezone(s, await s.get(Company, company.id), "America/New_York")
    done = await reconcile.sync(db, db_system.producer)
    assert len(done.updated) == 4 and not done.added
    rows = await by_job_type(db, company.id)
    entry = (await redis_schedulers(db_system))[f"schedule-{rows['daily-briefing'].id}"]
    assert entry["tz"] == "America/New_York"
    nyc = rows["daily-briefing"].next_run_at.astimezone(ZoneInfo("America/New_York"))
    assert nyc.time() == dt.time(8, 0)


async def test_pausing_resuming_and_removing_a_schedule_follow_in_redis(
    db_system: JobSystem, db: Database
):
    sid = await _platform_schedule(db, "hourly", MissedRun.run_once, dt.datetime.now(dt.UTC))
    key = f"schedule-{sid}"
    await reconcile.sync(db, db_system.producer, [sid])
    assert key in await redis_schedulers(db_system)
    steps = [(lambda s, row: set_enabled(s, row, False), False),
             (lambda s, row: set_enabled(s, row, True), True),
             (delete_schedule, False)]  # fmt: skip
    for act, present in steps:
        async with db.session() as s:
            await act(s, await s.get(Schedule, sid))
        done = await reconcile.sync(db, db_system.producer, [sid])
        assert (key in await redis_schedulers(db_system)) is present, done
        assert done.changed == 1


# ---- downtime ----------------------------------------------------------------------------------


async def _platform_schedule(db: Database, name: str, missed: MissedRun, now: dt.datetime) -> int:
    spec = ScheduleCreate(name=name, job_type="retention", cron="0 3 * * *", missed_run=missed)
    async with db.session() as s:
        return (await create_schedule(s, spec, None, now)).id


async def test_a_run_missed_during_downtime_runs_once_or_is_skipped_as_declared(
    db_system: JobSystem, db: Database
):
    t0 = dt.datetime.now(dt.UTC)
    once = await _platform_schedule(db, "once", MissedRun.run_once, t0)
    skip = await _platform_schedule(db, "skip", MissedRun.skip, t0)
    first = await reconcile.start(db, db_system.producer, now=t0)
    assert (first.caught_up, first.skipped) == ([], [])
    assert {f"schedule-{once}", f"schedule-{skip}"} <= set(first.reconciled.added)
    async with db.session() as s:
        missed_at = (await s.get(Schedule, once)).next_run_at
    # Two days later the process starts again: 03:00 came twice while nothing ran.
    t1 = t0 + dt.timedelta(days=2)
    later = await reconcile.start(db, db_system.producer, now=t1)
    catch_up = f"schedule-{once}-missed-{to_ms(missed_at)}"
    assert (later.caught_up, later.skipped) == ([catch_up], [skip])
    queue = db_system.producer.queue("scheduled")
    assert await queue.getJobState(catch_up) == "waiting"
    async with db.session() as s:
        rows = {
            r.id: r for r in await s.scalars(select(Schedule).where(Schedule.id.in_([once, skip])))
        }
    for row in rows.values():
        assert row.next_run_at == Recurrence(pattern="0 3 * * *").next_after(t1)
    # Each has one scheduler again (and so one pending run), made anew.
    found = await redis_schedulers(db_system)
    assert {f"schedule-{once}", f"schedule-{skip}"} <= set(found)
    # Started again at the same time: nothing was missed since.
    again = await reconcile.start(db, db_system.producer, now=t1)
    assert (again.caught_up, again.skipped, again.reconciled.changed) == ([], [], 0)


async def test_start_removes_the_old_briefing_schedulers_and_keeps_other_apps(
    db_system: JobSystem, db: Database
):
    ai = db_system.producer.queue("ai")
    await ai.upsertJobScheduler("daily-briefing-company-7", {"pattern": "0 8 * * *"},
                                "daily-briefing", {"companyId": 7})  # fmt: skip
    await ai.upsertJobScheduler("node-digest", {"every": 3_600_000}, "digest", {})
    done = await reconcile.start(db, db_system.producer)
    assert "daily-briefing-company-7" in done.reconciled.removed
    assert set(await schedulers.read(ai)) == {"node-digest"}


async def test_a_scheduler_fires_and_its_run_is_written_to_the_row(
    db_system: JobSystem, db: Database
):
    # Every second: BullMQ fires the first run at the row's next run, a worker runs it.
    spec = ScheduleCreate(name="often", job_type="sync-schedules", every_s=1)
    async with db.session() as s:
        row = await create_schedule(s, spec, None)
        first = row.next_run_at
    await reconcile.sync(db, db_system.producer, [row.id])
    job_id = f"repeat:schedule-{row.id}:{to_ms(first)}"
    async with running(db_system, "scheduled"):
        done = await db_system.admin.wait_for_job("scheduled", job_id, timeout_s=30)
    assert done.state == "completed", done.failed_reason
    async with db.session() as s:
        ran = await s.get(Schedule, row.id)
    assert ran.last_job_id == job_id and ran.last_run_at >= first
    assert ran.next_run_at > first


# ---- a run on its row --------------------------------------------------------------------------


async def test_a_run_is_written_to_its_schedule(db_system: JobSystem, db: Database):
    t0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    schedule_id = await _platform_schedule(db, "hourly", MissedRun.run_once, t0)
    async with db.session() as s:
        await s.execute(update(Schedule).where(Schedule.id == schedule_id)
                        .values(cron="0 * * * *"))  # fmt: skip
    fired = dt.datetime(2026, 5, 1, 13, 0, tzinfo=dt.UTC)
    job_id = f"repeat:schedule-{schedule_id}:{to_ms(fired)}"
    recorded = await record_run(db, job_id, now=fired + dt.timedelta(seconds=2))
    assert recorded is not None and recorded.skipped is None
    run = recorded.run
    assert (run.schedule_id, run.kind, run.at) == (schedule_id, "fired", fired)
    async with db.session() as s:
        row = await s.get(Schedule, schedule_id)
    assert row.last_job_id == job_id and row.last_run_at == fired + dt.timedelta(seconds=2)
    assert row.next_run_at == dt.datetime(2026, 5, 1, 14, 0, tzinfo=dt.UTC)
    assert await record_run(db, "an-ordinary-job") is None


async def test_a_companys_fired_runs_are_in_its_job_lists_and_not_in_anothers(
    db_system: JobSystem, db: Database
):
    async with db.session() as s:
        mine = await create_company(
            s, CompanyCreate(name="Index Optics", slug="index-optics", kind=CompanyKind.practice)
        )
        theirs = await create_company(
            s, CompanyCreate(name="Other Optics", slug="other-optics", kind=CompanyKind.practice)
        )
    row = (await by_job_type(db, mine.id))["nightly-anomaly-scan"]
    # Every second from a second from now: a company's schedule fires at most once a minute
    # through the service, so the row is changed behind its back rather than waiting a minute.
    first = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    async with db.session() as s:
        await s.execute(update(Schedule).where(Schedule.id == row.id)
                        .values(cron=None, every_s=1, next_run_at=first))  # fmt: skip
    await reconcile.sync(db, db_system.producer, [row.id])
    browse = db_system.admin.browse

    async def listed(company_id: int) -> set[str]:
        scope = ViewerScope(company_id=company_id)
        found: set[str] = set()
        for state in ("waiting", "active", "delayed", "completed"):
            page = await browse.jobs("scheduled", state, page_size=100, scope=scope)
            found |= {j.id for j in page.jobs if j.id.startswith(f"repeat:schedule-{row.id}:")}
        return found

    # The first run, made by the scheduler's upsert: due at ``first``, or at the moment of the
    # upsert when a loaded machine reached it after ``first`` had passed.
    [job_id] = await listed(mine.id)
    assert job_id.startswith(f"repeat:schedule-{row.id}:")
    assert int(job_id.rsplit(":", 1)[1]) >= to_ms(first)
    async with running(db_system, "scheduled"):
        done = await db_system.admin.wait_for_job("scheduled", job_id, timeout_s=30)
        assert done.state == "completed", done.failed_reason
        mine_listed = await listed(mine.id)
    # The fired run, and the next one the worker made when it took it, are the company's.
    assert job_id in mine_listed and len(mine_listed) >= 2
    assert await listed(theirs.id) == set()
    counts = await db_system.admin.counts("scheduled", ViewerScope(company_id=mine.id))
    assert counts["completed"] >= 1
