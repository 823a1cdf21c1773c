"""Writing the audit log from a request: who (user and company), what, on which thing, from where.

Entries are added to the request's transaction, so an action that rolls back leaves no entry.
``detail`` is stored as given: never put secrets, tokens or patient data in it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.accounts import User
from ils.domain.models.audit import AuditEntry


def client_ip(request: Request) -> str | None:
    """The client's address: the peer, or X-Forwarded-For from a trusted proxy (ils.web.proxies)."""
    return request.client.host if request.client else None


async def record_audit(
    session: AsyncSession,
    user: User | None,
    action: str,
    target_type: str | None,
    target_id: object | None,
    detail: dict[str, Any] | None,
    request: Request,
) -> AuditEntry:
    """Add an audit entry for ``action`` (e.g. ``"queue.job_retried"``) to the transaction."""
    entry = AuditEntry(
        user_id=user.id if user is not None else None,
        company_id=user.company_id if user is not None else None,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        detail=dict(detail or {}),
        ip=client_ip(request),
    )
    session.add(entry)
    await session.flush()
    return entry
