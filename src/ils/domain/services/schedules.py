"""Schedules: list, add, change, pause, resume, remove and run now the recurring jobs of a company
(or, for the platform's operators, of the platform) — and, in the same transaction, the
``sync-schedules`` job that brings Redis's job schedulers to match (:mod:`ils.jobs.scheduled`).

A schedule runs a job type of the ``scheduled`` queue: a company's, one whose payload names its
company (filled in from the schedule), or the platform's own (retention, say), which only a
platform-wide schedule may run. Its payload is checked against the job type's model, its cron
pattern against BullMQ's parser, its time zone against the IANA database, and a company's
schedule fires at most once a minute (the scheduled queue is every company's); a bad one is an
:class:`~ils.errors.Invalid` naming the field. The next run is worked out here, with BullMQ's
own arithmetic, so the row shows it before Redis has the scheduler.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import Company, MissedRun, Schedule
from ils.domain.models.schedules import job_data, recurrence_of
from ils.domain.models.types import utcnow
from ils.domain.services import Id, Paged, Text100, Window, not_null, paged, where_given
from ils.errors import Invalid, InvalidJobPayload, UnknownJobType
from ils.jobs.scheduled.runs import QUEUE, own_run_id
from ils.jobs.scheduled.sync import sync_schedules
from ils.queue.executor import validate_payload
from ils.queue.producer import Enqueued, EnqueueOptions, producer_for
from ils.queue.recurrence import check_cron, check_timezone
from ils.queue.registry import JobType

JobName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Cron = Annotated[str, StringConstraints(min_length=1, max_length=120)]
EverySeconds = Annotated[int, Field(ge=1, le=366 * 86_400, description="run every N seconds")]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Checked(BaseModel):
    @field_validator("cron", check_fields=False)
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class ScheduleCreate(_Checked):
    """A new schedule: a cron pattern (``cron``) or an interval (``every_s``), not both."""

    model_config = ConfigDict(extra="forbid")

    name: Text100
    job_type: JobName = Field(description="a job type of the scheduled queue")
    payload: dict[str, Any] = Field(default_factory=dict, description="the job's data")
    cron: Cron | None = Field(None, description='e.g. "0 8 * * *": 08:00 every day')
    every_s: EverySeconds | None = None
    timezone: TimeZone | None = Field(None, description="IANA name; none: the company's")
    enabled: bool = True
    missed_run: MissedRun = MissedRun.run_once
    company_id: Id | None = Field(None, description="whose (platform admins only choose)")


class ScheduleUpdate(_Checked):
    """Only the fields sent change; ``cron`` and ``every_s`` replace each other."""

    model_config = ConfigDict(extra="forbid")

    name: Text100 | None = None
    payload: dict[str, Any] | None = None
    cron: Cron | None = None
    every_s: EverySeconds | None = None
    timezone: TimeZone | None = None
    missed_run: MissedRun | None = None

    _not_null = field_validator("name", "payload", "missed_run")(not_null)


def _job_type(session: AsyncSession, name: str, company_id: int | None) -> JobType:
    registry = producer_for(None, session).registry
    try:
        job_type = registry.get(QUEUE, name)
    except UnknownJobType:
        known = ", ".join(sorted(t.name for t in registry.for_queue(QUEUE)))
        raise Invalid("job_type", f"no job type {name!r} on the scheduled queue: {known}") from None
    if company_id is not None and "company_id" not in job_type.payload.model_fields:
        raise Invalid("job_type", f"{name} is the platform's work: a company cannot schedule it")
    return job_type


def _checked_payload(row: Schedule, job_type: JobType) -> None:
    fields = job_type.payload.model_fields
    given = row.payload.get("company_id", row.payload.get("companyId"))
    if row.company_id is not None and given not in (None, row.company_id):
        raise Invalid(("payload", "company_id"), "a schedule's jobs are its own company's")
    try:
        validate_payload(job_type, job_data(row, fields))
    except InvalidJobPayload as exc:
        first = exc.errors[0]
        raise Invalid(("payload", *str(first["field"]).split(".")), str(first["message"])) from exc


#: A company's schedule fires at most this often (the scheduled queue is shared by every company).
COMPANY_MIN_INTERVAL_S = 60


def _not_too_often(row: Schedule) -> None:
    if row.company_id is None:
        return
    if row.every_s is not None and row.every_s < COMPANY_MIN_INTERVAL_S:
        raise Invalid("every_s", f"a company's schedule runs at most every "
                                 f"{COMPANY_MIN_INTERVAL_S} seconds")  # fmt: skip
    if row.cron is not None and len(row.cron.split()) == 6:
        raise Invalid("cron", "a company's schedule has no seconds field (5 fields)")


async def _company_tz(session: AsyncSession, company_id: int | None) -> str | None:
    if company_id is None:
        return None
    company = await session.get(Company, company_id)
    if company is None:
        raise Invalid("company_id", "no such company")
    return company.timezone


async def _settled(
    session: AsyncSession, row: Schedule, now: dt.datetime | None, sync: bool = True
) -> Schedule:
    """``row`` checked, its next run worked out, flushed, and (``sync``) its sync enqueued."""
    if (row.cron is None) == (row.every_s is None):
        raise Invalid("cron", "give a cron pattern or an interval (every_s), exactly one")
    _checked_payload(row, _job_type(session, row.job_type, row.company_id))
    _not_too_often(row)
    now = now or utcnow()
    tz = await _company_tz(session, row.company_id)
    row.next_run_at = recurrence_of(row, tz).next_after(now) if row.enabled else None
    row.updated_at = now
    session.add(row)
    await session.flush()
    if sync:
        await changed(session, [row.id])
    return row


async def changed(session: AsyncSession, ids: list[int]) -> None:
    """Enqueue, in ``session``'s transaction, the sync of the schedules ``ids`` to Redis."""
    await sync_schedules.send({"schedule_ids": ids}, session=session)


async def list_schedules(
    session: AsyncSession,
    company_id: int | None,
    window: Window,
    *,
    every_company: bool = False,
    job_type: str | None = None,
) -> Paged[Schedule]:
    """The schedules of ``company_id`` (with ``every_company``: of every company and of the
    platform, or of ``company_id`` alone when given), by id."""
    query = select(Schedule)
    if not every_company or company_id is not None:
        query = query.where(Schedule.company_id == company_id)
    query = where_given(query, (Schedule.job_type, job_type))
    return await paged(session, query.order_by(Schedule.id), window)


async def create_schedule(
    session: AsyncSession, data: ScheduleCreate, company_id: int | None,
    now: dt.datetime | None = None, sync: bool = True,
) -> Schedule:  # fmt: skip
    """A new schedule of ``company_id`` (None: the platform's); ``sync`` False leaves the sync
    to the caller (who adds several, say)."""
    found = await session.scalar(
        select(Schedule.id).where(Schedule.company_id == company_id, Schedule.name == data.name)
    )
    if found is not None:
        raise Invalid("name", "a schedule of that name exists already")
    fields = data.model_dump(exclude={"company_id"})
    return await _settled(session, Schedule(company_id=company_id, **fields), now, sync)


async def update_schedule(
    session: AsyncSession, row: Schedule, data: ScheduleUpdate, now: dt.datetime | None = None
) -> Schedule:
    changes = data.model_dump(exclude_unset=True)
    if "cron" in changes and changes["cron"] is not None:
        changes.setdefault("every_s", None)
    if "every_s" in changes and changes["every_s"] is not None:
        changes.setdefault("cron", None)
    if "name" in changes and changes["name"] != row.name:
        clash = await session.scalar(select(Schedule.id).where(
            Schedule.company_id == row.company_id, Schedule.name == changes["name"]
        ))  # fmt: skip
        if clash is not None:
            raise Invalid("name", "a schedule of that name exists already")
    for name, value in changes.items():
        setattr(row, name, value)
    return await _settled(session, row, now)


async def set_enabled(
    session: AsyncSession, row: Schedule, enabled: bool, now: dt.datetime | None = None
) -> Schedule:
    """Pause (``enabled`` False: its scheduler goes) or resume a schedule."""
    row.enabled = enabled
    return await _settled(session, row, now)


async def delete_schedule(session: AsyncSession, row: Schedule) -> None:
    schedule_id = row.id
    await session.delete(row)
    await session.flush()
    await changed(session, [schedule_id])


async def run_now(session: AsyncSession, row: Schedule, now: dt.datetime | None = None) -> Enqueued:
    """One run of ``row`` now, besides its schedule (paused or not), through the outbox."""
    job_type = _job_type(session, row.job_type, row.company_id)
    options = EnqueueOptions(job_id=own_run_id(row.id, "now", now or utcnow()))
    return await producer_for(None, session).enqueue(
        QUEUE, row.job_type, job_data(row, job_type.payload.model_fields), options,
        session=session, company_id=row.company_id,
    )  # fmt: skip
