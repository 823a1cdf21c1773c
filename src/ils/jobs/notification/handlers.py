"""The notification handlers: system, order, AI insight, marketplace, and the company fan-out.

Each works out its notification(s) at run time, stores each once (keyed by the job id, or by
``<job id>:<user id>`` in a fan-out, so a retry stores nothing twice), then announces them with
the users' new unread counts on the live channel. A retry announces again; sockets drop what
they have already sent. The database (``db``) and the publisher (``notifier``) come from the
job's resources, built once per process by :class:`ils.bootstrap.JobSystem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.models import (
    ADMIN_ROLES,
    Company,
    MarketplaceConnection,
    Notification,
    NotificationType,
    Order,
    Priority,
    User,
)
from ils.domain.services import notifications as store
from ils.domain.services.notifications import NewNotification
from ils.jobs import payloads as p
from ils.jobs.notification.live import LiveEvent, NotificationPublisher
from ils.queue.context import JobContext
from ils.queue.errors import GiveUp
from ils.queue.registry import Handler


def _tools(ctx: JobContext) -> tuple[Database, NotificationPublisher]:
    db, notifier = ctx.resources.get("db"), ctx.resources.get("notifier")
    if not isinstance(db, Database) or not isinstance(notifier, NotificationPublisher):
        raise GiveUp("this process has no database or notification publisher")
    return db, notifier


async def _recipient(db: Database, user_id: int) -> User | None:
    """The user to notify; gives up when they are gone, None when they are inactive."""
    async with db.session() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise GiveUp(f"user {user_id} no longer exists")
    return user if user.is_active else None


async def deliver(
    db: Database, notifier: NotificationPublisher, ctx: JobContext, items: Sequence[NewNotification]
) -> list[Notification]:
    """Store ``items`` once, then announce their ids (the web process reads them back).

    When the announcement fails the job is retried (and stores nothing twice), except inline,
    where Redis is down by definition: the notification waits in the database for the user's
    next reconnect or reload.
    """
    rows = await store.store_once(db, items)
    events = [LiveEvent("notification", row.user_id, notification_id=row.id) for row in rows]
    try:
        await notifier.publish(events)
    except (RedisError, OSError) as exc:
        if not ctx.inline:
            raise
        ctx.logger.warning("stored %d notifications, could not announce them: %s", len(rows), exc)
    return rows


def _result(rows: Sequence[Notification], **extra: Any) -> dict[str, Any]:
    return {"notifications": [row.id for row in rows], **extra}


async def _one(
    ctx: JobContext,
    user_id: int,
    kind: NotificationType,
    title: str,
    message: str,
    priority: Priority,
    action_url: str | None,
) -> dict[str, Any]:
    db, notifier = _tools(ctx)
    user = await _recipient(db, user_id)
    if user is None:
        return _result([], skipped=f"user {user_id} is inactive")
    item = NewNotification(
        job_key=ctx.job_id,
        user_id=user.id,
        company_id=user.company_id,
        type=kind,
        title=title,
        message=message,
        priority=priority,
        action_url=action_url,
    )
    return _result(await deliver(db, notifier, ctx, [item]))


async def system(payload: p.SystemNotification, ctx: JobContext) -> Any:
    return await _one(
        ctx,
        payload.user_id,
        NotificationType.system,
        payload.title,
        payload.message,
        Priority(payload.priority),
        payload.action_url,
    )


async def order(payload: p.OrderNotification, ctx: JobContext) -> Any:
    db, _ = _tools(ctx)
    async with db.session() as session:
        found = await session.get(Order, payload.order_id)
    if found is None:
        raise GiveUp(f"order {payload.order_id} no longer exists")
    status = payload.status.replace("_", " ")
    return await _one(
        ctx,
        payload.user_id,
        NotificationType.order,
        f"Order {found.number}: {status}",
        payload.message or f"Order {found.number} is now {status}.",
        Priority.high,
        f"/orders/{found.id}",
    )


async def ai_insight(payload: p.AiInsightNotification, ctx: JobContext) -> Any:
    url = payload.action_url or (
        f"/ai/insights/{payload.insight_id}" if payload.insight_id else None
    )
    return await _one(
        ctx,
        payload.user_id,
        NotificationType.ai_insight,
        payload.title,
        payload.message,
        Priority(payload.priority),
        url,
    )


_MARKETPLACE_TEXT = {
    "requested": ("Connection request", "{requester} wants to connect with {target}."),
    "accepted": ("Connection accepted", "{target} accepted the connection request of {requester}."),
    "rejected": ("Connection declined", "{target} declined the connection request of {requester}."),
}


async def marketplace(payload: p.MarketplaceNotification, ctx: JobContext) -> Any:
    db, _ = _tools(ctx)
    async with db.session() as session:
        connection = await session.get(MarketplaceConnection, payload.connection_id)
        if connection is None:
            raise GiveUp(f"connection {payload.connection_id} no longer exists")
        requester = await session.get(Company, connection.requester_company_id)
        target = await session.get(Company, connection.target_company_id)
    names = {
        "requester": requester.name if requester else "A company",
        "target": target.name if target else "a company",
    }
    title, text = _MARKETPLACE_TEXT[payload.event]
    return await _one(
        ctx,
        payload.user_id,
        NotificationType.marketplace,
        title,
        text.format(**names),
        Priority.medium,
        f"/marketplace/connections/{connection.id}",
    )


async def fan_out(payload: p.FanOutNotification, ctx: JobContext) -> Any:
    """One notification per active user of the audience, as the company is when this runs."""
    db, notifier = _tools(ctx)
    async with db.session() as session:
        company = await session.get(Company, payload.company_id)
        if company is None:
            raise GiveUp(f"company {payload.company_id} no longer exists")
        roles = ADMIN_ROLES if payload.audience == "admins" else {payload.role}
        users = list(
            await session.scalars(
                select(User)
                .where(User.company_id == company.id, User.is_active, User.role.in_(roles))
                .order_by(User.id)
            )
        )
    items = [
        NewNotification(
            job_key=f"{ctx.job_id}:{user.id}",
            user_id=user.id,
            company_id=company.id,
            type=NotificationType(payload.kind),
            title=payload.title,
            message=payload.message,
            priority=Priority(payload.priority),
            action_url=payload.action_url,
        )
        for user in users
    ]
    rows = await deliver(db, notifier, ctx, items)
    return _result(rows, users=[user.id for user in users])


HANDLERS: dict[str, Handler] = {
    "system": system,
    "order": order,
    "ai-insight": ai_insight,
    "marketplace": marketplace,
    "fan-out": fan_out,
}
