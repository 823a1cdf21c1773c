"""Loading the rows a job needs when it runs: a row gone since the job was queued makes the job
give up (retrying cannot bring it back), with a reason naming what is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn, TypeVar

from ils.errors import GiveUp

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.base import Base

M = TypeVar("M", bound="Base")


async def need(session: AsyncSession, model: type[M], ident: int, what: str) -> M:
    """The ``model`` row ``ident``; :class:`GiveUp` ("<what> <ident> no longer exists") when it
    is gone."""
    found = await session.get(model, ident)
    if found is None:
        raise GiveUp(f"{what} {ident} no longer exists")
    return found


async def gone(
    session: AsyncSession,
    model: type[M],
    ident: int,
    what: str,
    *parents: tuple[type[Base], str, str],
) -> NoReturn:
    """Give up on a row that a joined query did not find, naming what is missing: the ``model``
    row ``ident`` itself, else the first of its ``parents`` gone (each ``(model, the row's column
    holding its id, what)``), else the row all the same."""
    row = await need(session, model, ident, what)
    for parent, column, name in parents:
        await need(session, parent, getattr(row, column), name)
    raise GiveUp(f"{what} {ident} no longer exists")
