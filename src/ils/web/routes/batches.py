"""Batches over HTTP: ``GET /api/batches/{batch_id}`` (a batch's jobs per state and its
callback's state) and ``POST /api/batches/daily-briefings`` (every company's briefing, then one
summary for the platform admins). The invoices' bulk resend, which also answers a batch id, is
:mod:`ils.web.routes.billing`'s.

A batch is read through the admin layer in the user's queue scope
(:func:`ils.web.routes.queue.scope_of`): another company's batch is a 404, like a missing one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field

from ils.domain.services import batches as service
from ils.web.auth import CurrentUser, DbSession, permit, record_audit
from ils.web.errors import ErrorOut
from ils.web.routes.queue import Admin, scope_of

router = APIRouter(prefix="/api/batches", tags=["batches"])

BatchId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^:/]+$")]


class BatchCountsOut(BaseModel):
    completed: int
    failed: int = Field(description="failed for good (after their attempts)")
    pending: int = Field(description="not finished yet; placed below by state")
    waiting: int | None = None
    active: int | None = None
    delayed: int | None = Field(None, description="delayed, or waiting to retry")
    waiting_children: int | None = Field(None, alias="waiting-children")


class BatchOut(BaseModel):
    id: str
    queue: str = Field(description="the callback's queue")
    callback: str = Field(description="the callback's job name")
    callback_state: str
    company_id: int | None
    total: int
    counts: BatchCountsOut
    done: bool = Field(description="the callback has run (completed or failed)")
    created: int = Field(description="epoch ms")
    finished_on: int | None


class BatchStartedOut(BaseModel):
    batch_id: str = Field(description="GET /api/batches/{batch_id} shows its progress")
    total: int
    queue: str
    callback: str


class BriefingsIn(BaseModel):
    date: dt.date | None = Field(None, description="the briefings' date; by default today")


BATCH_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such batch (or another company's)"},
    503: {"model": ErrorOut, "description": "Redis is unreachable"},
}


@router.get(
    "/{batch_id}",
    response_model=BatchOut,
    responses=BATCH_ERRORS,
    summary="A batch's progress: its jobs per state and its callback's state",
    dependencies=[permit("batches.read")],
)
async def get_batch(batch_id: BatchId, user: CurrentUser, admin: Admin) -> dict[str, Any]:
    return (await admin.batches.get(batch_id, scope_of(user))).to_dict()


@router.post(
    "/daily-briefings",
    response_model=BatchStartedOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Every company's daily briefing as one batch; the platform admins get one summary",
    dependencies=[permit("batches.briefings")],
)
async def start_daily_briefings(
    request: Request, user: CurrentUser, session: DbSession, body: BriefingsIn | None = None
) -> BatchStartedOut:
    started = await service.daily_briefings(session, body.date if body is not None else None)
    detail = {"jobs": started.total}
    await record_audit(
        session, user, "batch.daily_briefings", "batch", started.batch_id, detail, request
    )
    return BatchStartedOut.model_validate(started, from_attributes=True)
