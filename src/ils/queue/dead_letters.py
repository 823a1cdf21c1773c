"""The dead letters' storage: jobs that failed for good (attempts used up, or given up at once:
an unknown job type, a payload that does not validate, a row gone), one row per queue and job id
in ``job_dead_letters``, kept until an admin replays or discards it.

:class:`DeadLetters` is the only code that reads or writes the table. The worker runtime records
through :meth:`DeadLetters.record` before BullMQ fails the job (:mod:`ils.queue.processing`).
Recording is idempotent by ``(queue, job id)``: a worker killed while recording leaves the job
active, BullMQ's stall recovery runs it again, and its second failure updates the row already
there (or writes the first, if the kill came before the commit). ``on_new``, the application's
hook (ILS: an in-app notification to the company's admins), runs for a new row only, inside the
transaction that writes it, so the outbox job it enqueues exists exactly when the row does.

When a job first failed is not something BullMQ keeps: each failed attempt that will be retried
notes its time in Redis (``<prefix>:ils:first-failure:<queue>:<job id>``, expiring after
:data:`FIRST_FAILURE_TTL_S`); the dead letter takes it from there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ils.queue import keys
from ils.queue.broker import Broker
from ils.queue.outbox_table import dead_letters as table
from ils.queue.processing import FailedJob, Failure

FIRST_FAILURE_TTL_S = 30 * 86_400
MAX_PAGE_SIZE = 200


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite keeps no time zone; every time written here is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def replay_job_id(dead_letter_id: int) -> str:
    """The job id a dead letter's replay gets: derived from the dead letter, so replaying it
    twice (or two admins at once) adds one job, and the job names where it came from."""
    return f"dlq-{dead_letter_id}"


@dataclass(frozen=True)
class DeadLetter(FailedJob):
    """One job that failed for good, recorded."""

    id: int
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    replayed_as: str | None = None
    replayed_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dead_letter(raw: Row[Any]) -> DeadLetter:
    m = dict(raw._mapping)
    for name in ("first_failed_at", "last_failed_at", "replayed_at"):
        m[name] = _aware(m[name])
    return DeadLetter(**m)


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a list shows: by queue, job name, company, and when they last failed
    (``since`` inclusive, ``until`` exclusive); ``replayed`` False for those not replayed yet."""

    queue: str | None = None
    name: str | None = None
    company_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    replayed: bool | None = None

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        c = table.c
        conditions = [
            c.queue == self.queue if self.queue is not None else None,
            c.name == self.name if self.name is not None else None,
            c.company_id == self.company_id if self.company_id is not None else None,
            c.last_failed_at >= self.since if self.since is not None else None,
            c.last_failed_at < self.until if self.until is not None else None,
        ]
        if self.replayed is not None:
            conditions.append(c.replayed_as.is_not(None) if self.replayed else
                              c.replayed_as.is_(None))  # fmt: skip
        return stmt.where(*(cond for cond in conditions if cond is not None))


#: The application's hook for a new dead letter, called in the transaction that writes it.
OnNew = Callable[[AsyncSession, DeadLetter], Awaitable[None]]


class DeadLetters:
    """The ``job_dead_letters`` table of one database, and the first-failure notes in Redis."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: Broker,
        on_new: OnNew | None = None,
    ) -> None:
        self.sessions = sessions
        self.broker = broker
        self.prefix = broker.settings.prefix
        self.on_new = on_new

    # -- recording (the worker runtime) ----------------------------------------------------

    async def note_failed_attempt(self, queue: str, job_id: str, at_ms: int) -> None:
        """Remember when ``job_id`` first failed (later failures keep the first time)."""
        key = keys.first_failure(self.prefix, queue, job_id)
        await self.broker.admin_client.set(key, at_ms, nx=True, ex=FIRST_FAILURE_TTL_S)

    async def _first_failure(self, failure: Failure) -> dt.datetime:
        if failure.attempts > 1:
            key = keys.first_failure(self.prefix, failure.queue, failure.job_id)
            noted = await self.broker.admin_client.get(key)
            if noted is not None:
                return _from_ms(int(noted))
        return _from_ms(failure.failed_at_ms)

    async def record(self, failure: Failure) -> tuple[DeadLetter, bool]:
        """Record ``failure``: its row, and whether it is new (a job recorded before keeps its
        row, updated with this failure)."""
        first = await self._first_failure(failure)
        last = _from_ms(failure.failed_at_ms)
        values = {
            "name": failure.name, "company_id": failure.company_id, "payload": failure.payload,
            "reason": failure.reason, "stack": failure.stack, "attempts": failure.attempts,
            "last_failed_at": last,
        }  # fmt: skip
        try:
            return await self._record(failure, values, first)
        except IntegrityError:
            # Another process wrote this job's row between our read and insert: update theirs.
            return await self._record(failure, values, first)

    async def _record(
        self, failure: Failure, values: dict[str, Any], first: dt.datetime
    ) -> tuple[DeadLetter, bool]:
        c = table.c
        async with self.sessions() as session, session.begin():
            where = (c.queue == failure.queue, c.job_id == failure.job_id)
            found = (await session.execute(select(c.id).where(*where))).first()
            if found is not None:
                await session.execute(update(table).where(c.id == found.id).values(**values))
                return await self._get(session, found.id), False
            new_id = await session.scalar(
                insert(table)
                .values(queue=failure.queue, job_id=failure.job_id, first_failed_at=first, **values)
                .returning(table.c.id)
            )
            dead = await self._get(session, int(new_id or 0))
            if self.on_new is not None:
                await self.on_new(session, dead)
            return dead, True

    # -- reads and changes (the admin layer) -----------------------------------------------

    async def _get(self, session: AsyncSession, dead_letter_id: int) -> DeadLetter:
        raw = (await session.execute(select(table).where(table.c.id == dead_letter_id))).one()
        return _dead_letter(raw)

    async def recorded(self, queue: str, job_ids: Sequence[str]) -> set[str]:
        """Which of ``queue``'s ``job_ids`` have a dead letter already."""
        c = table.c
        async with self.sessions() as session:
            found = await session.scalars(
                select(c.job_id).where(c.queue == queue, c.job_id.in_(list(job_ids)))
            )
            return set(found)

    async def get(
        self, session: AsyncSession, dead_letter_id: int, company_id: int | None = None
    ) -> DeadLetter | None:
        """One dead letter; None when missing, or another company's (``company_id`` given)."""
        stmt = select(table).where(table.c.id == dead_letter_id)
        if company_id is not None:
            stmt = stmt.where(table.c.company_id == company_id)
        raw = (await session.execute(stmt)).first()
        return _dead_letter(raw) if raw is not None else None

    async def page(
        self, session: AsyncSession, which: DeadLetterFilter, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[DeadLetter]]:
        """How many dead letters ``which`` selects, and ``limit`` of them from ``offset``, the
        latest failure first."""
        total = await session.scalar(which.apply(select(func.count()).select_from(table)))
        stmt = which.apply(select(table)).order_by(table.c.last_failed_at.desc(), table.c.id.desc())
        rows = (await session.execute(stmt.offset(offset).limit(limit))).all()
        return int(total or 0), [_dead_letter(r) for r in rows]

    async def claim_replay(self, session: AsyncSession, dead_letter_id: int, job_id: str) -> bool:
        """Mark the dead letter replayed as ``job_id`` in ``session``'s transaction, unless it
        was already: True for the caller that marked it (the one to enqueue the replay)."""
        c = table.c
        result = await session.execute(
            update(table)
            .where(c.id == dead_letter_id, c.replayed_as.is_(None))
            .values(replayed_as=job_id, replayed_at=dt.datetime.now(dt.UTC))
        )
        return bool(getattr(result, "rowcount", 0))

    async def discard(
        self, session: AsyncSession, dead_letter_id: int, company_id: int | None = None
    ) -> bool:
        """Delete one dead letter (``company_id``'s only, when given); whether it was there."""
        stmt = delete(table).where(table.c.id == dead_letter_id)
        if company_id is not None:
            stmt = stmt.where(table.c.company_id == company_id)
        result = await session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))
