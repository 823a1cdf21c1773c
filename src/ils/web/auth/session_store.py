"""Browser sessions in the database: starting one at login (and pruning the user's dead ones),
finding the live one behind a cookie, revoking one (logout) or all of a user's sessions and API
tokens (password change).

A session is live while its row is unrevoked, younger than the absolute lifetime, seen within
the idle lifetime, and its user is active with the password the cookie was issued under.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.accounts import ApiToken, AuthSession, User
from ils.web.auth.lifetimes import Lifetime, needs_touch
from ils.web.auth.sessions import IssuedCookie, SessionData, SessionSigner

USER_AGENT_LENGTH = 200


@dataclass(frozen=True)
class Revoked:
    sessions: int
    tokens: int


async def start_session(
    db: AsyncSession,
    signer: SessionSigner,
    user: User,
    now: dt.datetime,
    ip: str | None,
    user_agent: str | None,
) -> tuple[AuthSession, IssuedCookie]:
    """Store a new session for ``user``; returns its row and the cookie to set."""
    issued = signer.issue(user)
    row = AuthSession(
        user_id=user.id,
        secret_hash=issued.secret_hash,
        created_at=now,
        last_seen_at=now,
        ip=ip,
        user_agent=user_agent[:USER_AGENT_LENGTH] if user_agent else None,
    )
    db.add(row)
    await db.flush()
    return row, issued


async def prune_sessions(
    db: AsyncSession, user_id: int, lifetime: Lifetime, now: dt.datetime
) -> None:
    """Delete a user's revoked and expired sessions, so rows do not pile up one per login.

    A deleted row authenticates nobody, exactly like a revoked one; logins and logouts stay in
    the audit log.
    """
    await db.execute(
        delete(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            or_(
                AuthSession.revoked_at.is_not(None),
                AuthSession.created_at <= now - lifetime.absolute,
                AuthSession.last_seen_at <= now - lifetime.idle,
            ),
        )
        .execution_options(synchronize_session=False)
    )


async def live_session(
    db: AsyncSession,
    signer: SessionSigner,
    data: SessionData,
    lifetime: Lifetime,
    now: dt.datetime,
    touch: bool = True,
) -> tuple[AuthSession, User] | None:
    """The live session a valid cookie names and its active user, or None; notes it was seen
    unless ``touch`` is false (a check that is not the user's activity)."""
    # One round trip for the session and its user: this runs on every cookie request.
    found = (
        await db.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.secret_hash == data.secret_hash, AuthSession.revoked_at.is_(None))
        )
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if not user.is_active or not signer.is_current(data, user):
        return None
    if lifetime.expired(row.created_at, row.last_seen_at, now):
        return None
    if touch and needs_touch(row.last_seen_at, now):
        row.last_seen_at = now
    return row, user


async def revoke_session(db: AsyncSession, data: SessionData, now: dt.datetime) -> int | None:
    """Revoke the session a cookie names; its user's id when it was live, else None."""
    row = (
        await db.execute(
            select(AuthSession).where(
                AuthSession.secret_hash == data.secret_hash, AuthSession.revoked_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    row.revoked_at = now
    return row.user_id


async def revoke_credentials(db: AsyncSession, user_id: int, now: dt.datetime) -> Revoked:
    """Revoke every unrevoked session and API token of a user (a password change)."""
    sessions = await db.scalars(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(AuthSession.id)
    )
    session_ids = sessions.all()
    tokens = await db.scalars(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiToken.id)
    )
    return Revoked(sessions=len(session_ids), tokens=len(tokens.all()))
