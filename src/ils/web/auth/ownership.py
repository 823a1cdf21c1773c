"""Company scoping: a row is visible only inside its company (the platform admin sees all).

Another company's ids answer 404, exactly like ids that do not exist, so ids leak nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.base import Base
from ils.domain.enums import Role
from ils.domain.models.accounts import User

ModelT = TypeVar("ModelT", bound=Base)


def sees_all_companies(user: User) -> bool:
    return user.role == Role.platform_admin


async def get_owned(session: AsyncSession, model: type[ModelT], id: Any, user: User) -> ModelT:
    """The ``model`` row with primary key ``id`` when ``user`` may see it; else a 404.

    ``model`` must have a ``company_id`` column; a model without one is a programming error.
    """
    if "company_id" not in model.__table__.columns:
        raise TypeError(f"{model.__name__} has no company_id column: it is not company-owned")
    row = await session.get(model, id)
    if row is None or not (sees_all_companies(user) or row.company_id == user.company_id):  # type: ignore[attr-defined]
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{model.__name__} {id} not found")
    return row
