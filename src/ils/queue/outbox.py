"""The transactional outbox's storage: jobs written in a database transaction, waiting for BullMQ.

:class:`Outbox` is the only code that reads or writes the ``job_outbox`` table (the relay's probe,
:mod:`ils.queue.outbox_probe`, only asks whether there is anything to relay); the relay
(:mod:`ils.queue.relay`) decides when. A row's id is its BullMQ job id, so relaying twice adds once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, and_, delete, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ils.queue.outbox_row import ERROR_MAX, OutboxRow, aware
from ils.queue.outbox_table import outbox

#: Dialects whose insert skips an id already there and returns the ids it wrote.
UPSERT_DIALECTS = frozenset({"postgresql", "sqlite"})


def _row(raw: Row[Any]) -> OutboxRow:
    m = raw._mapping
    relayed_at = m["relayed_at"]
    return OutboxRow(
        id=m["id"],
        queue=m["queue"],
        name=m["name"],
        payload=dict(m["payload"]),
        options=dict(m["options"]),
        created_at=aware(m["created_at"]),
        relayed_at=aware(relayed_at) if relayed_at is not None else None,
        relay_attempts=int(m["relay_attempts"] or 0),
        last_error=m["last_error"],
        company_id=m["company_id"],
    )


def _of_company(company_id: int | None) -> list[Any]:
    """The condition for ``company_id``'s rows, or none (every company's) when None."""
    return [] if company_id is None else [outbox.c.company_id == company_id]


class Outbox:
    """The ``job_outbox`` table of one database.

    ``sessions`` makes the outbox's own transactions (spooled jobs, relaying, purging); a caller's
    transaction writes through :meth:`write`, and must be on the same database.
    """

    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession] | None = None
    ) -> None:
        self.engine = engine
        self.sessions = sessions or async_sessionmaker(engine, expire_on_commit=False)

    @property
    def locks_rows(self) -> bool:
        """Whether relays lock the rows they claim (PostgreSQL); elsewhere the job id keeps
        concurrent relays from adding a job twice."""
        return self.engine.dialect.name == "postgresql"

    def _insert(self) -> Insert:
        # A job id already in the outbox is one job, as BullMQ keeps one job per id: the second
        # write is dropped rather than breaking the caller's transaction, and the ids returned
        # are those written. One statement object, executed with many rows: compiled once, then
        # taken from SQLAlchemy's cache. The dialect's module is imported here, where the engine
        # has loaded it already: a process on SQLite never loads PostgreSQL's (about 0.1 s of
        # start-up).
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(outbox).on_conflict_do_nothing().returning(outbox.c.id)
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(outbox).on_conflict_do_nothing().returning(outbox.c.id)
        return outbox.insert()

    async def write(self, session: AsyncSession, row: OutboxRow) -> bool:
        """Write ``row`` in ``session``'s transaction; it exists only once that commits. False
        when a row of its id was there already (nothing written)."""
        return bool(await self.write_many(session, [row]))

    async def write_many(self, session: AsyncSession, rows: Sequence[OutboxRow]) -> set[str]:
        """Write ``rows`` in ``session``'s transaction, in one statement; the ids written (not
        those of rows whose id was there already)."""
        if not rows:
            return set()
        values = [
            {
                "id": row.id,
                "queue": row.queue,
                "name": row.name,
                "payload": row.payload,
                "options": row.options,
                "created_at": row.created_at,
                "relay_attempts": 0,
                "company_id": row.company_id,
            }
            for row in rows
        ]
        result = await session.execute(self._insert(), values)
        if self.engine.dialect.name in UPSERT_DIALECTS:  # the statement returns the ids written
            return set(result.scalars())
        return {row.id for row in rows}

    async def spool(self, row: OutboxRow) -> None:
        """Write ``row`` in a transaction of its own, committed before this returns."""
        await self.spool_many([row])

    async def spool_many(self, rows: Sequence[OutboxRow]) -> None:
        """Write ``rows`` in one statement, in a transaction of their own, committed before this
        returns."""
        async with self.sessions() as session, session.begin():
            await self.write_many(session, rows)

    async def claim(
        self,
        session: AsyncSession,
        limit: int,
        ids: Sequence[str] | None = None,
        after: tuple[dt.datetime, str] | None = None,
    ) -> list[OutboxRow]:
        """Up to ``limit`` pending rows, oldest first, locked for this transaction where the
        database can (``FOR UPDATE SKIP LOCKED``: rows another relay holds are left to it).

        ``ids`` narrows the claim to those rows; ``after`` (a row's ``(created_at, id)``) starts
        after that row, so one pass over the outbox tries each row once.
        """
        c = outbox.c
        stmt = select(outbox).where(c.relayed_at.is_(None))
        if ids is not None:
            stmt = stmt.where(c.id.in_(list(ids)))
        if after is not None:
            at, last_id = after
            stmt = stmt.where(or_(c.created_at > at, and_(c.created_at == at, c.id > last_id)))
        stmt = stmt.order_by(c.created_at, c.id).limit(limit)
        if self.locks_rows:
            stmt = stmt.with_for_update(skip_locked=True)
        return [_row(r) for r in (await session.execute(stmt)).all()]

    async def mark_relayed(
        self, session: AsyncSession, ids: Sequence[str], now: dt.datetime
    ) -> int:
        """Mark rows relayed; how many this call marked (a concurrent relay may have been first)."""
        stmt = (
            update(outbox)
            .where(outbox.c.id.in_(list(ids)), outbox.c.relayed_at.is_(None))
            .values(relayed_at=now, last_error=None)
        )
        result = await session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def record_failure(self, session: AsyncSession, ids: Sequence[str], error: str) -> None:
        """Count a failed relay attempt on each row and keep the reason."""
        stmt = (
            update(outbox)
            .where(outbox.c.id.in_(list(ids)), outbox.c.relayed_at.is_(None))
            .values(relay_attempts=outbox.c.relay_attempts + 1, last_error=error[:ERROR_MAX])
        )
        await session.execute(stmt)

    async def purge(self, relayed_before: dt.datetime) -> int:
        """Delete rows relayed before ``relayed_before``; how many. Pending rows are never
        deleted."""
        stmt = delete(outbox).where(
            outbox.c.relayed_at.is_not(None), outbox.c.relayed_at < relayed_before
        )
        async with self.sessions() as session, session.begin():
            result = await session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, row_id: str) -> OutboxRow | None:
        async with self.sessions() as session:
            raw = (await session.execute(select(outbox).where(outbox.c.id == row_id))).first()
        return _row(raw) if raw is not None else None

    async def pending_rows(
        self,
        session: AsyncSession,
        limit: int = 50,
        offset: int = 0,
        company_id: int | None = None,
    ) -> list[OutboxRow]:
        """Rows not yet in Redis, the longest-waiting first (the admin's view of the outbox), read
        in the caller's session (a request's, which holds SQLite's one connection); only
        ``company_id``'s when given."""
        stmt = (
            select(outbox)
            .where(outbox.c.relayed_at.is_(None), *_of_company(company_id))
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_row(raw) for raw in (await session.execute(stmt)).all()]

    async def pending_row(
        self, session: AsyncSession, row_id: str, company_id: int | None = None
    ) -> OutboxRow | None:
        stmt = select(outbox).where(
            outbox.c.id == row_id, outbox.c.relayed_at.is_(None), *_of_company(company_id)
        )
        raw = (await session.execute(stmt)).first()
        return _row(raw) if raw is not None else None

    async def discard(
        self, session: AsyncSession, row_id: str, company_id: int | None = None
    ) -> bool:
        """Delete a row that was never relayed, in the caller's transaction (an admin giving up
        on a job the relay cannot add); False when there is no such pending row (of
        ``company_id``, when given)."""
        stmt = delete(outbox).where(
            outbox.c.id == row_id, outbox.c.relayed_at.is_(None), *_of_company(company_id)
        )
        result = await session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count(
        self,
        pending: bool | None = None,
        session: AsyncSession | None = None,
        company_id: int | None = None,
    ) -> int:
        """Rows in the outbox: all, only pending (``True``) or only relayed (``False``), only
        ``company_id``'s when given; in ``session`` when given (a request's), else in a session of
        its own."""
        stmt = select(func.count()).select_from(outbox).where(*_of_company(company_id))
        if pending is not None:
            col = outbox.c.relayed_at
            stmt = stmt.where(col.is_(None) if pending else col.is_not(None))
        if session is not None:
            return int((await session.execute(stmt)).scalar_one())
        async with self.sessions() as own:
            return int((await own.execute(stmt)).scalar_one())
