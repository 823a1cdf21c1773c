"""The relay's transactional side: outbox rows written in the caller's transaction (one statement
per batch of enqueues), and handed to the relay once that transaction commits; a rollback, or a
savepoint rolled back, takes its rows with it and nothing is relayed for them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ils.queue.outbox import Outbox
from ils.queue.outbox_row import OutboxRow

#: Takes the committed rows: row id -> the row, or None where it must be read back.
OnCommit = Callable[[dict[str, OutboxRow | None]], None]


class OutboxWriter:
    """Writes rows in callers' sessions and calls ``on_commit`` with them after each commit."""

    def __init__(self, outbox: Outbox, on_commit: OnCommit) -> None:
        self.outbox = outbox
        self.on_commit = on_commit
        self._info_key = f"ils.outbox.pending.{id(self)}"
        self._batch_key = f"ils.outbox.batch.{id(self)}"
        self._savepoint_key = f"ils.outbox.savepoint_rolled_back.{id(self)}"

    async def write(self, session: AsyncSession, row: OutboxRow, shared_id: bool = False) -> None:
        """Write ``row`` in ``session``'s transaction, to be relayed as soon as that commits.

        Nothing touches Redis here. A rollback leaves no row, so nothing is ever enqueued.
        Inside :meth:`batch` the row is held back and written with the batch's others. A row
        whose id is in the outbox already is not written again; it is still handed over at
        commit (its job may be gone from BullMQ: the hand-over adds it again), unless
        ``shared_id``: then the row there is this one's job, handed over by its own commit (or
        the sweep), and this commit hands over nothing for it.
        """
        await self.write_many(session, [row], shared_id)

    async def write_many(
        self, session: AsyncSession, rows: Sequence[OutboxRow], shared_id: bool = False
    ) -> None:
        """:meth:`write` for many rows, in one statement (or with the batch's others, each then
        handed over at commit)."""
        held: list[OutboxRow] | None = session.info.get(self._batch_key)
        if held is not None:
            held.extend(rows)
            return
        written = await self.outbox.write_many(session, rows)
        self._pending_in(session).extend(
            [row for row in rows if row.id in written] if shared_id else rows
        )

    @contextlib.asynccontextmanager
    async def batch(self, session: AsyncSession) -> AsyncIterator[None]:
        """Write the rows of every :meth:`write` in this block with one statement, at its end
        (a request that enqueues several jobs makes one round trip to the database, not one
        per job). Nothing is written if the block raises."""
        if session.info.get(self._batch_key) is not None:
            yield  # already batching: the outer block writes
            return
        held: list[OutboxRow] = []
        session.info[self._batch_key] = held
        try:
            yield
        finally:
            session.info.pop(self._batch_key, None)
        await self.outbox.write_many(session, held)
        self._pending_in(session).extend(held)

    def _pending_in(self, session: AsyncSession) -> list[OutboxRow]:
        pending: list[OutboxRow] | None = session.info.get(self._info_key)
        if pending is None:
            pending = session.info[self._info_key] = []
            # AsyncSession has no events of its own; its sync Session has.
            event.listen(session.sync_session, "after_commit", self._committed)
            event.listen(session.sync_session, "after_soft_rollback", self._rolled_back)
        return pending

    def _committed(self, session: Session) -> None:
        if session.get_nested_transaction() is not None:
            return  # a savepoint was released; the transaction itself may still roll back
        pending: list[OutboxRow] = session.info.get(self._info_key, [])
        rows, pending[:] = list(pending), []
        if session.info.pop(self._savepoint_key, False):
            # A savepoint rolled back took some rows with it, and which is not known here:
            # read back what is really there (the claim path) instead of trusting the list.
            self.on_commit(dict.fromkeys(row.id for row in rows))
        elif rows:
            self.on_commit({row.id: row for row in rows})

    def _rolled_back(self, session: Session, previous: SessionTransaction) -> None:
        if previous.parent is None:
            session.info.get(self._info_key, []).clear()
            session.info.pop(self._savepoint_key, None)
        else:
            session.info[self._savepoint_key] = True
