"""The outbox relay: adds the outbox's jobs to BullMQ right after their transaction commits, and
sweeps up whatever was left behind (a crash between commit and relay, Redis down).

Many relays may run at once (every web and worker process runs one): on PostgreSQL each claims
its rows with ``FOR UPDATE SKIP LOCKED``; everywhere the job id is the row id, so a job relayed
twice is added once. A row is marked relayed only after BullMQ has it (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import redis.asyncio as aredis
from bullmq import Queue
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ils.logs import job_log_context
from ils.queue.broker import Broker, is_connection_error, redact
from ils.queue.outbox import Outbox, OutboxRow, describe_error, utcnow
from ils.queue.settings import DAY_S, Settings
from ils.queue.tenancy import add_job

log = logging.getLogger(__name__)

# Jobs added to BullMQ at once by one relay: enough to hide round trips, few connections.
ADD_CONCURRENCY = 10


@dataclass(frozen=True)
class _Batch:
    claimed: int
    relayed: int
    last: tuple[dt.datetime, str] | None
    broker_error: BaseException | None


class OutboxRelay:
    """Moves committed outbox rows into BullMQ: at once after commit, and by a periodic sweep.

    :meth:`write` is the transactional side (a row in the caller's transaction, relayed when it
    commits); :meth:`relay_pending` relays everything pending once; :meth:`run` sweeps every
    ``interval_s`` (backing off up to ``max_backoff_s`` while Redis or the database fails) and
    deletes rows relayed more than ``retention_s`` ago.
    """

    def __init__(
        self,
        outbox: Outbox,
        broker: Broker,
        settings: Settings,
        *,
        interval_s: float = 2.0,
        batch_size: int = 100,
        retention_s: float = DAY_S,
        purge_every_s: float = 300.0,
        max_backoff_s: float = 15.0,
    ) -> None:
        self.outbox = outbox
        self.broker = broker
        self.settings = settings
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.retention_s = retention_s
        self.purge_every_s = purge_every_s
        self.max_backoff_s = max_backoff_s
        self._client: aredis.Redis | None = None
        self._queues: dict[str, Queue] = {}
        self._info_key = f"ils.outbox.pending.{id(self)}"
        self._batch_key = f"ils.outbox.batch.{id(self)}"
        self._savepoint_key = f"ils.outbox.savepoint_rolled_back.{id(self)}"
        # Rows committed in this process and not relayed yet, in commit order (a set that keeps
        # order); the one drain task empties it.
        self._due: dict[str, OutboxRow | None] = {}
        self._drain_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._broker_failures = 0
        self._broker_retry_at = 0.0
        self._sweep_failures = 0
        self._purged_at = float("-inf")
        self.last_error: str | None = None

    # -- extension point -------------------------------------------------------------------

    async def after_add(self, rows: Sequence[OutboxRow]) -> None:
        """Called once the jobs of ``rows`` are in BullMQ, before the rows are marked relayed,
        inside the transaction that claimed them. Subclasses may count or trace here.

        Raising rolls the marks back: the rows stay pending and are relayed again later, which
        adds nothing new (the job id is the row id). The tests raise here to stand for a process
        that dies between adding the job and marking its row.
        """

    # -- in the caller's transaction -------------------------------------------------------

    async def write(self, session: AsyncSession, row: OutboxRow) -> None:
        """Write ``row`` in ``session``'s transaction and relay it as soon as that commits.

        Nothing touches Redis here. A rollback leaves no row, so nothing is ever enqueued.
        Inside :meth:`batch` the row is held back and written with the batch's others.
        """
        held: list[OutboxRow] | None = session.info.get(self._batch_key)
        if held is not None:
            held.append(row)
            return
        await self.outbox.write(session, row)
        self._pending_in(session).append(row)

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
            self._schedule(dict.fromkeys(row.id for row in rows))
        elif rows:
            self._schedule({row.id: row for row in rows})

    def _rolled_back(self, session: Session, previous: SessionTransaction) -> None:
        if previous.parent is None:
            session.info.get(self._info_key, []).clear()
            session.info.pop(self._savepoint_key, None)
        else:
            session.info[self._savepoint_key] = True

    # -- relaying --------------------------------------------------------------------------

    def relay_soon(self, ids: Sequence[str]) -> None:
        """Relay these committed rows from a task of this relay's own (the caller goes on)."""
        self._schedule(dict.fromkeys(ids))

    def _schedule(self, due: dict[str, OutboxRow | None]) -> None:
        """``due``: row id -> the row, when this process wrote it (then the relay need not read
        it back), else None."""
        if self._stopping.is_set():
            return  # shutting down: the rows wait for a sweep
        ids = list(due)
        self._due.update(due)
        if self._drain_task is not None and not self._drain_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("no event loop to relay %d outbox rows; the sweep will", len(ids))
            self._due.clear()
            return
        # The reference kept here also keeps the task from being garbage-collected mid-run.
        self._drain_task = loop.create_task(self._drain(), name="ils-outbox-relay")

    async def _drain(self) -> None:
        while self._due and not self._stopping.is_set():
            if self._broker_down():
                # Redis failed lately: leave the rows to the sweep, which retries with backoff.
                self._due.clear()
                return
            ids = list(self._due)[: self.batch_size]
            known = [row for row in (self._due.pop(row_id) for row_id in ids) if row is not None]
            known_ids = {row.id for row in known}
            unknown = [row_id for row_id in ids if row_id not in known_ids]
            try:
                if known:
                    await self._relay_known(known)
                if unknown:
                    await self._relay_batch(ids=unknown)
            except Exception:
                log.exception("relaying %d outbox rows failed; the sweep will retry", len(ids))

    async def wait_idle(self) -> None:
        """Wait until the relays scheduled by commits so far have run."""
        while self._drain_task is not None and not self._drain_task.done():
            await asyncio.wait([self._drain_task])

    async def relay_pending(self) -> int:
        """Relay every pending row once (oldest first, in batches); how many this call marked
        relayed. Stops early while Redis is unreachable (the attempt is recorded on the rows);
        database errors and errors of :meth:`after_add` are raised."""
        total = 0
        after: tuple[dt.datetime, str] | None = None
        while True:
            batch = await self._relay_batch(after=after)
            total += batch.relayed
            if batch.broker_error is not None or batch.claimed < self.batch_size:
                return total
            if self._stopping.is_set():
                return total  # the rest waits for the next sweep, here or elsewhere
            after = batch.last

    async def _relay_batch(
        self, ids: Sequence[str] | None = None, after: tuple[dt.datetime, str] | None = None
    ) -> _Batch:
        now = utcnow()
        async with self.outbox.sessions() as session, session.begin():
            rows = await self.outbox.claim(session, self.batch_size, ids=ids, after=after)
            if not rows:
                return _Batch(0, 0, None, None)
            added, failed, broker_error = await self._add(rows, now)
            relayed = await self._settle(session, added, failed, now)
        self._report(added, failed, broker_error)
        log.debug("outbox relay: %d of %d claimed rows relayed", relayed, len(rows))
        return _Batch(len(rows), relayed, (rows[-1].created_at, rows[-1].id), broker_error)

    async def _relay_known(self, rows: Sequence[OutboxRow]) -> int:
        """Relay rows this process has just written and committed: no need to read them back,
        and the database is not held while BullMQ adds them; one short transaction marks them.
        A sweep elsewhere may add one of them too: the job id makes that one job."""
        now = utcnow()
        added, failed, broker_error = await self._add(rows, now)
        async with self.outbox.sessions() as session, session.begin():
            relayed = await self._settle(session, added, failed, now)
        self._report(added, failed, broker_error)
        return relayed

    async def _settle(
        self,
        session: AsyncSession,
        added: Sequence[OutboxRow],
        failed: Sequence[tuple[OutboxRow, BaseException]],
        now: dt.datetime,
    ) -> int:
        """Mark the added rows relayed and count a failed attempt on the others; how many this
        call marked."""
        relayed = 0
        if added:
            await self.after_add(added)
            relayed = await self.outbox.mark_relayed(session, [r.id for r in added], now)
        by_error: dict[str, list[str]] = {}
        for row, exc in failed:
            by_error.setdefault(describe_error(exc), []).append(row.id)
        for error, failed_ids in by_error.items():
            await self.outbox.record_failure(session, failed_ids, error)
        return relayed

    def _report(
        self,
        added: Sequence[OutboxRow],
        failed: Sequence[tuple[OutboxRow, BaseException]],
        broker_error: BaseException | None,
    ) -> None:
        if broker_error is not None:
            self._note_broker_down(broker_error, len(failed))
        elif added:
            self._note_broker_up()
        for row, exc in failed:
            if not is_connection_error(exc):
                # Retried every sweep; said loudly on the first attempt and every hundredth.
                attempt = row.relay_attempts + 1
                with job_log_context(row.id, row.queue, row.name, row.company_id):
                    log.log(
                        logging.ERROR if attempt == 1 or attempt % 100 == 0 else logging.DEBUG,
                        "outbox row %s (%s/%s) not relayed (attempt %d): %s",
                        row.id, row.queue, row.name, attempt, exc,
                    )  # fmt: skip

    async def _add(
        self, rows: Sequence[OutboxRow], now: dt.datetime
    ) -> tuple[list[OutboxRow], list[tuple[OutboxRow, BaseException]], BaseException | None]:
        """Add each row's job to BullMQ, ``ADD_CONCURRENCY`` at a time: (added, failed with their
        errors, the connection error that stopped it). Once Redis fails to answer, the rows not
        tried yet fail with that error rather than each waiting for it again."""
        added: list[OutboxRow] = []
        failed: list[tuple[OutboxRow, BaseException]] = []
        broker_error: BaseException | None = None
        for start in range(0, len(rows), ADD_CONCURRENCY):
            group = rows[start : start + ADD_CONCURRENCY]
            if broker_error is not None:
                failed.extend((row, broker_error) for row in group)
                continue
            results = await asyncio.gather(
                *(
                    add_job(self._queue(r.queue), r.name, r.payload, r.job_options(now))
                    for r in group
                ),
                return_exceptions=True,
            )
            for row, result in zip(group, results, strict=True):
                if not isinstance(result, BaseException):
                    added.append(row)
                    continue
                if not isinstance(result, Exception):
                    raise result  # cancellation and the like are not relay failures
                failed.append((row, result))
                if is_connection_error(result):
                    broker_error = result
        return added, failed, broker_error

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            if self._client is None:
                self._client = self.broker.client("producer", name="ils-outbox-relay")
            self._queues[name] = Queue(
                name, {"connection": self._client, "prefix": self.settings.prefix}
            )
        return self._queues[name]

    # -- backoff ---------------------------------------------------------------------------

    def _backoff_s(self, failures: int) -> float:
        return float(min(self.interval_s * 2 ** min(failures - 1, 16), self.max_backoff_s))

    def _broker_down(self) -> bool:
        return self._broker_failures > 0 and time.monotonic() < self._broker_retry_at

    def _note_broker_down(self, exc: BaseException, waiting: int) -> None:
        self._broker_failures += 1
        wait = self._backoff_s(self._broker_failures)
        self._broker_retry_at = time.monotonic() + wait
        self.last_error = str(exc)
        level = logging.WARNING if self._broker_failures == 1 else logging.DEBUG
        log.log(
            level,
            "outbox relay: Redis at %s unreachable (%s); %d jobs of this pass stay in the "
            "outbox, next try in %.0fs",
            redact(self.broker.url), exc, waiting, wait,
        )  # fmt: skip

    def _note_broker_up(self) -> None:
        if self._broker_failures:
            log.info("outbox relay: Redis at %s answers again", redact(self.broker.url))
        self._broker_failures = 0
        self._broker_retry_at = 0.0
        self.last_error = None

    # -- the sweep -------------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete rows relayed more than ``retention_s`` ago; how many."""
        self._purged_at = time.monotonic()
        deleted = await self.outbox.purge(utcnow() - dt.timedelta(seconds=self.retention_s))
        if deleted:
            log.info("outbox relay: deleted %d relayed rows past retention", deleted)
        return deleted

    async def sweep(self) -> int:
        """One pass of the periodic sweep: relay what is pending, purge when due."""
        relayed = await self.relay_pending()
        if relayed:
            log.info("outbox relay: relayed %d pending jobs", relayed)
        if time.monotonic() - self._purged_at >= self.purge_every_s:
            await self.purge()
        return relayed

    def _next_sweep_in(self) -> float:
        wait = self.interval_s
        if self._sweep_failures:
            wait = max(wait, self._backoff_s(self._sweep_failures))
        if self._broker_failures:
            wait = max(wait, self._broker_retry_at - time.monotonic())
        return wait

    async def run(self) -> None:
        """Sweep until :meth:`stop`; a failing sweep is logged and retried with backoff."""
        while not self._stopping.is_set():
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
                await asyncio.wait_for(self._stopping.wait(), self._next_sweep_in())

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic sweep in this process (idempotent)."""
        if self._sweep_task is None or self._sweep_task.done():
            self._stopping.clear()
            self._sweep_task = asyncio.get_running_loop().create_task(
                self.run(), name="ils-outbox-sweep"
            )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop the sweep and the relays under way, giving them ``grace_s`` to finish their
        batch. Anything cut short stays pending, for the sweep of this or another process."""
        self._stopping.set()
        for task in (self._sweep_task, self._drain_task):
            if task is None or task.done():
                continue
            await asyncio.wait([task], timeout=grace_s)
            task.cancel()
            # asyncio.wait, not await: the task's cancellation must not look like our own.
            await asyncio.wait([task])
        self._sweep_task = None
        self._due.clear()

    async def close(self) -> None:
        await self.stop()
        self._queues.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def running(self) -> bool:
        """Whether the periodic sweep runs in this process."""
        return self._sweep_task is not None and not self._sweep_task.done()
