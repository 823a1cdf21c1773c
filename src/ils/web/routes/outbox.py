"""The outbox seen from the queue admin: jobs written to the database but not yet in Redis (the
spool while Redis was down, or rows the relay could not add), with how relaying them has gone.

For the three admin roles, through the admin layer's scoped view of the outbox
(:class:`ils.queue.outbox_admin.OutboxAdmin`): a company's admin lists and discards only its own
company's rows (another's is a 404), ``company_admin`` sees personal payload fields masked, and
relaying now (every company's rows) is ``platform_admin``'s. Actions are audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from ils.web.auth.audit import record_audit
from ils.web.auth.dependencies import DbSession
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue import Admin, Scope, admin_route
from ils.web.routes.queue_actions import Act

router = APIRouter(prefix="/api/queue/outbox", tags=["queue admin"])


class OutboxRowOut(BaseModel):
    id: str
    queue: str
    name: str
    payload: Any
    created_at: dt.datetime
    relay_attempts: int
    last_error: str | None
    company_id: int | None


class OutboxPageOut(BaseModel):
    pending: int
    rows: list[OutboxRowOut]


class RelayOut(BaseModel):
    relayed: int
    pending: int


@admin_route(router, "GET", "", OutboxPageOut)
async def pending_jobs(
    scope: Scope,
    admin: Admin,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Jobs waiting in the outbox for Redis, longest-waiting first"""
    pending, rows = await admin.outbox.pending(session, scope, limit, offset)
    return {"pending": pending, "rows": rows}


@admin_route(router, "POST", "/relay", RelayOut)
async def relay_now(act: Act, _quota: BulkQuota) -> dict[str, int]:
    """Relay every pending job now instead of at the next sweep"""
    outbox, session = act.admin.outbox, act.session
    act.scope.require_all_companies("relaying the outbox")
    await record_audit(session, act.user, "queue.outbox_relay", "outbox", None, {}, act.request)
    # The relay works in sessions of its own: let go of this request's connection first (SQLite
    # has one per process), keeping the audit entry.
    await session.commit()
    relayed = await outbox.relay_now(act.scope)
    return {"relayed": relayed, "pending": await outbox.count(act.scope)}


@admin_route(router, "DELETE", "/{row_id}", RelayOut)
async def discard(
    act: Act, row_id: Annotated[str, Path(min_length=1, max_length=40)]
) -> dict[str, int]:
    """Give up on a pending job: delete it from the outbox"""
    outbox = act.admin.outbox
    row = await outbox.discard(act.session, act.scope, row_id)
    await act.audit("outbox_discard", row.queue, row_id, name=row.name, attempts=row.relay_attempts)
    return {"relayed": 0, "pending": await outbox.count(act.scope, act.session)}
