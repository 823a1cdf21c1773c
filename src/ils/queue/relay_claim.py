"""Claiming outbox rows for the relay: reading pending rows in a transaction that holds them
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so relays of other processes skip them), having them
published, and in that same transaction marking them relayed or counting a failed attempt.

A row is marked relayed only after BullMQ has its job (at-least-once); the job id is the row id,
so a row relayed twice is added once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ils.queue.outbox import Outbox
from ils.queue.outbox_row import OutboxRow, describe_error, utcnow
from ils.queue.relay_publish import Published, Publisher, RelayTiming

log = logging.getLogger("ils.queue.relay")

#: Called with the rows BullMQ has, before they are marked, in the claiming transaction.
AfterAdd = Callable[[Sequence[OutboxRow]], Awaitable[None]]


@dataclass(frozen=True)
class Batch:
    """One claimed batch: rows claimed, rows marked relayed, the last row's position (where the
    next batch starts), and the connection error that stopped it."""

    claimed: int
    relayed: int
    last: tuple[dt.datetime, str] | None
    broker_error: BaseException | None


@dataclass(frozen=True)
class Claimer:
    """Relays outbox rows in batches: claim, publish, mark. ``after_add`` runs between publish
    and mark; ``stopping`` (the relay's) cuts a long :meth:`relay_pending` short."""

    outbox: Outbox
    publisher: Publisher
    timing: RelayTiming
    after_add: AfterAdd
    stopping: asyncio.Event

    async def relay_pending(self) -> int:
        """Relay every pending row once (oldest first, in batches); how many this call marked
        relayed. Stops early while Redis is unreachable (the attempt is recorded on the rows)
        and when the relay stops; database errors and errors of ``after_add`` are raised."""
        total = 0
        after: tuple[dt.datetime, str] | None = None
        while True:
            batch = await self.relay_batch(after=after)
            total += batch.relayed
            if batch.broker_error is not None or batch.claimed < self.timing.batch_size:
                return total
            if self.stopping.is_set():
                return total  # the rest waits for the next sweep, here or elsewhere
            after = batch.last

    async def relay_batch(
        self, ids: Sequence[str] | None = None, after: tuple[dt.datetime, str] | None = None
    ) -> Batch:
        """Claim one batch of pending rows (of ``ids``, or after ``after``) and relay it."""
        now = utcnow()
        async with self.outbox.sessions() as session, session.begin():
            rows = await self.outbox.claim(session, self.timing.batch_size, ids=ids, after=after)
            if not rows:
                return Batch(0, 0, None, None)
            published = await self.publisher.publish(rows, now)
            relayed = await self._settle(session, published, now)
        self.publisher.report(published)
        log.debug("outbox relay: %d of %d claimed rows relayed", relayed, len(rows))
        last = (rows[-1].created_at, rows[-1].id)
        return Batch(len(rows), relayed, last, published.broker_error)

    async def relay_known(self, rows: Sequence[OutboxRow]) -> int:
        """Relay rows this process has just written and committed: no need to read them back,
        and the database is not held while BullMQ adds them; one short transaction marks them.
        A sweep elsewhere may add one of them too: the job id makes that one job."""
        now = utcnow()
        published = await self.publisher.publish(rows, now)
        async with self.outbox.sessions() as session, session.begin():
            relayed = await self._settle(session, published, now)
        self.publisher.report(published)
        return relayed

    async def _settle(self, session: AsyncSession, published: Published, now: dt.datetime) -> int:
        """Mark the added rows relayed and count a failed attempt on the others; how many this
        call marked."""
        relayed = 0
        if published.added:
            await self.after_add(published.added)
            ids = [row.id for row in published.added]
            relayed = await self.outbox.mark_relayed(session, ids, now)
        by_error: dict[str, list[str]] = {}
        for row, exc in published.failed:
            by_error.setdefault(describe_error(exc), []).append(row.id)
        for error, failed_ids in by_error.items():
            await self.outbox.record_failure(session, failed_ids, error)
        return relayed
