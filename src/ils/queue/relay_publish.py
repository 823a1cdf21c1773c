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

from ils.errors import ConfigurationError
from ils.logs import job_log_context
from ils.queue.broker import Broker, is_connection_error, redact
from ils.queue.engine_add import BulkJob, bulk_job, json_data
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
    connection error of each server that stopped answering (queues may have servers of their
    own). ``broker_error`` is the deployment's server's: the relay's sweep stops on it, while a
    queue's own server failing holds back only that server's rows."""

    added: list[OutboxRow] = field(default_factory=list)
    failed: list[tuple[OutboxRow, BaseException]] = field(default_factory=list)
    down: dict[str, BaseException] = field(default_factory=dict)
    up: set[str] = field(default_factory=set)
    broker_error: BaseException | None = None


@dataclass
class _Backoff:
    """One server's failures in a row and when it is worth trying again."""

    failures: int = 0
    retry_at: float = 0.0
    last_error: str | None = None

    def waiting(self) -> bool:
        return self.failures > 0 and time.monotonic() < self.retry_at


class Publisher:
    """Adds outbox rows' jobs to the broker's queues and tracks whether each Redis server
    answers (queues may live on servers of their own: one server down holds back its rows only).
    """

    def __init__(self, broker: Broker, timing: RelayTiming) -> None:
        self.broker = broker
        self.timing = timing
        self._servers: dict[str, _Backoff] = {}

    def _server(self, row: OutboxRow) -> str:
        try:
            return self.broker.queues.url(row.queue)
        except ConfigurationError:  # its add fails with this error, for this row alone
            return self.broker.url

    async def publish(self, rows: Sequence[OutboxRow], now: dt.datetime) -> Published:
        """Add the rows' jobs to BullMQ: plain jobs in bulk, one pipeline per queue
        (:mod:`ils.queue.engine_add`), flows ``ADD_CONCURRENCY`` at a time. Once a server fails
        to answer, its rows not tried yet fail with that error rather than each waiting for it;
        the rows of the other servers go on."""
        out = Published()
        flows = [row for row in rows if is_flow_row(row)]
        by_queue: dict[str, list[OutboxRow]] = {}
        for row in rows:
            if not is_flow_row(row):
                by_queue.setdefault(row.queue, []).append(row)
        for queue, plain in by_queue.items():
            down = out.down.get(self._server(plain[0]))
            if down is not None:
                out.failed.extend((row, down) for row in plain)
                continue
            await self._add_plain(queue, plain, now, out)
        for start in range(0, len(flows), ADD_CONCURRENCY):
            group: list[OutboxRow] = []
            for row in flows[start : start + ADD_CONCURRENCY]:
                down = out.down.get(self._server(row))
                if down is None:
                    group.append(row)
                else:
                    out.failed.append((row, down))
            results = await asyncio.gather(
                *(self._add_flow(row, now) for row in group), return_exceptions=True
            )
            for row, result in zip(group, results, strict=True):
                self._settle_one(out, row, result)
        out.broker_error = out.down.get(self.broker.url)
        return out

    def _settle_one(self, out: Published, row: OutboxRow, result: object) -> None:
        if not isinstance(result, BaseException):
            out.added.append(row)
            out.up.add(self._server(row))
            return
        if not isinstance(result, Exception):
            raise result  # cancellation and the like are not relay failures
        out.failed.append((row, result))
        if is_connection_error(result):
            out.down.setdefault(self._server(row), result)

    async def _add_plain(
        self, queue: str, rows: list[OutboxRow], now: dt.datetime, out: Published
    ) -> None:
        """Add one queue's plain rows in one pipeline (the row id is the job id); a row that
        cannot be added (too large, options BullMQ refuses) fails alone."""
        limit = self.broker.settings.max_payload_bytes
        try:
            adder = self.broker.queues.adder(queue)
        except ConfigurationError as exc:  # a queue this deployment does not have: these rows
            out.failed.extend((row, exc) for row in rows)
            return
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
        """Note whether each server answered, and log the rows BullMQ refused."""
        for url, exc in published.down.items():
            waiting = sum(1 for row, _exc in published.failed if self._server(row) == url)
            self._note_down(url, exc, waiting)
        for url in published.up - set(published.down):
            self._note_up(url)
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

    def _state(self, url: str) -> _Backoff:
        return self._servers.setdefault(url, _Backoff())

    @property
    def last_error(self) -> str | None:
        """The deployment's server's last connection error, else another server's."""
        own = self._state(self.broker.url).last_error
        return own or next((s.last_error for s in self._servers.values() if s.last_error), None)

    def down(self) -> bool:
        """Whether the deployment's Redis failed lately and its back-off has not run out."""
        return self._state(self.broker.url).waiting()

    def retry_in_s(self) -> float:
        """Seconds until the deployment's Redis is worth trying again (0 while it answers)."""
        state = self._state(self.broker.url)
        return max(0.0, state.retry_at - time.monotonic()) if state.failures else 0.0

    def _note_down(self, url: str, exc: BaseException, waiting: int) -> None:
        state = self._state(url)
        state.failures += 1
        wait = self.timing.backoff_s(state.failures)
        state.retry_at = time.monotonic() + wait
        state.last_error = str(exc)
        level = logging.WARNING if state.failures == 1 else logging.DEBUG
        log.log(
            level,
            "outbox relay: Redis at %s unreachable (%s); %d jobs of this pass stay in the "
            "outbox, next try in %.0fs",
            redact(url), exc, waiting, wait,
        )  # fmt: skip

    def _note_up(self, url: str) -> None:
        state = self._state(url)
        if state.failures:
            log.info("outbox relay: Redis at %s answers again", redact(url))
        state.failures, state.retry_at, state.last_error = 0, 0.0, None
