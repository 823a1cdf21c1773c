"""Users of a company: adding one (its password hashed) and changing a user's role, each recording
its event (``user.created``, ``user.role_changed``) in the caller's transaction."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.enums import CompanyKind, Role
from ils.domain.models import Company, User
from ils.domain.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from ils.domain.services import Email, Text200
from ils.errors import Conflict, Invalid
from ils.events import emit


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Text200
    role: Role
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


def _check_role(company: Company | None, role: Role) -> None:
    platform = company is not None and company.kind is CompanyKind.platform
    if role is Role.platform_admin and not platform:
        raise Invalid("role", "only the platform's company has platform admins")


async def create_user(session: AsyncSession, company: Company, data: UserCreate) -> User:
    """Add a user to ``company``. An email already in use (any company, any case) is a conflict;
    only the platform's own company may hold a platform admin."""
    _check_role(company, data.role)
    email = str(data.email)
    taken = await session.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
    if taken is not None:
        raise Conflict(f"a user with the email {email} exists already")
    password_hash = await asyncio.to_thread(hash_password, data.password)
    user = User(
        company_id=company.id, email=email, name=data.name, role=data.role,
        password_hash=password_hash,
    )  # fmt: skip
    session.add(user)
    await session.flush()
    await emit.user_created(session, user)
    return user


async def change_role(session: AsyncSession, user: User, role: Role) -> User:
    """Give ``user`` the role ``role``; ``user.role_changed`` is recorded when it moved."""
    _check_role(await session.get(Company, user.company_id), role)
    before = user.role.value
    if role is user.role:
        return user
    user.role = role
    await session.flush()
    await emit.user_role_changed(session, user, before)
    return user
