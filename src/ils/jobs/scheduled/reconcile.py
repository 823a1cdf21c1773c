"""Redis made equal to the schedule rows: one BullMQ job scheduler per enabled schedule of an
active company (or of the platform), nothing for the rest; and, once a process that works the
scheduled queue has started its workers, the runs missed while none did, handled as each
schedule says.

The rows are the truth. :func:`sync` runs after a change (the ``sync-schedules`` job, enqueued
through the outbox in the transaction that made it) for the schedules it names, or for all;
:func:`start` runs in the background of a start, while the workers already take jobs (a missed
run they take first follows its schedule's policy as it starts: :mod:`ils.jobs.scheduled.runs`).
Both are idempotent: a scheduler that already matches its row is left alone (its pending run
keeps its time), so processes may run them at once. The schedulers this module owns have ids
``schedule-<id>``, plus ``daily-briefing-company-<id>`` on the ai queue, the briefing schedulers
made before schedules were rows (removed here); any other scheduler (a Node app's own) is left
alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database
from ils.domain.enums import SCHEDULER_PREFIX
from ils.domain.models import Company, MissedRun, Schedule
from ils.domain.models.schedules import job_data, recurrence_of, scheduler_id
from ils.domain.models.types import utcnow
from ils.errors import InvalidJobPayload, UnknownJobType
from ils.jobs.scheduled.runs import MISSED_AFTER, QUEUE, own_run_id
from ils.queue import schedulers
from ils.queue.executor import validate_payload
from ils.queue.producer import Producer, job_options
from ils.queue.recurrence import to_ms
from ils.queue.schedulers import Reconciled, WantedScheduler
from ils.queue.tenancy import add_job, with_company

log = logging.getLogger("ils.jobs.scheduled")

LEGACY_PREFIX = "daily-briefing-company-"
QUEUES = (QUEUE, "ai")


def owns(sid: str) -> bool:
    """Whether the scheduler ``sid`` is one of the schedules'."""
    return sid.startswith((SCHEDULER_PREFIX, LEGACY_PREFIX))


def wanted_of(
    row: Schedule, company_tz: str | None, producer: Producer, first: dt.datetime | None = None
) -> WantedScheduler:
    """The scheduler ``row`` wants. Raises :class:`UnknownJobType`, :class:`InvalidJobPayload`
    or ``ValueError`` for a row the code no longer accepts (its type was removed, say)."""
    job_type = producer.registry.get(QUEUE, row.job_type)
    typed = validate_payload(job_type, job_data(row, job_type.payload.model_fields))
    opts = job_options(job_type, producer.settings.queue(QUEUE), None)
    recurrence = recurrence_of(row, company_tz)
    return WantedScheduler(
        id=scheduler_id(row.id), queue=QUEUE, name=row.job_type,
        repeat=recurrence.repeat_options(first or row.next_run_at),
        data=with_company(typed.to_wire(), row.company_id), opts=opts,
    )  # fmt: skip


async def live_rows(
    session: AsyncSession, ids: Collection[int] | None = None
) -> Sequence[tuple[Schedule, str | None]]:
    """The enabled schedules of active companies and of the platform (of ``ids`` only, when
    given), each with its company's time zone."""
    query = (
        select(Schedule, Company.timezone)
        .outerjoin(Company, Company.id == Schedule.company_id)
        .where(Schedule.enabled, or_(Schedule.company_id.is_(None), Company.is_active))
        .order_by(Schedule.id)
    )
    if ids is not None:
        query = query.where(Schedule.id.in_(list(ids)))
    return [(row, tz) for row, tz in (await session.execute(query)).all()]


def _wanted(
    rows: Sequence[tuple[Schedule, str | None]],
    producer: Producer,
    first: dict[int, dt.datetime] | None = None,
) -> list[WantedScheduler]:
    out = []
    for row, tz in rows:
        try:
            out.append(wanted_of(row, tz, producer, (first or {}).get(row.id)))
        except (UnknownJobType, InvalidJobPayload, ValueError) as exc:
            log.warning("schedule %s (%s) cannot run and gets no scheduler: %s",
                        row.id, row.name, exc)  # fmt: skip
    return out


async def sync(db: Database, producer: Producer, ids: Collection[int] = ()) -> Reconciled:
    """Make the schedulers of the schedules ``ids`` (all, when empty) equal to their rows."""
    async with db.session() as session:
        rows = await live_rows(session, ids or None)
    wanted = _wanted(rows, producer)
    only = {scheduler_id(i) for i in ids} if ids else None
    done = await schedulers.reconcile(producer.queue, wanted, owns, QUEUES, only)
    if done.changed:
        log.info("schedules synced: %d added, %d updated, %d removed",
                 len(done.added), len(done.updated), len(done.removed))  # fmt: skip
    return done


@dataclass
class Started:
    """What :func:`start` did: the runs it added for missed ones (job ids), the schedules whose
    missed run it skipped, those whose missed run a worker took first (its policy applied as it
    started), and the reconcile."""

    caught_up: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    taken: list[int] = field(default_factory=list)
    reconciled: Reconciled = field(default_factory=Reconciled)


async def start(db: Database, producer: Producer, now: dt.datetime | None = None) -> Started:
    """Once a process that works the scheduled queue has started its workers: each schedule
    whose next run is more than :data:`MISSED_AFTER` past ``now`` and still pending (no worker
    took it) has it taken back, and runs once now or skips it, as it declares; every schedule
    without a next run, or past one, gets the next after ``now``; then every scheduler is made
    equal to its row. Redis first, the rows after: a crash in between finds the same missed runs
    again, and a run it adds twice has the same job id; a run added for one a worker took in the
    meantime does nothing (:func:`ils.jobs.scheduled.runs.already_ran`)."""
    now = now or utcnow()
    async with db.session() as session:
        rows = await live_rows(session)
    due = now - MISSED_AFTER
    fresh = {
        row.id: recurrence_of(row, tz).next_after(now)
        for row, tz in rows
        if row.next_run_at is None or row.next_run_at < due
    }
    wanted = {w.id: w for w in _wanted(rows, producer, fresh)}
    queue = producer.queue(QUEUE)
    done = Started()
    for row, _tz in rows:
        w = wanted.get(scheduler_id(row.id))
        if w is None or row.next_run_at is None or row.next_run_at >= due:
            continue
        # The scheduler goes, and its pending run with it, unless a worker took that run.
        if not await schedulers.take_back(queue, w.id, f"repeat:{w.id}:{to_ms(row.next_run_at)}"):
            done.taken.append(row.id)
        elif row.missed_run is MissedRun.run_once:
            job_id = own_run_id(row.id, "missed", row.next_run_at)
            await add_job(queue, w.name, w.data, {**w.opts, "jobId": job_id})
            done.caught_up.append(job_id)
        else:
            done.skipped.append(row.id)
    done.reconciled = await schedulers.reconcile(producer.queue, wanted.values(), owns, QUEUES)
    if fresh:
        async with db.session() as session:
            for row in await session.scalars(select(Schedule).where(Schedule.id.in_(fresh))):
                row.next_run_at = fresh[row.id]
    if done.caught_up or done.skipped or done.taken:
        counts = len(done.caught_up), len(done.skipped), len(done.taken)
        log.info("schedules missed while nothing ran: %d run now, %d skipped, %d taken by a "
                 "worker first", *counts)  # fmt: skip
    return done
