"""Reading the event log: the one place the API, the dashboard, the CLI and replay query it.

Every read takes the company whose events it may see (None: every company's, for platform
admins), so the tenant filter is applied here and nowhere else. Pages run newest first by id,
with the last id of a page as the cursor of the next (an index range, as fast at the millionth
event as at the first); time bounds become id bounds, since ids are ordered by time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.events import Event
from ils.events.envelope import id_floor

PAGE_MAX = 200


@dataclass(frozen=True)
class EventFilter:
    """Which events: each field given narrows the selection."""

    company_id: int | None = None  # the caller's company; None: every company's
    types: Sequence[str] = ()
    subject_type: str | None = None
    subject_id: str | None = None
    actor_user_id: int | None = None
    actor_job_id: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive

    def where(self, stmt: Select[Any]) -> Select[Any]:
        if self.company_id is not None:
            stmt = stmt.where(Event.company_id == self.company_id)
        if self.types:
            stmt = stmt.where(Event.type.in_(list(self.types)))
        if self.subject_type is not None:
            stmt = stmt.where(Event.subject_type == self.subject_type)
        if self.subject_id is not None:
            stmt = stmt.where(Event.subject_id == self.subject_id)
        if self.actor_user_id is not None:
            stmt = stmt.where(Event.actor_user_id == self.actor_user_id)
        if self.actor_job_id is not None:
            stmt = stmt.where(Event.actor_job_id == self.actor_job_id)
        if self.since is not None:
            stmt = stmt.where(Event.id >= id_floor(self.since))
        if self.until is not None:
            stmt = stmt.where(Event.id < id_floor(self.until))
        return stmt


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_cursor: str | None


async def page(
    session: AsyncSession, which: EventFilter, limit: int = 50, cursor: str | None = None
) -> EventPage:
    """One page of events, newest first, after ``cursor`` (the previous page's last id)."""
    limit = max(1, min(limit, PAGE_MAX))
    stmt = which.where(select(Event))
    if cursor:
        stmt = stmt.where(Event.id < cursor)
    rows = list((await session.scalars(stmt.order_by(Event.id.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(rows, rows[-1].id if more and rows else None)


async def history(session: AsyncSession, company_id: int | None, subject_type: str,
                  subject_id: str, limit: int = 500) -> list[Event]:  # fmt: skip
    """An entity's events, oldest first (its audit trail)."""
    which = EventFilter(company_id=company_id, subject_type=subject_type, subject_id=subject_id)
    stmt = which.where(select(Event)).order_by(Event.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def count(session: AsyncSession, which: EventFilter) -> int:
    return int(await session.scalar(which.where(select(func.count()).select_from(Event))) or 0)


async def in_order(
    session: AsyncSession, which: EventFilter, batch: int = 500
) -> AsyncIterator[Event]:
    """Every event of ``which``, oldest first, read a batch at a time (replay, archiving)."""
    after = ""
    while True:
        stmt = which.where(select(Event)).where(Event.id > after).order_by(Event.id).limit(batch)
        rows = list((await session.scalars(stmt)).all())
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1].id
