"""Pub/sub over the event log: subscribers, and the dispatcher that hands each one the events it
subscribed to, in id order, from its own cursor (``event_cursors``).

Each subscriber is drained on its own: one that fails stops at the event that failed (its cursor
stays before it, the error kept) and one that is slow times out, while the others go on. A
subscriber's cursor moves after each event it handled, so a restart resumes after the last one
(exactly once by event id, unless a process dies between handling an event and saving the cursor).
A :class:`TransactionalSubscriber`, whose work is database writes (outbox rows), does it in the
transaction that moves its cursor, a batch of events at a time: exactly once with no such gap, and
one commit per batch instead of two per event. A :class:`BatchSubscriber` takes the events of a
batch in one call, its cursor moved once after it (a live channel's announcements: one Redis round
trip and one cursor write for a batch, not one each); a batch that fails is handed over again one
event at a time, to stop at the one that fails, so such a subscriber may see an event twice. A
lease on the cursor row keeps two dispatchers from delivering to one subscriber at once; a pass
that lost its lease commits nothing.

Ids are ULIDs made when an event is recorded, and transactions commit in their own order: the
dispatcher reads only events older than ``settle_s``, so a transaction that recorded an event
just before another's has time to commit before the cursor moves past it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ils.domain.models.events import Event, EventCursor
from ils.domain.models.types import utcnow
from ils.errors import ConfigurationError
from ils.events.early import NOTHING_EARLY, EarlyMemo, hand_early
from ils.events.envelope import EventEnvelope, id_floor
from ils.events.kinds import (
    BatchSubscriber,
    Subscriber,
    TransactionalSubscriber,
    check_subscriber,
)

__all__ = [
    "BatchSubscriber", "Dispatcher", "LeaseLost", "Outcome", "Subscriber",
    "TransactionalSubscriber", "check_subscriber",
]  # fmt: skip

log = logging.getLogger(__name__)
ERROR_MAX = 1_000
#: Where a new subscriber that starts at the end of the log starts: this long before its first
#: pass, so the events that caused that pass reach it.
RECENT = dt.timedelta(minutes=5)


class LeaseLost(Exception):
    """The cursor's lease passed to another dispatcher: the pass commits nothing more."""


@dataclass
class Outcome:
    """What one pass did for one subscriber."""

    delivered: int = 0
    error: str | None = None
    busy: bool = False
    early: int = 0


@dataclass
class Dispatcher:
    """The registered subscribers and the sessions their cursors and the log are read through."""

    sessions: async_sessionmaker[AsyncSession]
    settle_s: float = 1.0
    batch: int = 200
    lease_s: float = 120.0
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: What this process handed early, by subscriber (shared by the dispatchers of a database).
    early: dict[str, EarlyMemo] = field(default_factory=dict)

    def register(self, *subscribers: Subscriber) -> None:
        for subscriber in subscribers:
            check_subscriber(subscriber)
            if subscriber.name in self.subscribers:
                raise ConfigurationError(f"subscriber {subscriber.name!r} is registered twice")
            self.subscribers[subscriber.name] = subscriber

    def subscriber(self, name: str) -> Subscriber:
        found = self.subscribers.get(name)
        if found is None:
            near = difflib.get_close_matches(name, list(self.subscribers), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigurationError(f"no subscriber {name!r}{hint}")
        return found

    def horizon(self, now: dt.datetime) -> str:
        """The first id the dispatcher leaves for a later pass (events newer than settle_s)."""
        return id_floor(now - dt.timedelta(seconds=self.settle_s))

    async def run_once(self, now: dt.datetime | None = None) -> dict[str, Outcome]:
        """Drain every subscriber up to the horizon, each on its own (concurrently)."""
        at = now or utcnow()
        names = list(self.subscribers)
        outcomes = await asyncio.gather(*(self.drain(name, at) for name in names))
        return dict(zip(names, outcomes, strict=True))

    async def newest_unsettled(self, now: dt.datetime | None = None) -> str | None:
        """The id of the newest event past the horizon of a pass made at ``now`` (a later pass
        must run), or None."""
        floor = self.horizon(now or utcnow())
        stmt = select(Event.id).where(Event.id >= floor).order_by(Event.id.desc()).limit(1)
        async with self.sessions() as session:
            newest: str | None = await session.scalar(stmt)
        return newest

    async def needs_follow_up(self, at: dt.datetime, outcomes: dict[str, Outcome]) -> bool:
        """Whether the pass made at ``at`` must be followed by another: it left events past its
        horizon (recorded while it ran, or too recent to read), or a subscriber was held by
        another pass, whose holder may have read up to an older horizon or died holding it (its
        lease then runs out and a later pass takes over). Without a follow-up those events would
        wait for the next event to be recorded."""
        if any(o.busy for o in outcomes.values()):
            return True
        return await self.newest_unsettled(at) is not None

    async def drain(self, name: str, now: dt.datetime) -> Outcome:
        subscriber = self.subscribers[name]
        position = await self._lease(subscriber, now)
        if position is None:
            return Outcome(busy=True)
        outcome = Outcome()
        try:
            horizon = self.horizon(now)
            while True:
                events = await self.read_events(subscriber, position, horizon)
                if isinstance(subscriber, TransactionalSubscriber):
                    position = await self._drain_in(subscriber, position, events, outcome)
                elif isinstance(subscriber, BatchSubscriber) and len(events) > 1:
                    position = await self._drain_batch(subscriber, position, events, outcome)
                else:
                    position = await self._drain_each(
                        subscriber, position, events, outcome,
                        lambda envelope: self._deliver_and_save(subscriber, envelope),
                    )  # fmt: skip
                if outcome.error is not None or len(events) < self.batch:
                    break
            writer = subscriber if isinstance(subscriber, TransactionalSubscriber) else None
            if outcome.error is None and writer is not None and writer.early:
                outcome.early = await hand_early(self, writer, position, now)
            return outcome
        except LeaseLost:
            log.warning("subscriber %s: lease lost mid-pass, another dispatcher goes on", name)
            outcome.busy = True
            return outcome
        finally:
            await self._release(name)

    async def _drain_each(
        self,
        subscriber: Subscriber,
        position: str,
        events: list[EventEnvelope],
        outcome: Outcome,
        handle: Callable[[EventEnvelope], Awaitable[str | None]],
    ) -> str:
        """Hand ``events`` over one at a time with ``handle`` (None, or the error that stops
        them, kept on the cursor); the new position."""
        for envelope in events:
            error = await handle(envelope)
            if error is not None:
                outcome.error = error
                await self._save(subscriber.name, position, 0, error)
                return position
            position = envelope.id
            outcome.delivered += 1
        return position

    async def _drain_batch(
        self,
        subscriber: BatchSubscriber,
        position: str,
        events: list[EventEnvelope],
        outcome: Outcome,
    ) -> str:
        """Hand ``events`` over in one call, then move the cursor past them; when that fails,
        one event at a time, to stop at the one that fails. The new position."""
        error = await self._deliver(subscriber, events[0], subscriber.handle_batch(events))
        if error is None:
            await self._save(subscriber.name, events[-1].id, len(events), None)
            outcome.delivered += len(events)
            return events[-1].id
        return await self._drain_each(
            subscriber, position, events, outcome,
            lambda envelope: self._deliver_and_save(subscriber, envelope),
        )  # fmt: skip

    async def _deliver_and_save(
        self, subscriber: Subscriber, envelope: EventEnvelope
    ) -> str | None:
        """Hand one event to a subscriber that acts outside the database, then move its cursor."""
        error = await self._deliver(subscriber, envelope, subscriber.handle(envelope))
        if error is None:
            await self._save(subscriber.name, envelope.id, 1, None)
        return error

    async def _drain_in(
        self,
        subscriber: TransactionalSubscriber,
        position: str,
        events: list[EventEnvelope],
        outcome: Outcome,
    ) -> str:
        """Hand ``events`` over in one transaction with the cursor's move; when that fails, one
        event a transaction, to stop at the one that fails. The new position."""
        if not events:
            return position
        if await self.commit_in(subscriber, events) is None:
            outcome.delivered += len(events)
            if (memo := self.early.get(subscriber.name)) is not None:
                memo.passed(events[-1].id)
            return events[-1].id

        async def alone(envelope: EventEnvelope) -> str | None:
            return await self.commit_in(subscriber, [envelope])

        return await self._drain_each(subscriber, position, events, outcome, alone)

    async def commit_in(
        self, subscriber: TransactionalSubscriber, events: list[EventEnvelope], move: bool = True
    ) -> str | None:
        """Run the subscriber on ``events`` (but those this process handed it early) and move
        its cursor past the last (unless not ``move``: an early hand-over), in one transaction;
        None when it committed, else the error (nothing committed)."""
        envelope = events[0]
        handed = self.early.get(subscriber.name, NOTHING_EARLY).done if move else set()
        try:
            async with self.sessions() as session, session.begin():
                async with subscriber.batch_in(session):
                    for envelope in events:
                        if envelope.id in handed:
                            continue
                        # A timeout scope, not wait_for: no task per event, and an event
                        # whose work does not wait (outbox rows gathered for the batch) costs
                        # no turn of the event loop, which a busy worker makes long.
                        async with asyncio.timeout(subscriber.timeout_s):
                            await subscriber.handle_in(session, envelope)
                last = events[-1].id
                if move and not await self._move(session, subscriber.name, last, len(events)):
                    raise LeaseLost
        except LeaseLost:
            raise
        except Exception as exc:  # a subscriber's failure is its own: nothing of it committed
            return self._failure(subscriber, envelope, exc)
        return None

    async def _deliver(
        self, subscriber: Subscriber, envelope: EventEnvelope, work: Awaitable[None]
    ) -> str | None:
        """Await ``work`` (the subscriber's handling of ``envelope`` and maybe the events after
        it) within its timeout; None, or the error kept on its cursor."""
        try:
            await asyncio.wait_for(work, subscriber.timeout_s)
        except Exception as exc:  # a subscriber's failure is its own: keep it, go on elsewhere
            return self._failure(subscriber, envelope, exc)
        return None

    @staticmethod
    def _failure(subscriber: Subscriber, envelope: EventEnvelope, exc: Exception) -> str:
        """Log a subscriber's failure on ``envelope``; the error kept on its cursor."""
        if isinstance(exc, TimeoutError):
            log.warning("subscriber %s timed out on event %s", subscriber.name, envelope.id)
            return f"timed out after {subscriber.timeout_s}s on event {envelope.id}"
        log.warning("subscriber %s failed on event %s: %s", subscriber.name, envelope.id, exc)
        return f"{type(exc).__name__}: {exc} (event {envelope.id})"[:ERROR_MAX]

    async def read_events(
        self, subscriber: Subscriber, after: str, before: str
    ) -> list[EventEnvelope]:
        """Up to ``batch`` events of ``subscriber``'s types after ``after``, before ``before``."""
        stmt = select(Event).where(Event.id > after, Event.id < before)
        if subscriber.event_types:
            stmt = stmt.where(Event.type.in_(sorted(subscriber.event_types)))
        async with self.sessions() as session:
            rows = (await session.scalars(stmt.order_by(Event.id).limit(self.batch))).all()
        return [row.envelope() for row in rows]

    async def _lease(self, subscriber: Subscriber, now: dt.datetime) -> str | None:
        """Take the subscriber's cursor for this pass (made on first use); its position, or None
        when another dispatcher holds it."""
        until = now + dt.timedelta(seconds=self.lease_s)
        async with self.sessions() as session, session.begin():
            if await session.get(EventCursor, subscriber.name) is None:
                start = id_floor(now - RECENT) if subscriber.start == "end" else ""
                session.add(EventCursor(subscriber=subscriber.name, position=start))
        async with self.sessions() as session, session.begin():
            c = EventCursor
            taken = await session.execute(
                update(c)
                .where(c.subscriber == subscriber.name)
                .where(or_(c.leased_until.is_(None), c.leased_until < now))
                .values(lease_owner=self.owner, leased_until=until)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                return None
            return await session.scalar(select(c.position).where(c.subscriber == subscriber.name))

    async def _save(self, name: str, position: str, delivered: int, error: str | None) -> None:
        async with self.sessions() as session, session.begin():
            await self._write(session, name, position, delivered, error)

    async def _move(self, session: AsyncSession, name: str, position: str, delivered: int) -> bool:
        """Move the cursor to ``position`` in ``session``'s transaction, if this dispatcher still
        holds its lease (False when it does not)."""
        return await self._write(session, name, position, delivered, None)

    async def _write(
        self, session: AsyncSession, name: str, position: str, delivered: int, error: str | None
    ) -> bool:
        """The cursor's new position, count and error, where this dispatcher holds its lease;
        whether it did."""
        c = EventCursor
        values: dict[str, object] = {"position": position, "updated_at": utcnow()}
        if error is None:
            values |= {"delivered": c.delivered + delivered, "last_error": None, "failures": 0}
        else:
            values |= {"last_error": error, "failures": c.failures + 1}
        written = await session.execute(
            update(c).where(c.subscriber == name, c.lease_owner == self.owner).values(values)
        )
        return bool(written.rowcount)  # type: ignore[attr-defined]

    async def _release(self, name: str) -> None:
        c = EventCursor
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(c)
                .where(c.subscriber == name, c.lease_owner == self.owner)
                .values(lease_owner=None, leased_until=None)
            )

    async def cursors(self) -> Sequence[EventCursor]:
        async with self.sessions() as session:
            return (
                await session.scalars(select(EventCursor).order_by(EventCursor.subscriber))
            ).all()
