"""Notification routes: the signed-in user's own notifications, newest first, their unread count,
and marking them read. Another user's notification answers 404, like one that does not exist.

Marking read is announced on the live channel once the transaction has committed, so the user's
other tabs update their badge.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request, status
from pydantic import BaseModel
from redis.exceptions import RedisError

from ils.domain.enums import NotificationType, Priority
from ils.domain.services import MAX_ID, Id
from ils.domain.services import notifications as service
from ils.jobs.notification.channel import LiveEvent
from ils.web.auth import CurrentUser, DbSession, permit, web_context

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/notifications", tags=["notifications"], dependencies=[permit("notifications.own")]
)

NotificationId = Id


class NotificationOut(BaseModel):
    id: int
    type: NotificationType
    title: str
    message: str
    priority: Priority
    action_url: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    unread_count: int
    next_before_id: int | None


class UnreadOut(BaseModel):
    unread_count: int


class MarkedOut(BaseModel):
    marked: int
    unread_count: int


async def _announce(request: Request, event: LiveEvent) -> None:
    """Tell the user's sockets; the change is committed already, so a failure only logs."""
    try:
        await web_context(request).system.notifier.publish([event])
    except (RedisError, OSError) as exc:
        log.warning("could not announce notifications read: %s", exc)


@router.get("", summary="My notifications, newest first")
async def list_notifications(
    user: CurrentUser,
    session: DbSession,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the next page: older than this id")
    ] = None,
) -> NotificationPage:
    rows = await service.page(
        session, user.id, unread_only=unread, limit=limit + 1, before_id=before_id
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return NotificationPage(
        items=[NotificationOut.model_validate(r, from_attributes=True) for r in rows],
        unread_count=await service.unread_count(session, user.id),
        next_before_id=rows[-1].id if more else None,
    )


@router.get("/unread-count", summary="How many of my notifications are unread")
async def unread_count(user: CurrentUser, session: DbSession) -> UnreadOut:
    return UnreadOut(unread_count=await service.unread_count(session, user.id))


@router.post("/{notification_id}/read", summary="Mark one of my notifications read")
async def mark_read(
    notification_id: NotificationId,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    session: DbSession,
) -> NotificationOut:
    row = await service.owned(session, user.id, notification_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"notification {notification_id} not found")
    await service.mark_read(session, row)
    background.add_task(_announce, request, LiveEvent("read", user.id, ids=[row.id]))
    return NotificationOut.model_validate(row, from_attributes=True)


@router.post("/read-all", summary="Mark all my notifications read")
async def mark_all_read(
    request: Request, background: BackgroundTasks, user: CurrentUser, session: DbSession
) -> MarkedOut:
    marked = await service.mark_all_read(session, user.id)
    ids: Literal["all"] = "all"
    background.add_task(_announce, request, LiveEvent("read", user.id, ids=ids))
    return MarkedOut(marked=marked, unread_count=0)
