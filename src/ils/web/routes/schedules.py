"""``/api/schedules``: the recurring jobs of the signed-in admin's company, and for platform admins
every company's and the platform's own: list, add, read, change, remove, run now
(``/{id}/run-now``), pause and resume (``/{id}/pause``, ``/{id}/resume``).

Another company's schedule (and, for a company's admins, a platform schedule) answers 404 like
a missing one; a company's admins cannot name another company, nor schedule the platform's job
types. Bad input (an unknown job type, a bad cron pattern or time zone, a payload its job type
refuses, a company's schedule firing more than once a minute) is a 422 naming the field; run-now
counts against the ``bulk`` quota. The rules live in :mod:`ils.domain.services.schedules`;
every change is audited, and reaches Redis once its transaction commits (through the outbox).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ils.domain.models import MissedRun, Schedule
from ils.domain.models.accounts import User
from ils.domain.services import Id, QueuedJob, Window
from ils.domain.services import schedules as service
from ils.domain.services.schedules import JobName, ScheduleCreate, ScheduleUpdate
from ils.errors import Invalid
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.auth.ownership import sees_all_companies
from ils.web.quota_deps import BulkQuota
from ils.web.routes.common import Limit, Offset, Page, one_row

router = APIRouter(prefix="/api/schedules", tags=["schedules"])
ScheduleId = Id
READ, WRITE = permit("schedules.read"), permit("schedules.write")


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int | None = Field(description="none: the platform's own")
    name: str
    job_type: str = Field(description="a job type of the scheduled queue")
    payload: dict[str, Any]
    cron: str | None
    every_s: int | None
    timezone: str | None = Field(description="none: the company's time zone (UTC: platform)")
    enabled: bool
    missed_run: MissedRun
    last_run_at: dt.datetime | None
    last_job_id: str | None
    next_run_at: dt.datetime | None = Field(description="none while paused")
    scheduler_id: str = Field(description="its BullMQ job scheduler on the scheduled queue")
    created_at: dt.datetime
    updated_at: dt.datetime


class SchedulePage(Page[ScheduleOut]):
    pass


def _owner(user: User, asked: int | None) -> int | None:
    """Whose a new schedule is: a platform admin's choice (none: the platform's), else the
    user's own company."""
    if sees_all_companies(user):
        return asked
    if asked not in (None, user.company_id):
        raise Invalid("company_id", "you may schedule jobs for your own company only")
    return user.company_id


async def _audit(
    request: Request, session: DbSession, user: User, action: str, row: Schedule
) -> None:
    detail = {"name": row.name, "job_type": row.job_type, "company_id": row.company_id}
    await record_audit(session, user, f"schedules.{action}", "schedule", row.id, detail, request)


@router.get("", dependencies=[READ], response_model=SchedulePage, summary="Schedules")
async def list_schedules(
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    company_id: Annotated[Id | None, Query(description="platform admins: one company's")] = None,
    job_type: Annotated[JobName | None, Query()] = None,
) -> SchedulePage:
    """The company's schedules, by id; a platform admin's list holds every company's and the
    platform's (or one company's, with ``company_id``)."""
    window = Window(limit, offset)
    every = sees_all_companies(user)
    owner = company_id if every else user.company_id
    found = await service.list_schedules(
        session, owner, window, every_company=every, job_type=job_type
    )
    return SchedulePage.of(found, window, ScheduleOut.model_validate)


@router.post("", dependencies=[WRITE], status_code=201, response_model=ScheduleOut,
             summary="Add a schedule")  # fmt: skip
async def create_schedule(
    body: ScheduleCreate, request: Request, user: CurrentUser, session: DbSession
) -> Schedule:
    row = await service.create_schedule(session, body, _owner(user, body.company_id))
    await _audit(request, session, user, "created", row)
    return row


@one_row(router, "GET", "/{schedule_id}", READ, response_model=ScheduleOut, summary="A schedule")
async def get_schedule(schedule_id: ScheduleId, user: CurrentUser, session: DbSession) -> Schedule:
    return await get_owned(session, Schedule, schedule_id, user)


@one_row(router, "PATCH", "/{schedule_id}", WRITE, response_model=ScheduleOut,
         summary="Change a schedule (only the fields sent)")  # fmt: skip
async def update_schedule(
    schedule_id: ScheduleId, body: ScheduleUpdate, request: Request, user: CurrentUser,
    session: DbSession,
) -> Schedule:  # fmt: skip
    row = await service.update_schedule(
        session, await get_owned(session, Schedule, schedule_id, user), body
    )
    await _audit(request, session, user, "changed", row)
    return row


@one_row(router, "DELETE", "/{schedule_id}", WRITE, status_code=204,
         summary="Remove a schedule (its job scheduler goes)")  # fmt: skip
async def delete_schedule(
    schedule_id: ScheduleId, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    row = await get_owned(session, Schedule, schedule_id, user)
    await _audit(request, session, user, "removed", row)
    await service.delete_schedule(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@one_row(router, "POST", "/{schedule_id}/run-now", WRITE, status_code=202,
         response_model=QueuedJob,
         summary="Run a schedule's job once now, besides its schedule")  # fmt: skip
async def run_schedule_now(
    schedule_id: ScheduleId, request: Request, user: CurrentUser, session: DbSession,
    _quota: BulkQuota,
) -> QueuedJob:  # fmt: skip
    row = await get_owned(session, Schedule, schedule_id, user)
    sent = await service.run_now(session, row)
    await _audit(request, session, user, "run_now", row)
    return QueuedJob.of(sent)


@one_row(router, "POST", "/{schedule_id}/{action}", WRITE, response_model=ScheduleOut,
         summary="Pause a schedule (no runs, no scheduler) or resume it")  # fmt: skip
async def pause_or_resume_schedule(
    schedule_id: ScheduleId, action: Literal["pause", "resume"], request: Request,
    user: CurrentUser, session: DbSession,
) -> Schedule:  # fmt: skip
    row = await get_owned(session, Schedule, schedule_id, user)
    row = await service.set_enabled(session, row, action == "resume")
    await _audit(request, session, user, "resumed" if row.enabled else "paused", row)
    return row
