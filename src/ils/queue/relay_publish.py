"""Publishing outbox rows to BullMQ for the relay: each row's job added with the row id as its job
id (a row published twice is one job; a flow's row adds its whole tree, see
:mod:`ils.queue.flow_store`), in bulk, and whether Redis answers (the back-off the relay
keeps while it does not).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ils.logs import job_log_context
from ils.queue.broker import Broker, is_connection_error, redact
from ils.queue.engine_add import BulkJob, adder_for, bulk_job, json_data
from ils.queue.flow_store import add_tree, is_flow_row, tree_of
from ils.queue.outbox_row import OutboxRow
from ils.queue.payload_size import check_encoded_size, check_tree_size
from ils.queue.settings import DAY_S

# The relay's parts log as one, under the name of the module that composes them.
log = logging.getLogger("ils.queue.relay")

# Flows added to BullMQ at once by one relay (plain jobs go in bulk, one pipeline per queue).
ADD_CONCURRENCY = 10


@dataclass
class RelayTiming:
    """How the relay paces itself: it sweeps every ``interval_s`` and, while Redis or the
    database fails, backs off up to ``max_backoff_s``; it takes ``batch_size`` rows at a time and
    deletes rows relayed more than ``retention_s`` ago, every ``purge_every_s``."""

    interval_s: float = 2.0
    batch_size: int = 100
    retention_s: float = DAY_S
    purge_every_s: float = 300.0
    max_backoff_s: float = 15.0

    def backoff_s(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row (doubling from ``interval_s``)."""
        return float(min(self.interval_s * 2 ** min(failures - 1, 16), self.max_backoff_s))


@dataclass
class Published:
    """What became of one publish: the rows BullMQ has, the rows it refused (with why), and the
    connection error that stopped it, if Redis stopped answering."""

    added: list[OutboxRow] = field(default_factory=list)
    failed: list[tuple[OutboxRow, BaseException]] = field(default_factory=list)
    broker_error: BaseException | None = None


class Publisher:
    """Adds outbox rows' jobs to the broker's queues and tracks whether Redis answers."""

    def __init__(self, broker: Broker, timing: RelayTiming) -> None:
        self.broker = broker
        self.timing = timing
        self._failures = 0
        self._retry_at = 0.0
        self.last_error: str | None = None

    async def publish(self, rows: Sequence[OutboxRow], now: dt.datetime) -> Published:
        """Add the rows' jobs to BullMQ: plain jobs in bulk, one pipeline per queue
        (:mod:`ils.queue.engine_add`), flows ``ADD_CONCURRENCY`` at a time. Once Redis fails to
        answer, the rows not tried yet fail with that error rather than each waiting for it."""
        out = Published()
        flows = [row for row in rows if is_flow_row(row)]
        by_queue: dict[str, list[OutboxRow]] = {}
        for row in rows:
            if not is_flow_row(row):
                by_queue.setdefault(row.queue, []).append(row)
        for queue, plain in by_queue.items():
            if out.broker_error is not None:
                out.failed.extend((row, out.broker_error) for row in plain)
                continue
            await self._add_plain(queue, plain, now, out)
        for start in range(0, len(flows), ADD_CONCURRENCY):
            group = flows[start : start + ADD_CONCURRENCY]
            if out.broker_error is not None:
                out.failed.extend((row, out.broker_error) for row in group)
                continue
            results = await asyncio.gather(
                *(self._add_flow(row, now) for row in group), return_exceptions=True
            )
            for row, result in zip(group, results, strict=True):
                self._settle_one(out, row, result)
        return out

    @staticmethod
    def _settle_one(out: Published, row: OutboxRow, result: object) -> None:
        if not isinstance(result, BaseException):
            out.added.append(row)
            return
        if not isinstance(result, Exception):
            raise result  # cancellation and the like are not relay failures
        out.failed.append((row, result))
        if is_connection_error(result):
            out.broker_error = result

    async def _add_plain(
        self, queue: str, rows: list[OutboxRow], now: dt.datetime, out: Published
    ) -> None:
        """Add one queue's plain rows in one pipeline (the row id is the job id); a row that
        cannot be added (too large, options BullMQ refuses) fails alone."""
        limit = self.broker.settings.max_payload_bytes
        adder = adder_for(self.broker.queues.get(queue))
        jobs: list[tuple[OutboxRow, BulkJob]] = []
        for row in rows:
            try:
                encoded = json_data(row.payload)
                # The row stays, with this error, for an admin to see.
                check_encoded_size(f"{row.queue}/{row.name}", row.payload, encoded, limit)
                job = bulk_job(adder, row.name, encoded, row.job_options(now), row.company_id)
            except Exception as exc:
                out.failed.append((row, exc))
                continue
            jobs.append((row, job))
        try:
            results: list[object] = list(await adder.add_many([job for _, job in jobs]))
        except Exception as exc:
            results = [exc] * len(jobs)
        for (row, _), result in zip(jobs, results, strict=True):
            self._settle_one(out, row, result)

    async def _add_flow(self, row: OutboxRow, now: dt.datetime) -> str:
        tree = tree_of(row, now)
        check_tree_size(tree, self.broker.settings.max_payload_bytes)  # the row stays, with it
        return await add_tree(self.broker, tree)

    def report(self, published: Published) -> None:
        """Note whether Redis answered, and log the rows BullMQ refused."""
        if published.broker_error is not None:
            self._note_down(published.broker_error, len(published.failed))
        elif published.added:
            self._note_up()
        for row, exc in published.failed:
            if not is_connection_error(exc):
                # Retried every sweep; said loudly on the first attempt and every hundredth.
                attempt = row.relay_attempts + 1
                with job_log_context(row.id, row.queue, row.name, row.company_id):
                    log.log(
                        logging.ERROR if attempt == 1 or attempt % 100 == 0 else logging.DEBUG,
                        "outbox row %s (%s/%s) not relayed (attempt %d): %s",
                        row.id, row.queue, row.name, attempt, exc,
                    )  # fmt: skip

    # -- whether Redis answers -------------------------------------------------------------

    def down(self) -> bool:
        """Whether Redis failed lately and its back-off has not run out."""
        return self._failures > 0 and time.monotonic() < self._retry_at

    def retry_in_s(self) -> float:
        """Seconds until Redis is worth trying again (0 while it answers)."""
        return max(0.0, self._retry_at - time.monotonic()) if self._failures else 0.0

    def _note_down(self, exc: BaseException, waiting: int) -> None:
        self._failures += 1
        wait = self.timing.backoff_s(self._failures)
        self._retry_at = time.monotonic() + wait
        self.last_error = str(exc)
        level = logging.WARNING if self._failures == 1 else logging.DEBUG
        log.log(
            level,
            "outbox relay: Redis at %s unreachable (%s); %d jobs of this pass stay in the "
            "outbox, next try in %.0fs",
            redact(self.broker.url), exc, waiting, wait,
        )  # fmt: skip

    def _note_up(self) -> None:
        if self._failures:
            log.info("outbox relay: Redis at %s answers again", redact(self.broker.url))
        self._failures = 0
        self._retry_at = 0.0
        self.last_error = None
