"""When the relay runs: woken right after a commit for the rows it wrote (one drain task at a
time), and by the periodic sweep, which relays whatever is pending (a crash between commit and
relay, Redis down), purges rows past retention, and backs off while Redis or the database fails.
With a probe, a sweep first asks whether there is anything to do, and reaches for the claimer
(the outbox on SQLAlchemy) only when there is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ils.queue.outbox_row import OutboxRow, describe_error, utcnow
from ils.queue.relay_publish import Publisher, RelayTiming

if TYPE_CHECKING:
    from ils.queue.relay_claim import Claimer

log = logging.getLogger("ils.queue.relay")

#: Whether a sweep has anything to do: a row pending, or (given a time) a row relayed before it.
Probe = Callable[[dt.datetime | None], Awaitable[bool]]


class Sweeper:
    """The relay's tasks in this process: the drain after commits and the periodic sweep.

    ``claimer`` gives the relay's claimer (made at its first use); the publisher, pacing and stop
    signal are the relay's. ``probe``, when given, is asked before each sweep; a sweep it answers
    "nothing" for touches neither the claimer nor the outbox.
    """

    def __init__(
        self,
        claimer: Callable[[], Claimer],
        publisher: Publisher,
        timing: RelayTiming,
        stopping: asyncio.Event,
        probe: Probe | None = None,
    ) -> None:
        self.claimer = claimer
        self.publisher = publisher
        self.timing = timing
        self.stopping = stopping
        self.probe = probe
        # Rows committed in this process and not relayed yet, in commit order (a set that keeps
        # order); the one drain task empties it.
        self._due: dict[str, OutboxRow | None] = {}
        self._drain_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._sweep_failures = 0
        self._purged_at = float("-inf")

    # -- woken by commits ------------------------------------------------------------------

    def schedule(self, due: dict[str, OutboxRow | None]) -> None:
        """Relay these committed rows from the drain task (the caller goes on). ``due``: row id
        -> the row, when this process wrote it (then it need not be read back), else None."""
        if self.stopping.is_set():
            return  # shutting down: the rows wait for a sweep
        self._due.update(due)
        if self._drain_task is not None and not self._drain_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("no event loop to relay %d outbox rows; the sweep will", len(due))
            self._due.clear()
            return
        # The reference kept here also keeps the task from being garbage-collected mid-run.
        self._drain_task = loop.create_task(self._drain(), name="ils-outbox-relay")

    async def _drain(self) -> None:
        while self._due and not self.stopping.is_set():
            if self.publisher.down():
                # Redis failed lately: leave the rows to the sweep, which retries with backoff.
                self._due.clear()
                return
            ids = list(self._due)[: self.timing.batch_size]
            known = [row for row in (self._due.pop(row_id) for row_id in ids) if row is not None]
            known_ids = {row.id for row in known}
            unknown = [row_id for row_id in ids if row_id not in known_ids]
            try:
                if known:
                    await self.claimer().relay_known(known)
                if unknown:
                    await self.claimer().relay_batch(ids=unknown)
            except Exception:
                log.exception("relaying %d outbox rows failed; the sweep will retry", len(ids))

    async def wait_idle(self) -> None:
        """Wait until the relays scheduled by commits so far have run."""
        while self._drain_task is not None and not self._drain_task.done():
            await asyncio.wait([self._drain_task])

    # -- the periodic sweep ----------------------------------------------------------------

    async def purge(self) -> int:
        """Delete rows relayed more than ``retention_s`` ago; how many."""
        self._purged_at = time.monotonic()
        deleted = await self.claimer().outbox.purge(self._purge_before())
        if deleted:
            log.info("outbox relay: deleted %d relayed rows past retention", deleted)
        return deleted

    def _purge_before(self) -> dt.datetime:
        return utcnow() - dt.timedelta(seconds=self.timing.retention_s)

    async def sweep(self) -> int:
        """One pass of the periodic sweep: relay what is pending, purge when due."""
        purge_due = time.monotonic() - self._purged_at >= self.timing.purge_every_s
        if self.probe is not None and not await self.probe(
            self._purge_before() if purge_due else None
        ):
            if purge_due:
                self._purged_at = time.monotonic()  # nothing relayed long enough ago
            return 0
        relayed = await self.claimer().relay_pending()
        if relayed:
            log.info("outbox relay: relayed %d pending jobs", relayed)
        if purge_due:
            await self.purge()
        return relayed

    def _next_sweep_in(self) -> float:
        wait = self.timing.interval_s
        if self._sweep_failures:
            wait = max(wait, self.timing.backoff_s(self._sweep_failures))
        return max(wait, self.publisher.retry_in_s())

    async def run(self) -> None:
        """Sweep until stopped; a failing sweep is logged and retried with backoff."""
        while not self.stopping.is_set():
            try:
                await self.sweep()
            except Exception as exc:
                self._sweep_failures += 1
                if self._sweep_failures == 1:
                    log.error(
                        "outbox relay: sweep failed, retrying with backoff: %s",
                        describe_error(exc),
                        exc_info=True,
                    )
                else:
                    log.debug("outbox relay: sweep failed again: %s", describe_error(exc))
            else:
                if self._sweep_failures:
                    log.info("outbox relay: sweep works again")
                self._sweep_failures = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self._next_sweep_in())

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic sweep in this process (idempotent)."""
        if self._sweep_task is None or self._sweep_task.done():
            self.stopping.clear()
            self._sweep_task = asyncio.get_running_loop().create_task(
                self.run(), name="ils-outbox-sweep"
            )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop the sweep and the drain, giving them ``grace_s`` to finish their batch. Anything
        cut short stays pending, for the sweep of this or another process."""
        self.stopping.set()
        for task in (self._sweep_task, self._drain_task):
            if task is None or task.done():
                continue
            await asyncio.wait([task], timeout=grace_s)
            task.cancel()
            # asyncio.wait, not await: the task's cancellation must not look like our own.
            await asyncio.wait([task])
        self._sweep_task = None
        self._due.clear()

    @property
    def running(self) -> bool:
        """Whether the periodic sweep runs in this process."""
        return self._sweep_task is not None and not self._sweep_task.done()
