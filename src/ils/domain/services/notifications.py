"""A user's in-app notifications: storing them once per job, reading them newest first, the
unread count, marking them read, and the one JSON shape every reader (REST, WebSocket) sees.

A notification written by a job is keyed by that job's id (``<job id>`` or, for a fan-out,
``<job id>:<user id>``): storing it again (a retried or redelivered job) returns the row already
there instead of a second one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database
from ils.domain.enums import NotificationType, Priority
from ils.domain.models.notifications import Notification
from ils.domain.models.types import utcnow


@dataclass(frozen=True)
class NewNotification:
    """What a job asks to store for one user; ``job_key`` makes storing it idempotent."""

    job_key: str
    user_id: int
    company_id: int
    type: NotificationType
    title: str
    message: str
    priority: Priority
    action_url: str | None = None


def as_json(row: Notification) -> dict[str, Any]:
    """The notification as REST and WebSocket clients receive it."""
    return {
        "id": row.id,
        "type": row.type.value,
        "title": row.title,
        "message": row.message,
        "priority": row.priority.value,
        "action_url": row.action_url,
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


def _row(item: NewNotification) -> Notification:
    """The row storing ``item``: each field in the column of its name, ``job_key`` in ``job_id``."""
    values = {field.name: getattr(item, field.name) for field in fields(item)}
    values["job_id"] = values.pop("job_key")
    return Notification(**values)


async def _by_keys(session: AsyncSession, keys: Sequence[str]) -> dict[str, Notification]:
    rows = await session.scalars(select(Notification).where(Notification.job_id.in_(keys)))
    return {row.job_id: row for row in rows if row.job_id is not None}


async def store_once(db: Database, items: Sequence[NewNotification]) -> list[Notification]:
    """Store each item unless its ``job_key`` is stored already; the rows, in ``items`` order.

    Two deliveries of one job at the same moment both try to insert: the loser's unique-key
    violation rolls its transaction back, and it reads the winner's rows instead.
    """
    if not items:
        return []
    keys = [item.job_key for item in items]
    try:
        async with db.session() as session:
            found = await _by_keys(session, keys)
            fresh = [_row(item) for item in items if item.job_key not in found]
            session.add_all(fresh)
            await session.flush()
            found.update({row.job_id: row for row in fresh if row.job_id is not None})
    except IntegrityError:
        async with db.session() as session:
            found = await _by_keys(session, keys)
    return [found[key] for key in keys if key in found]


async def unread_counts(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, int]:
    """Each user's number of unread notifications (0 for a user with none)."""
    rows = await session.execute(
        select(Notification.user_id, func.count(Notification.id))
        .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
        .group_by(Notification.user_id)
    )
    counts = dict.fromkeys(user_ids, 0)
    counts.update({int(uid): int(n) for uid, n in rows.all()})
    return counts


async def unread_count(session: AsyncSession, user_id: int) -> int:
    return (await unread_counts(session, [user_id]))[user_id]


async def page(
    session: AsyncSession, user_id: int, *, unread_only: bool, limit: int, before_id: int | None
) -> list[Notification]:
    """The user's notifications newest first, ``limit`` of them, older than ``before_id``."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = await session.scalars(query.order_by(Notification.id.desc()).limit(limit))
    return list(rows)


async def since(
    session: AsyncSession, user_id: int, after_id: int, limit: int
) -> list[Notification]:
    """The newest ``limit`` of the user's notifications with an id above ``after_id``, oldest
    first (a reconnect's replay)."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id, Notification.id > after_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def latest_id(session: AsyncSession, user_id: int) -> int:
    """The id of the user's newest notification, 0 without any."""
    found = await session.scalar(
        select(func.max(Notification.id)).where(Notification.user_id == user_id)
    )
    return int(found or 0)


async def owned(session: AsyncSession, user_id: int, notification_id: int) -> Notification | None:
    """The notification when it is the user's own; None for others' ids and missing ones."""
    row = await session.get(Notification, notification_id)
    return row if row is not None and row.user_id == user_id else None


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Notification]:
    """The notifications with these ids, by id (missing ones are absent)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Notification).where(Notification.id.in_(ids)))
    return {row.id: row for row in rows}


async def read_owners(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """Of these ids, the notifications that are read: id -> their user's id (to check a live
    "read" event against)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Notification.id, Notification.user_id).where(
            Notification.id.in_(ids), Notification.read_at.is_not(None)
        )
    )
    return {int(ident): int(user) for ident, user in rows.all()}


async def mark_read(
    session: AsyncSession, row: Notification, when: dt.datetime | None = None
) -> None:
    """Mark one notification read (a notification read already keeps its first time)."""
    if row.read_at is None:
        row.read_at = when or utcnow()
        await session.flush()


async def mark_all_read(session: AsyncSession, user_id: int) -> int:
    """Mark every unread notification of the user read; how many were."""
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
