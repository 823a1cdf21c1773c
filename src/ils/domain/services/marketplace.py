"""Marketplace connections between companies: request one (the target's admins get an email and
a notification), accept or reject it (the requester is notified), list a company's connections."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.enums import CompanyKind, ConnectionStatus, Role
from ils.domain.models.accounts import Company, User
from ils.domain.models.marketplace import MarketplaceConnection
from ils.domain.models.types import utcnow
from ils.domain.services import added, for_user, newest_first
from ils.errors import Conflict, Invalid
from ils.events import emit
from ils.jobs import helpers
from ils.queue.producer import Enqueued

# Who answers a company's connection requests.
RESPONDER_ROLES = (Role.company_admin, Role.admin)


@dataclass(frozen=True)
class ConnectionResult:
    connection: MarketplaceConnection
    jobs: list[Enqueued]


async def company_admins(session: AsyncSession, company_id: int) -> list[User]:
    rows = await session.execute(
        select(User)
        .where(User.company_id == company_id, User.role.in_(RESPONDER_ROLES), User.is_active)
        .order_by(User.id)
    )
    return list(rows.scalars())


async def request_connection(
    session: AsyncSession, user: User, target_company_id: int, message: str | None
) -> ConnectionResult:
    if target_company_id == user.company_id:
        raise Invalid("target_company_id", "a company cannot connect to itself")
    target = await session.get(Company, target_company_id)
    if target is None or target.kind is CompanyKind.platform:
        raise Invalid("target_company_id", "no such company on the marketplace")
    existing = await session.execute(
        select(MarketplaceConnection).where(
            or_(
                (MarketplaceConnection.requester_company_id == user.company_id)
                & (MarketplaceConnection.target_company_id == target_company_id),
                (MarketplaceConnection.requester_company_id == target_company_id)
                & (MarketplaceConnection.target_company_id == user.company_id),
            )
        )
    )
    if existing.scalars().first() is not None:
        raise Conflict("these companies already have a connection or a pending request")
    connection = MarketplaceConnection(
        requester_company_id=user.company_id,
        target_company_id=target_company_id,
        message=message,
        requested_by_user_id=user.id,
        status=ConnectionStatus.requested,
    )
    await added(session, connection)
    await emit.connection_event(session, connection, "requested")
    jobs = [
        await helpers.queue_marketplace_connection_email.using(
            company_id=target_company_id, session=session
        )(connection_id=connection.id, target_company_id=target_company_id)
    ]
    admins = await company_admins(session, target_company_id)
    notify = helpers.queue_marketplace_notification.using(
        company_id=target_company_id, session=session
    )
    # One outbox statement for every admin's notification.
    jobs += await notify.many(
        {"user_id": admin.id, "connection_id": connection.id, "event": "requested"}
        for admin in admins
    )
    return ConnectionResult(connection, jobs)


async def respond(
    session: AsyncSession, user: User, connection: MarketplaceConnection, accept: bool
) -> ConnectionResult:
    """The target company's answer; the user who asked is told."""
    if connection.target_company_id != user.company_id:
        raise Conflict("only the company that was asked can answer this request")
    if connection.status is not ConnectionStatus.requested:
        raise Conflict(f"this request was already {connection.status.value}")
    connection.status = ConnectionStatus.accepted if accept else ConnectionStatus.rejected
    connection.responded_by_user_id = user.id
    connection.responded_at = utcnow()
    notify = helpers.queue_marketplace_notification.using(
        company_id=connection.requester_company_id, session=session
    )
    event = "accepted" if accept else "rejected"
    await session.flush()
    await emit.connection_event(session, connection, event)
    jobs = await for_user(
        connection.requested_by_user_id, notify, connection_id=connection.id, event=event
    )
    return ConnectionResult(connection, jobs)


async def connections_of(session: AsyncSession, company_id: int) -> list[MarketplaceConnection]:
    rows = await session.execute(
        select(MarketplaceConnection)
        .where(
            or_(
                MarketplaceConnection.requester_company_id == company_id,
                MarketplaceConnection.target_company_id == company_id,
            )
        )
        .order_by(*newest_first(MarketplaceConnection))
    )
    return list(rows.scalars())


async def visible_connection(
    session: AsyncSession, company_id: int | None, connection_id: int
) -> MarketplaceConnection | None:
    """The connection if ``company_id`` is one of its two sides (None: any company's)."""
    connection = await session.get(MarketplaceConnection, connection_id)
    if connection is None:
        return None
    if company_id is not None and company_id not in (
        connection.requester_company_id,
        connection.target_company_id,
    ):
        return None
    return connection


async def directory(session: AsyncSession, exclude_company_id: int) -> list[Company]:
    rows = await session.execute(
        select(Company)
        .where(Company.id != exclude_company_id, Company.kind != CompanyKind.platform)
        .order_by(Company.name)
    )
    return list(rows.scalars())
