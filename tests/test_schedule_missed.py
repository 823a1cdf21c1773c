"""Missed runs decided as they start, on real Redis and SQLite/PostgreSQL: a process that works the
scheduled queue takes jobs before its start pass (``reconcile.start``) has looked at the missed
runs, so a run missed during downtime that a worker takes first follows its schedule's policy as
it starts (``skip``: completed without its work; ``run_once``: run), a run on time runs, and
whichever of the worker and the start pass reaches a missed run first, it runs once at most.

The downtime is real Redis state: the schedulers are made with BullMQ's clock set two days back
(its scheduler and its script calls read ``time.time``), so their pending runs fell due while no
worker ran, exactly as a scheduler made then would have left them."""

from __future__ import annotations

import contextlib
import datetime as dt
import types
from collections.abc import Iterator
from dataclasses import dataclass

import bullmq.job_scheduler
import bullmq.scripts
import pytest
from sqlalchemy import update

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import MissedRun, Schedule
from ils.domain.services.schedules import ScheduleCreate, create_schedule
from ils.jobs.scheduled import reconcile
from ils.jobs.scheduled.runs import MISSED_AFTER, own_run_id, record_run
from ils.queue.recurrence import to_ms
from ils.queue.tenancy import add_job
from tests.support.running import Records, running

PROBE = "test-scheduled-probe"
DAILY = "0 3 * * *"


@contextlib.contextmanager
def bullmq_clock(at: dt.datetime) -> Iterator[None]:
    """BullMQ's clock at ``at`` for the block (see the module's doc)."""
    clock = types.SimpleNamespace(time=at.timestamp)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bullmq.job_scheduler, "time", clock)
        patch.setattr(bullmq.scripts, "time", clock)
        yield


async def _schedule(db: Database, name: str, missed: MissedRun, now: dt.datetime) -> Schedule:
    spec = ScheduleCreate(name=name, job_type=PROBE, cron=DAILY, missed_run=missed)
    async with db.session() as s:
        return await create_schedule(s, spec, None, now)


def _due(job_id: str) -> dt.datetime:
    """When the scheduler's run ``job_id`` was due (its id says)."""
    return dt.datetime.fromtimestamp(int(job_id.rsplit(":", 1)[1]) / 1000, dt.UTC)


async def _downtime(db_system: JobSystem, db: Database) -> dict[MissedRun, tuple[int, str]]:
    """A ``skip`` and a ``run_once`` schedule whose schedulers were made two days ago, nothing
    run since: each one's id and the job id of its pending run, missed."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    rows = {m: await _schedule(db, m.value, m, at) for m in MissedRun}
    with bullmq_clock(at):
        await reconcile.sync(db, db_system.producer)
    pending = {
        m: (r.id, f"repeat:{r.scheduler_id}:{to_ms(r.next_run_at)}") for m, r in rows.items()
    }
    queue = db_system.producer.queue("scheduled")
    for _id, job_id in pending.values():
        assert await queue.getJobState(job_id) == "delayed"  # nothing took it
        assert dt.datetime.now(dt.UTC) - _due(job_id) > MISSED_AFTER
    return pending


@dataclass(frozen=True)
class Missed:
    """The two schedules of :func:`_downtime`: ids and missed runs, and both by policy."""

    pending: dict[MissedRun, tuple[int, str]]

    @property
    def skip(self) -> tuple[int, str]:
        return self.pending[MissedRun.skip]

    @property
    def once(self) -> tuple[int, str]:
        return self.pending[MissedRun.run_once]


@pytest.fixture
async def missed(db_system: JobSystem, db: Database) -> Missed:
    return Missed(await _downtime(db_system, db))


async def test_a_missed_run_a_worker_takes_first_follows_its_schedules_policy(
    db_system: JobSystem, db: Database, records: Records, missed: Missed
):
    (skip_id, skip_run), (once_id, once_run) = missed.skip, missed.once
    # The process starts; its worker takes both missed runs, no start pass has run.
    async with running(db_system, "scheduled"):
        skipped = await db_system.admin.wait_for_job("scheduled", skip_run, timeout_s=30)
        ran = await db_system.admin.wait_for_job("scheduled", once_run, timeout_s=30)
    assert skipped.state == "completed", skipped.failed_reason
    assert "missed" in skipped.return_value["skipped"]
    assert await records.runs("scheduled", skip_run) == 0  # the work was not done
    assert ran.state == "completed", ran.failed_reason
    assert ran.return_value == {"runs": 1, "tag": "x"}
    now = dt.datetime.now(dt.UTC)
    async with db.session() as s:
        skip_row, once_row = await s.get(Schedule, skip_id), await s.get(Schedule, once_id)
    assert skip_row.last_job_id is None and skip_row.next_run_at > now
    assert once_row.last_job_id == once_run and once_row.next_run_at > now
    # The start pass after: nothing missed any more, nothing added.
    done = await reconcile.start(db, db_system.producer)
    assert (done.caught_up, done.skipped, done.taken) == ([], [], [])
    assert await records.effects() == 1


async def test_a_start_pass_that_read_the_rows_before_a_worker_took_the_run_adds_nothing(
    db_system: JobSystem, db: Database, records: Records, missed: Missed
):
    once_id, once_run = missed.once
    async with running(db_system, "scheduled"):
        ran = await db_system.admin.wait_for_job("scheduled", once_run, timeout_s=30)
    assert ran.state == "completed", ran.failed_reason
    # The rows as a start pass read them before the worker took the runs.
    async with db.session() as s:
        for schedule_id, job_id in missed.pending.values():
            await s.execute(update(Schedule).where(Schedule.id == schedule_id)
                            .values(next_run_at=_due(job_id)))  # fmt: skip
    done = await reconcile.start(db, db_system.producer)
    assert (done.caught_up, done.skipped) == ([], [])
    assert sorted(done.taken) == sorted(i for i, _run in missed.pending.values())
    # Had it added the run_once schedule's catch-up anyway, that run would not do the work twice.
    catch_up = own_run_id(once_id, "missed", _due(once_run))
    queue = db_system.producer.queue("scheduled")
    await add_job(queue, PROBE, {}, {"jobId": catch_up})
    async with running(db_system, "scheduled"):
        again = await db_system.admin.wait_for_job("scheduled", catch_up, timeout_s=30)
    assert again.state == "completed", again.failed_reason
    assert "already started" in again.return_value["skipped"]
    assert await records.runs("scheduled", catch_up) == 0
    assert await records.effects() == 1
    # Each schedule has its scheduler again, with a run after now.
    found = {s["id"]: s for s in await db_system.admin.schedulers("scheduled")}
    for schedule_id, _run in missed.pending.values():
        assert f"schedule-{schedule_id}" in found


async def test_whichever_reaches_a_missed_run_first_it_runs_once_at_most(
    db_system: JobSystem, db: Database, records: Records, missed: Missed
):
    (once_id, once_run), (_skip_id, skip_run) = missed.once, missed.skip
    queue = db_system.producer.queue("scheduled")
    # As a process starts: the worker and the start pass at once, in whatever order they meet.
    async with running(db_system, "scheduled"):
        done = await reconcile.start(db, db_system.producer)
        ends = [once_run, skip_run, *done.caught_up]
        for job_id in ends:
            if await queue.getJobState(job_id) != "unknown":  # not taken back by the start pass
                await db_system.admin.wait_for_job("scheduled", job_id, timeout_s=30)
    assert done.caught_up in ([], [own_run_id(once_id, "missed", _due(once_run))])
    assert await records.runs("scheduled", skip_run) == 0
    ran = [await records.runs("scheduled", job_id) for job_id in (once_run, *done.caught_up)]
    assert sum(ran) == 1, (done, ran)


async def test_a_missed_run_the_start_pass_reaches_first_runs_once_as_its_catch_up(
    db_system: JobSystem, db: Database, records: Records, missed: Missed
):
    (once_id, once_run), (skip_id, skip_run) = missed.once, missed.skip
    done = await reconcile.start(db, db_system.producer)
    catch_up = own_run_id(once_id, "missed", _due(once_run))
    assert (done.caught_up, done.skipped, done.taken) == ([catch_up], [skip_id], [])
    queue = db_system.producer.queue("scheduled")
    assert await queue.getJobState(once_run) == "unknown"
    assert await queue.getJobState(skip_run) == "unknown"
    async with running(db_system, "scheduled"):
        ran = await db_system.admin.wait_for_job("scheduled", catch_up, timeout_s=30)
    assert ran.state == "completed" and ran.return_value == {"runs": 1, "tag": "x"}
    assert await records.effects() == 1


async def test_a_run_on_time_runs_and_a_late_one_follows_its_policy(
    db_system: JobSystem, db: Database
):
    t0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    rows = {m: await _schedule(db, m.value, m, t0) for m in MissedRun}
    for missed, row in rows.items():
        fired = row.next_run_at
        job_id = f"repeat:{row.scheduler_id}:{to_ms(fired)}"
        late = await record_run(db, job_id, now=fired + MISSED_AFTER + dt.timedelta(seconds=1))
        assert late is not None and late.run.kind == "fired"
        assert (late.skipped is not None) == (missed is MissedRun.skip), late
        # A retry of a run that started on time goes on, however late.
        following = f"repeat:{row.scheduler_id}:{to_ms(fired + dt.timedelta(days=1))}"
        on_time = await record_run(db, following, now=fired + dt.timedelta(days=1, minutes=4))
        assert on_time is not None and on_time.skipped is None
        retry = await record_run(db, following, now=fired + dt.timedelta(days=1, hours=2))
        assert retry is not None and retry.skipped is None


async def test_a_scheduled_run_on_time_runs_with_a_worker(
    db_system: JobSystem, db: Database, records: Records
):
    # Every second, skipping missed runs: the first run is due a second after the row is made.
    spec = ScheduleCreate(name="often", job_type=PROBE, every_s=1, missed_run=MissedRun.skip)
    async with db.session() as s:
        row = await create_schedule(s, spec, None)
    await reconcile.sync(db, db_system.producer, [row.id])
    job_id = f"repeat:{row.scheduler_id}:{to_ms(row.next_run_at)}"
    async with running(db_system, "scheduled"):
        done = await db_system.admin.wait_for_job("scheduled", job_id, timeout_s=30)
    assert done.state == "completed" and done.return_value == {"runs": 1, "tag": "x"}
    assert await records.runs("scheduled", job_id) == 1
