"""Companies: create one with its default schedules, change its time zone, deactivate or delete
it — each with, in the same transaction, the sync that brings its schedules in Redis to match.

A trading company (a practice, a lab, a supplier) gets the defaults
(:data:`ils.domain.models.schedules.DEFAULT_SCHEDULES`) on its own
clock: a company created while the app runs has its 03:00 scan and its 08:00 briefing from the
next 03:00 and 08:00 of its time zone, with no restart. The platform company gets none (the
platform's own schedules belong to no company). Deactivating a company removes its schedules;
activating it again gives it the defaults it lacks.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import Company, CompanyKind, Schedule
from ils.domain.models.schedules import DEFAULT_SCHEDULES, recurrence_of
from ils.domain.models.types import utcnow
from ils.domain.services import Email, Text200, added
from ils.domain.services.schedules import ScheduleCreate, changed, create_schedule
from ils.errors import Conflict
from ils.events import emit
from ils.queue.recurrence import check_timezone


class CompanyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    kind: CompanyKind
    email: Email | None = None
    timezone: str = Field("UTC", max_length=64, description="IANA name, e.g. Europe/Paris")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)


async def default_schedules(
    session: AsyncSession, company: Company, now: dt.datetime | None = None
) -> list[Schedule]:
    """Add the defaults ``company`` lacks (by name), and their sync; the rows added."""
    if company.kind is CompanyKind.platform:
        return []
    names = select(Schedule.name).where(Schedule.company_id == company.id)
    have = set(await session.scalars(names))
    rows = []
    for name, job_type, cron in DEFAULT_SCHEDULES:
        if name not in have:
            spec = ScheduleCreate(name=name, job_type=job_type, cron=cron)
            rows.append(await create_schedule(session, spec, company.id, now, sync=False))
    if rows:
        await changed(session, [r.id for r in rows])
    return rows


async def create_company(
    session: AsyncSession, data: CompanyCreate, now: dt.datetime | None = None
) -> Company:
    """The company and its default schedules, in the caller's transaction."""
    if await session.scalar(select(Company.id).where(Company.slug == data.slug)) is not None:
        raise Conflict(f"a company with the slug {data.slug!r} exists already")
    company = await added(session, Company(**data.model_dump()))
    await emit.company_created(session, company)
    await default_schedules(session, company, now)
    return company


async def _schedule_ids(session: AsyncSession, company: Company) -> list[int]:
    return list(await session.scalars(select(Schedule.id).where(Schedule.company_id == company.id)))


async def set_timezone(session: AsyncSession, company: Company, timezone: str) -> Company:
    """The company's time zone; its schedules that follow it are synced (next runs included)."""
    company.timezone = check_timezone(timezone)
    rows = list(await session.scalars(select(Schedule).where(Schedule.company_id == company.id)))
    for row in rows:
        if row.enabled and row.timezone is None and row.cron is not None:
            row.next_run_at = recurrence_of(row, company.timezone).next_after(utcnow())
    await session.flush()
    if rows:
        await changed(session, [r.id for r in rows])
    return company


async def set_active(
    session: AsyncSession, company: Company, active: bool, now: dt.datetime | None = None
) -> Company:
    """Deactivate (its schedules are removed) or activate (it gets its defaults again)."""
    company.is_active = active
    if active:
        await default_schedules(session, company, now)
    else:
        await _drop_schedules(session, company)
    await session.flush()
    return company


async def _drop_schedules(session: AsyncSession, company: Company) -> None:
    ids = await _schedule_ids(session, company)
    for row in await session.scalars(select(Schedule).where(Schedule.id.in_(ids))):
        await session.delete(row)
    await session.flush()
    if ids:
        await changed(session, ids)


async def delete_company(session: AsyncSession, company: Company) -> None:
    """Delete the company and its schedules. A company that still has users or business rows
    cannot go (the database refuses: a 409); deactivate it instead."""
    await _drop_schedules(session, company)
    await session.delete(company)
    await session.flush()
