"""The outbox seen from the queue admin: jobs written to the database but not yet in Redis (the
spool while Redis was down, or rows the relay could not add), with how relaying them has gone.

Reading is for the three admin roles (personal payload fields masked for ``company_admin``);
relaying now and discarding a row are for ``platform_admin`` and ``admin``, and audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel

from ils.web.auth.audit import record_audit
from ils.web.auth.context import web_context
from ils.web.auth.dependencies import DbSession
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue_admin import ACTION_ERRORS, QueueMonitor, QueueOperator, masked_payload

router = APIRouter(prefix="/api/queue/outbox", tags=["queue admin"])


class OutboxRowOut(BaseModel):
    id: str
    queue: str
    name: str
    payload: Any
    created_at: dt.datetime
    relay_attempts: int
    last_error: str | None


class OutboxPageOut(BaseModel):
    pending: int
    rows: list[OutboxRowOut]


class RelayOut(BaseModel):
    relayed: int
    pending: int


@router.get("", response_model=OutboxPageOut, responses=ACTION_ERRORS,
            summary="Jobs waiting in the outbox for Redis, longest-waiting first")  # fmt: skip
async def pending_jobs(
    user: QueueMonitor,
    session: DbSession,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    outbox = web_context(request).system.outbox
    rows = await outbox.pending_rows(session, limit, offset)
    out = [
        {**vars(row), "payload": masked_payload(user, request, row.queue, row.name, row.payload)}
        for row in rows
    ]
    return {"pending": await outbox.count(pending=True, session=session), "rows": out}


@router.post("/relay", response_model=RelayOut, responses=ACTION_ERRORS,
             summary="Relay every pending job now instead of at the next sweep")  # fmt: skip
async def relay_now(
    user: QueueOperator, session: DbSession, request: Request, _quota: BulkQuota
) -> dict[str, int]:
    system = web_context(request).system
    await record_audit(session, user, "queue.outbox_relay", "outbox", None, {}, request)
    # The relay works in sessions of its own: let go of this request's connection first (SQLite
    # has one per process), keeping the audit entry.
    await session.commit()
    relayed = await system.relay.relay_pending()
    return {"relayed": relayed, "pending": await system.outbox.count(pending=True)}


@router.delete("/{row_id}", response_model=RelayOut, responses=ACTION_ERRORS,
               summary="Give up on a pending job: delete it from the outbox")  # fmt: skip
async def discard(
    user: QueueOperator,
    session: DbSession,
    request: Request,
    row_id: Annotated[str, Path(min_length=1, max_length=40)],
) -> dict[str, int]:
    outbox = web_context(request).system.outbox
    row = await outbox.pending_row(session, row_id)
    if row is None or not await outbox.discard(session, row_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no pending outbox job {row_id}")
    detail = {"queue": row.queue, "name": row.name, "attempts": row.relay_attempts}
    await record_audit(session, user, "queue.outbox_discard", "job", f"{row.queue}/{row_id}",
                       detail, request)  # fmt: skip
    return {"relayed": 0, "pending": await outbox.count(pending=True, session=session)}
