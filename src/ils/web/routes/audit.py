"""``GET /api/audit``: the audit log, newest first, for ``platform_admin`` only.

Filters by action prefix (``queue.`` for every queue action), user, company and time; paged.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from ils.domain.models.accounts import User
from ils.domain.models.audit import AuditEntry
from ils.domain.services import Id
from ils.web.auth.dependencies import DbSession
from ils.web.auth.policy import permit
from ils.web.routes.queue import DENIED

router = APIRouter(prefix="/api/audit", tags=["audit"])

PlatformAdmin = Annotated[User, permit("audit.read")]


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    user_id: int | None
    user_email: str | None
    company_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]
    ip: str | None


class AuditPageOut(BaseModel):
    page: int
    page_size: int
    total: int
    entries: list[AuditEntryOut]


@router.get("", response_model=AuditPageOut, responses=DENIED, summary="The audit log")
async def audit_log(
    _user: PlatformAdmin,
    session: DbSession,
    action: Annotated[str | None, Query(max_length=100, description="prefix, e.g. queue.")] = None,
    user_id: Id | None = None,
    company_id: Id | None = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601, inclusive")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    where = []
    if action:
        where.append(AuditEntry.action.startswith(action, autoescape=True))
    if user_id is not None:
        where.append(AuditEntry.user_id == user_id)
    if company_id is not None:
        where.append(AuditEntry.company_id == company_id)
    if since is not None:
        where.append(AuditEntry.at >= (since if since.tzinfo else since.replace(tzinfo=dt.UTC)))
    total = await session.scalar(select(func.count(AuditEntry.id)).where(*where))
    rows = await session.execute(
        select(AuditEntry, User.email)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(*where)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    entries = [
        {**{c: getattr(entry, c) for c in AuditEntryOut.model_fields if c != "user_email"},
         "user_email": email}
        for entry, email in rows
    ]  # fmt: skip
    return {"page": page, "page_size": page_size, "total": total or 0, "entries": entries}
