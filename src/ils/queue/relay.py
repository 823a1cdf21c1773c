"""The outbox relay: adds the outbox's jobs to BullMQ right after their transaction commits, and
sweeps up whatever was left behind (a crash between commit and relay, Redis down).

Many relays may run at once (every web and worker process runs one): on PostgreSQL each claims
its rows with ``FOR UPDATE SKIP LOCKED``; everywhere the job id is the row id, so a job relayed
twice is added once. A row is marked relayed only after BullMQ has it (at-least-once).

:class:`OutboxRelay` composes its parts, each in a module of its own: the transactional write
(:mod:`ils.queue.relay_write`), claiming rows (:mod:`ils.queue.relay_claim`), publishing them to
BullMQ (:mod:`ils.queue.relay_publish`) and the tasks that run it (:mod:`ils.queue.relay_sweep`).
The parts on SQLAlchemy (the outbox's storage, claiming, the transactional write) are made at
their first use; given a probe, the sweep first asks it whether there is anything to do, so a
worker that has not needed the database loads none of them until a row is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ils.queue.broker import Broker
from ils.queue.outbox_row import OutboxRow
from ils.queue.relay_publish import Publisher, RelayTiming
from ils.queue.relay_sweep import Probe, Sweeper
from ils.queue.settings import DAY_S, Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.queue.outbox import Outbox
    from ils.queue.relay_claim import Claimer
    from ils.queue.relay_write import OutboxWriter


class OutboxRelay:
    """Moves committed outbox rows into BullMQ: at once after commit, and by a periodic sweep.

    :meth:`write` is the transactional side (a row in the caller's transaction, relayed when it
    commits); :meth:`relay_pending` relays everything pending once; :meth:`start` runs the sweep
    every ``interval_s`` (backing off up to ``max_backoff_s`` while Redis or the database fails),
    which deletes rows relayed more than ``retention_s`` ago.

    ``outbox`` is the outbox, or a function that makes it when first needed; ``probe`` (see
    :class:`~ils.queue.relay_sweep.Sweeper`) lets a sweep with nothing to do skip the outbox.
    """

    def __init__(
        self,
        outbox: Outbox | Callable[[], Outbox],
        broker: Broker,
        settings: Settings,
        *,
        probe: Probe | None = None,
        interval_s: float = 2.0,
        batch_size: int = 100,
        retention_s: float = DAY_S,
        purge_every_s: float = 300.0,
        max_backoff_s: float = 15.0,
    ) -> None:
        self._outbox = outbox
        self.broker = broker
        self.settings = settings
        self.timing = RelayTiming(interval_s, batch_size, retention_s, purge_every_s, max_backoff_s)
        self.stopping = asyncio.Event()
        self.publisher = Publisher(broker, self.timing)
        self.sweeper = Sweeper(
            lambda: self.claimer, self.publisher, self.timing, self.stopping, probe
        )

    @functools.cached_property
    def outbox(self) -> Outbox:
        """The outbox's storage (made now if the relay was given a function that makes it)."""
        return self._outbox() if callable(self._outbox) else self._outbox

    @functools.cached_property
    def claimer(self) -> Claimer:
        from ils.queue.relay_claim import Claimer

        return Claimer(self.outbox, self.publisher, self.timing, self._after_add, self.stopping)

    @functools.cached_property
    def writer(self) -> OutboxWriter:
        from ils.queue.relay_write import OutboxWriter

        return OutboxWriter(self.outbox, self.sweeper.schedule)

    async def after_add(self, rows: Sequence[OutboxRow]) -> None:
        """Extension point, called once the jobs of ``rows`` are in BullMQ, before the rows are
        marked relayed, inside the transaction that claimed them. Subclasses may count or trace
        here.

        Raising rolls the marks back: the rows stay pending and are relayed again later, which
        adds nothing new (the job id is the row id). The tests raise here to stand for a process
        that dies between adding the job and marking its row.
        """

    async def _after_add(self, rows: Sequence[OutboxRow]) -> None:
        await self.after_add(rows)  # looked up per call: a subclass's override applies

    @property
    def interval_s(self) -> float:
        """Seconds between two sweeps (settable: the next wait uses the new value)."""
        return self.timing.interval_s

    @interval_s.setter
    def interval_s(self, value: float) -> None:
        self.timing.interval_s = value

    @property
    def last_error(self) -> str | None:
        """Why Redis did not answer the last time it did not (None once it answers)."""
        return self.publisher.last_error

    # -- in the caller's transaction -------------------------------------------------------

    async def write(self, session: AsyncSession, row: OutboxRow, shared_id: bool = False) -> None:
        """Write ``row`` in ``session``'s transaction; relayed as soon as that commits (with
        ``shared_id``, only when no row of its id was there: see :class:`OutboxWriter`)."""
        await self.writer.write(session, row, shared_id)

    async def write_many(self, session: AsyncSession, rows: Sequence[OutboxRow]) -> None:
        """Write ``rows`` in ``session``'s transaction, in one statement; relayed on commit."""
        await self.writer.write_many(session, rows)

    def batch(self, session: AsyncSession) -> contextlib.AbstractAsyncContextManager[None]:
        """Write the rows of every :meth:`write` in the block with one statement, at its end."""
        return self.writer.batch(session)

    # -- relaying and the sweep ------------------------------------------------------------

    async def relay_pending(self) -> int:
        """Relay every pending row once; how many this call marked relayed."""
        return await self.claimer.relay_pending()

    async def wait_idle(self) -> None:
        """Wait until the relays scheduled by commits so far have run."""
        await self.sweeper.wait_idle()

    async def purge(self) -> int:
        """Delete rows relayed more than ``retention_s`` ago; how many."""
        return await self.sweeper.purge()

    def start(self) -> None:
        """Start the periodic sweep in this process (idempotent)."""
        self.sweeper.start()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop the sweep and the relays under way, giving them ``grace_s`` to finish their
        batch. Anything cut short stays pending, for the sweep of this or another process. The
        relay holds no connection of its own (its queues are the broker's)."""
        await self.sweeper.stop(grace_s)

    @property
    def running(self) -> bool:
        """Whether the periodic sweep runs in this process."""
        return self.sweeper.running
