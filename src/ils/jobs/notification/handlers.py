"""The notification job types (system, order, AI insight, marketplace, the company fan-out, and a
batch's summary): each one's payload, declaration and handler.

Each works out its notification(s) at run time, stores each once (keyed by the job id, or by
``<job id>:<user id>`` in a fan-out, so a retry stores nothing twice), then announces them with
the users' new unread counts on the live channel. A retry announces again; sockets drop what
they have already sent. They declare the database and the publisher (``ctx.resources.db``,
``ctx.resources.notifier``). A notification's ``priority`` sets its job's BullMQ priority
(:func:`queue_priority`) unless the caller chose one. The models, their queries and the store
are imported by the handlers when they run: a worker, and every process's registry, loads the
payloads and declarations without SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from redis.exceptions import RedisError

from ils.domain.enums import ADMIN_ROLES, NotificationType, Priority, Role
from ils.jobs.notification.channel import LiveEvent
from ils.jobs.payloads import Id, NotificationPriority, PersonalShortText, PersonalText, ShortText
from ils.jobs.resources import Ctx
from ils.jobs.rows import need
from ils.queue.declare import job
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.domain.models import Notification, User
    from ils.domain.services.notifications import NewNotification
    from ils.jobs.notification.channel import NotificationPublisher

USES = ("db", "notifier")
# The seed's mapping of a notification's priority to its job's BullMQ priority (1 is highest).
QUEUE_PRIORITY: dict[str, int] = {"urgent": 1, "high": 2, "medium": 3, "low": 4}
NotificationKind = Literal["system", "order", "ai-insight", "marketplace"]


class Notice(Payload):
    """What a notice to one user says."""

    user_id: Id
    title: PersonalShortText = Field(examples=["Your lenses are ready"])
    message: PersonalText = Field(examples=["Order ORD-1042 is ready for collection."])
    priority: NotificationPriority = "medium"


class SystemNotification(Notice):
    action_url: ShortText | None = None


class OrderNotification(Payload):
    user_id: Id
    order_id: Id
    status: ShortText = Field(examples=["shipped"])
    message: PersonalText | None = None


class AiInsightNotification(Notice):
    insight_id: Id | None = None
    action_url: ShortText | None = Field(None, description="where the notification leads")


class MarketplaceNotification(Payload):
    user_id: Id
    connection_id: Id
    event: Literal["requested", "accepted", "rejected"]


class BatchSummary(Payload):
    """A batch's callback (:func:`ils.queue.flows.send_batch`): how it went, told to the user
    who started it, or to every active platform admin when ``user_id`` is left out."""

    title: ShortText = Field(examples=["Nightly reorder batch: 120 of 120 done"])
    user_id: Id | None = None
    action_url: ShortText | None = None


class FanOutNotification(Payload):
    """One notification for every active user of a company who is an admin (``audience``
    ``admins``) or has ``role`` (``audience`` ``role``); the users are resolved when it runs."""

    company_id: Id
    audience: Literal["admins", "role"]
    role: Role | None = Field(None, validate_default=True)
    kind: NotificationKind = "system"
    title: PersonalShortText = Field(examples=["Stock count due"])
    message: PersonalText = Field(examples=["Please count the frame stock before Friday."])
    priority: NotificationPriority = "medium"
    action_url: ShortText | None = None

    @field_validator("role")
    @classmethod
    def _role_for_role_audience(cls, role: Role | None, info: ValidationInfo) -> Role | None:
        audience = info.data.get("audience")
        if audience == "role" and role is None:
            raise ValueError("needed when audience is 'role'")
        if audience == "admins" and role is not None:
            raise ValueError("only with audience 'role'")
        return role


def queue_priority(payload: SystemNotification | AiInsightNotification | FanOutNotification
                   ) -> EnqueueOptions:  # fmt: skip
    """The job priority the seed mapped from the notification's priority (urgent 1, high 2,
    medium 3, low 4); a caller's own priority wins."""
    return EnqueueOptions(priority=QUEUE_PRIORITY[payload.priority])


def _tools(ctx: Ctx) -> tuple[Database, NotificationPublisher]:
    return ctx.resources.db, ctx.resources.notifier


async def _recipient(db: Database, user_id: int) -> User | None:
    """The user to notify; gives up when they are gone, None when they are inactive."""
    from ils.domain.models import User

    async with db.session() as session:
        user = await need(session, User, user_id, "user")
    return user if user.is_active else None


async def deliver(
    db: Database, notifier: NotificationPublisher, ctx: Ctx, items: Sequence[NewNotification]
) -> list[Notification]:
    """Store ``items`` once, then announce their ids (the web process reads them back).

    When the announcement fails the job is retried (and stores nothing twice), except inline,
    where Redis is down by definition: the notification waits in the database for the user's
    next reconnect or reload.
    """
    from ils.domain.services.notifications import store_once

    rows = await store_once(db, items)
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


@dataclass(frozen=True)
class _Says:
    """What a notification says, whoever it goes to."""

    type: NotificationType
    title: str
    message: str
    priority: Priority
    action_url: str | None

    @classmethod
    def of(
        cls,
        kind: NotificationType,
        payload: SystemNotification | AiInsightNotification | FanOutNotification,
        action_url: str | None,
    ) -> _Says:
        """What a payload that carries its own title, message and priority says."""
        return cls(kind, payload.title, payload.message, Priority(payload.priority), action_url)

    def to(self, job_key: str, user_id: int, company_id: int) -> NewNotification:
        from ils.domain.services.notifications import NewNotification

        return NewNotification(job_key, user_id, company_id, **asdict(self))


async def _one(ctx: Ctx, user_id: int, says: _Says) -> dict[str, Any]:
    db, notifier = _tools(ctx)
    user = await _recipient(db, user_id)
    if user is None:
        return _result([], skipped=f"user {user_id} is inactive")
    item = says.to(ctx.job_id, user.id, user.company_id)
    return _result(await deliver(db, notifier, ctx, [item]))


@job(SystemNotification, queue="notification", name="system",
     description="system notice", priority=3, attempts=5, resources=USES,
     options_for=queue_priority)  # fmt: skip
async def system(payload: SystemNotification, ctx: Ctx) -> Any:
    says = _Says.of(NotificationType.system, payload, payload.action_url)
    return await _one(ctx, payload.user_id, says)


@job(OrderNotification, queue="notification", name="order",
     description="order status change", priority=2, attempts=5, resources=USES)  # fmt: skip
async def order(payload: OrderNotification, ctx: Ctx) -> Any:
    from ils.domain.models import Order

    db, _ = _tools(ctx)
    async with db.session() as session:
        found = await need(session, Order, payload.order_id, "order")
    status = payload.status.replace("_", " ")
    title = f"Order {found.number}: {status}"
    text = payload.message or f"Order {found.number} is now {status}."
    says = _Says(NotificationType.order, title, text, Priority.high, f"/orders/{found.id}")
    return await _one(ctx, payload.user_id, says)


@job(AiInsightNotification, queue="notification", name="ai-insight",
     description="AI insight", priority=4, attempts=3, resources=USES,
     options_for=queue_priority)  # fmt: skip
async def ai_insight(payload: AiInsightNotification, ctx: Ctx) -> Any:
    url = payload.action_url or (
        f"/ai/insights/{payload.insight_id}" if payload.insight_id else None
    )
    return await _one(ctx, payload.user_id, _Says.of(NotificationType.ai_insight, payload, url))


_MARKETPLACE_TEXT = {
    "requested": ("Connection request", "{requester} wants to connect with {target}."),
    "accepted": ("Connection accepted", "{target} accepted the connection request of {requester}."),
    "rejected": ("Connection declined", "{target} declined the connection request of {requester}."),
}


@job(MarketplaceNotification, queue="notification", name="marketplace",
     description="marketplace connection event", priority=3, attempts=3,
     resources=USES)  # fmt: skip
async def marketplace(payload: MarketplaceNotification, ctx: Ctx) -> Any:
    from ils.domain.models import Company, MarketplaceConnection

    db, _ = _tools(ctx)
    async with db.session() as session:
        connection = await need(session, MarketplaceConnection, payload.connection_id, "connection")
        requester = await session.get(Company, connection.requester_company_id)
        target = await session.get(Company, connection.target_company_id)
    names = {
        "requester": requester.name if requester else "A company",
        "target": target.name if target else "a company",
    }
    title, text = _MARKETPLACE_TEXT[payload.event]
    url = f"/marketplace/connections/{connection.id}"
    says = _Says(NotificationType.marketplace, title, text.format(**names), Priority.medium, url)
    return await _one(ctx, payload.user_id, says)


@job(FanOutNotification, queue="notification", name="fan-out",
     description="one notice to a company's admins, or to its users of one role",
     priority=3, attempts=5, resources=USES, options_for=queue_priority)  # fmt: skip
async def fan_out(payload: FanOutNotification, ctx: Ctx) -> Any:
    """One notification per active user of the audience, as the company is when this runs."""
    from sqlalchemy import select

    from ils.domain.models import Company, User

    db, notifier = _tools(ctx)
    async with db.session() as session:
        company = await need(session, Company, payload.company_id, "company")
        roles = ADMIN_ROLES if payload.audience == "admins" else {payload.role}
        users = list(
            await session.scalars(
                select(User)
                .where(User.company_id == company.id, User.is_active, User.role.in_(roles))
                .order_by(User.id)
            )
        )
    says = _Says.of(NotificationType(payload.kind), payload, payload.action_url)
    items = [says.to(f"{ctx.job_id}:{user.id}", user.id, company.id) for user in users]
    ctx.check_cancelled("before notifying")
    rows = await deliver(db, notifier, ctx, items)
    return _result(rows, users=[user.id for user in users])


@job(BatchSummary, queue="notification", name="batch-summary",
     description="a batch's outcome, to whoever started it or to the platform admins",
     priority=3, attempts=5, resources=USES)  # fmt: skip
async def batch_summary(payload: BatchSummary, ctx: Ctx) -> Any:
    """One notification per recipient, saying how many of the batch's jobs completed and how
    many failed (read from the batch's children when it runs as a batch's callback)."""
    from sqlalchemy import select

    from ils.domain.models import User

    db, notifier = _tools(ctx)
    counts = await ctx.flow.counts() if ctx.flow is not None else None
    failed = counts["failed"] if counts else 0
    if counts is None:
        message = "The batch has ended."
    else:
        done = counts["completed"]
        message = f"{done} of {done + failed} done" + (f", {failed} failed." if failed else ".")
    async with db.session() as session:
        if payload.user_id is not None:
            found = await session.get(User, payload.user_id)
            users = [found] if found is not None and found.is_active else []
        else:
            users = list(
                await session.scalars(
                    select(User)
                    .where(User.role == Role.platform_admin, User.is_active)
                    .order_by(User.id)
                )
            )
    priority = Priority.high if failed else Priority.medium
    says = _Says(NotificationType.system, payload.title, message, priority, payload.action_url)
    items = [says.to(f"{ctx.job_id}:{user.id}", user.id, user.company_id) for user in users]
    rows = await deliver(db, notifier, ctx, items)
    return _result(rows, counts=counts)
