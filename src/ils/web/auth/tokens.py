"""API tokens: minting one (shown once), and finding the live token behind a bearer header.

Only a token's SHA-256 and a short display prefix are stored; a revoked or expired token (see
:mod:`ils.web.auth.lifetimes`), or one whose user is inactive, authenticates nobody.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.accounts import ApiToken, User
from ils.domain.models.types import utcnow
from ils.web.auth.lifetimes import Lifetime, needs_touch

TOKEN_PREFIX = "ils_"
DISPLAY_LENGTH = 12


@dataclass(frozen=True)
class MintedToken:
    token: str
    token_hash: str
    prefix: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_token() -> MintedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return MintedToken(token=token, token_hash=hash_token(token), prefix=token[:DISPLAY_LENGTH])


async def create_token(
    session: AsyncSession, user: User, name: str, now: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Store a new token for ``user`` created at ``now`` (default: the current time); returns
    the row and the token (never stored)."""
    minted = mint_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=minted.token_hash,
        prefix=minted.prefix,
        created_at=now or utcnow(),
    )
    session.add(row)
    await session.flush()
    return row, minted.token


async def user_for_token(
    session: AsyncSession, token: str, lifetime: Lifetime, now: dt.datetime, touch: bool = True
) -> User | None:
    """The active user behind a live (unrevoked, unexpired) token, or None; notes its use unless
    ``touch`` is false."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    # One round trip for the token and its user: this runs on every API request.
    found = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        )
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if not user.is_active or lifetime.expired(row.created_at, row.last_used_at, now):
        return None
    if touch and needs_touch(row.last_used_at, now):
        row.last_used_at = now
    return user
