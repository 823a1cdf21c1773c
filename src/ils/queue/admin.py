"""THE data-access module for queue state: counts, health, info, workers, single jobs.

The API, the dashboard and the CLI read and change queue state only through :class:`QueueAdmin`;
none of them talks to Redis directly (as Sidekiq's web UI goes only through its ``api.rb``).
Besides its own reads it carries ``browse`` (job lists and details, :mod:`ils.queue.browse`),
``flows`` (a job's flow tree, :mod:`ils.queue.flow_tree`), ``batches`` (a batch's progress,
:mod:`ils.queue.batches`), ``actions`` (:mod:`ils.queue.actions`), ``metrics`` (throughput and
totals, :mod:`ils.queue.metrics`), ``outbox`` (jobs not yet in Redis, :mod:`ils.queue.outbox_admin`)
and ``dead_letters`` (jobs that failed for good, :mod:`ils.queue.dead_letter_admin`). Its queues are
the broker's (:mod:`ils.queue.queues`), shared with the producer and the relay.

Tenancy is applied here, once, for every caller: each read and action takes the viewer's
:class:`~ils.queue.tenancy.ViewerScope` (by default :data:`~ils.queue.tenancy.PLATFORM`, the
operator's, which the CLI uses). A company's scope counts only its own jobs (from its index, see
:mod:`ils.queue.tenancy`), sees worker processes without their job counts, and its throughput is
made from its own finished jobs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bullmq import Queue
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable, ConfigurationError, JobNotFound, UnknownJobType
from ils.queue import keys, schedulers, undecodable
from ils.queue.actions import QueueActions
from ils.queue.batches import BatchReader
from ils.queue.broker import Broker
from ils.queue.browse import JobBrowser, job_fields, visible_job
from ils.queue.flow_tree import FlowReader
from ils.queue.heartbeat import WorkerInfo, live_workers, now_ms
from ils.queue.metrics import MetricsReader, MinutePoint
from ils.queue.outbox_admin import OutboxAdmin
from ils.queue.registry import JobType, Registry
from ils.queue.settings import QUEUE_NAMES, Settings
from ils.queue.states import CANCELLED, COUNTED_STATES, FINAL_STATES
from ils.queue.tenancy import (
    PLATFORM,
    ViewerScope,
    company_counts,
    company_page,
    job_company,
    without_company,
)

if TYPE_CHECKING:
    from ils.queue.dead_letter_admin import DeadLetterAdmin


@dataclass(frozen=True)
class JobView:
    id: str
    queue: str
    name: str
    state: str
    data: Any
    attempts_made: int
    attempts: int
    failed_reason: str | None
    return_value: Any
    progress: Any
    timestamp: int
    processed_on: int | None
    finished_on: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


V = TypeVar("V")


class _Attached(Generic[V]):
    """A database-backed view of :class:`QueueAdmin`, set by ``ils.bootstrap`` where the process
    has a database; reading it where it has none is a :class:`ConfigurationError`."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: object | None, owner: type | None = None) -> V:
        if obj is None:
            return self  # type: ignore[return-value]  # on the class: the descriptor
        view: V | None = getattr(obj, self.slot, None)
        if view is None:
            raise ConfigurationError(f"this process's queue admin has no {self.what}")
        return view

    def __set__(self, obj: object, view: V) -> None:
        setattr(obj, self.slot, view)


class QueueAdmin:
    """Reads and acts on the state of the queues of one prefix."""

    # The outbox's (:mod:`ils.queue.outbox_admin`) and the dead letters' scoped views.
    outbox: _Attached[OutboxAdmin] = _Attached("outbox")
    dead_letters: _Attached[DeadLetterAdmin] = _Attached("dead letters")

    def __init__(
        self, settings: Settings, broker: Broker, registry: Registry | None = None
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.registry = registry
        self.browse = JobBrowser(self.queue, settings.prefix, self.job_type)
        self.flows = FlowReader(self.queue, settings.prefix, self.job_type)
        self.batches = BatchReader(self.queue, QUEUE_NAMES)
        self.actions = QueueActions(self.queue, settings.prefix, lambda: broker.admin_client)
        self.metrics = MetricsReader(
            broker.admin_client_for, settings.prefix, registry, settings.queue_prefix
        )

    def job_type(self, queue: str, name: str) -> JobType | None:
        """The registered type of ``queue/name`` (what masking needs), or None."""
        if self.registry is None:
            return None
        try:
            return self.registry.get(queue, name)
        except UnknownJobType:
            return None

    def queue(self, name: str) -> Queue:
        """The broker's queue ``name`` (:class:`ConfigurationError` for an unknown one)."""
        return self.broker.queues.get(name)

    # -- counts ----------------------------------------------------------------------------

    async def _counts_and_paused(
        self, queue: str, scope: ViewerScope
    ) -> tuple[dict[str, int], bool]:
        q = self.queue(queue)
        if scope.company_id is None:
            raw, paused = await asyncio.gather(q.getJobCounts(*COUNTED_STATES), q.isPaused())
        else:
            raw, paused = await asyncio.gather(company_counts(q, scope.company_id), q.isPaused())
        counts: dict[str, int] = {s: int(raw.get(s, 0)) for s in COUNTED_STATES}
        counts["paused"] = counts["waiting"] + counts["prioritized"] if paused else 0
        return counts, bool(paused)

    async def counts(self, queue: str, scope: ViewerScope = PLATFORM) -> dict[str, int]:
        return (await self._counts_and_paused(queue, scope))[0]

    async def states(
        self, queues: Iterable[str] = QUEUE_NAMES, scope: ViewerScope = PLATFORM
    ) -> dict[str, tuple[dict[str, int], bool]]:
        """Each queue's counts per state (of ``scope``'s jobs) and whether it is paused, read
        together. Raises :class:`BrokerUnavailable`."""
        names = list(queues)
        try:
            results = await asyncio.gather(*(self._counts_and_paused(q, scope) for q in names))
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot read queue stats: {exc}") from exc
        return dict(zip(names, results, strict=True))

    async def stats(
        self, queues: Iterable[str] = QUEUE_NAMES, scope: ViewerScope = PLATFORM
    ) -> dict[str, dict[str, int]]:
        """Counts per state for each queue. Raises :class:`BrokerUnavailable`."""
        states = await self.states(queues, scope)
        return {name: counts for name, (counts, _paused) in states.items()}

    async def throughput(
        self, queue: str, minutes: int = 60, scope: ViewerScope = PLATFORM
    ) -> list[MinutePoint]:
        """Completed, failed and retried jobs per minute, oldest first. A company's series is
        made from its own finished jobs still kept (the recorded one spans every company), and
        has no retries (those are recorded without their company)."""
        if scope.company_id is None:
            return await self.metrics.throughput(queue, minutes)
        last = int(time.time() // 60)
        first = last - minutes + 1
        finished: dict[tuple[int, str], int] = {}
        q = self.queue(queue)
        client = self.broker.admin_client_for(queue)
        for outcome in FINAL_STATES:
            _, ids = await company_page(q, scope.company_id, outcome, 0, 1_000_000)
            async with client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hget(keys.job_hash(q, job_id), "finishedOn")
                stamps = await pipe.execute()
            for stamp in stamps:
                if stamp:
                    minute = int(stamp) // 60_000
                    if first <= minute <= last:
                        finished[(minute, outcome)] = finished.get((minute, outcome), 0) + 1
        return [
            MinutePoint(m * 60, finished.get((m, "completed"), 0),
                        finished.get((m, "failed"), 0), 0)
            for m in range(first, last + 1)
        ]  # fmt: skip

    # -- workers and health ----------------------------------------------------------------

    async def workers(self) -> list[WorkerInfo]:
        """Live worker processes, from their heartbeats (stale ones are pruned)."""
        interval_s = self.settings.heartbeat_interval_s
        return await live_workers(self.broker.admin_client, self.settings.prefix, interval_s)

    async def health(self, scope: ViewerScope = PLATFORM) -> dict[str, Any]:
        """Redis reachable, latency, version, memory, and live workers per queue; a company's scope
        sees less of both (``BrokerHealth.shown``, :meth:`WorkerInfo.to_dict`). The top level is
        the deployment's server, ``servers`` each server with its queues (issue 21)."""
        broker, servers = await asyncio.gather(
            self.broker.health(), self.broker.servers_health(scope.all_companies)
        )
        per_queue = dict.fromkeys(QUEUE_NAMES, 0)
        live: list[dict[str, Any]] = []
        if broker.reachable:
            try:
                for w in await self.workers():
                    live.append(w.to_dict(scope))
                    for q in w.queues:
                        if q in per_queue:
                            per_queue[q] += 1
            except RedisError:
                pass
        return {
            "redis": broker.reachable,
            "healthy": all(s["redis"] for s in servers) and any(per_queue.values()),
            **broker.shown(scope.all_companies),
            "servers": servers,
            "workers": per_queue,
            "worker_processes": live,
            "checked_at": now_ms(),
        }

    @staticmethod
    def reachable_queues(health: dict[str, Any]) -> list[str]:
        """The queues whose server answered in ``health`` (:meth:`health`'s answer)."""
        return [q for s in health["servers"] if s["redis"] for q in s["queues"]]

    async def info(self, scope: ViewerScope = PLATFORM) -> dict[str, Any]:
        """Each queue's settings, counts (of ``scope``'s jobs), paused flag and worker count,
        with the broker's health."""
        health = await self.health(scope)
        states: dict[str, tuple[dict[str, int], bool]] = {}
        if health["redis"]:
            states = await self.states(self.reachable_queues(health), scope)
        queues = {}
        for q in QUEUE_NAMES:
            spec = self.settings.queue(q)
            counts, paused = states.get(q, (None, None))
            queues[q] = {
                # Not its redis_url: a server's address is the platform's (``servers``).
                "settings": spec.model_dump(exclude={"redis_url"})
                | {"drain_delay_s": spec.effective_drain_delay_s},
                "counts": counts,
                # The flag itself: the "paused" count is 0 for a paused queue with nothing waiting.
                "paused": paused,
                "workers": health["workers"][q],
            }
        return {"prefix": self.settings.prefix, "queues": queues, "health": health}

    async def snapshot(self, scope: ViewerScope = PLATFORM) -> dict[str, Any]:
        """What the live dashboard shows, in one read: health, live workers, and per queue its
        counts (of ``scope``'s jobs), paused flag, configured limits and run-time overrides.

        While Redis is unreachable ``counts`` and ``overrides`` are ``None`` (never zeros) and
        ``error`` says why, so a viewer can tell "empty" from "unknown".
        """
        health = await self.health(scope)
        states: dict[str, tuple[dict[str, int], bool]] = {}
        overrides: dict[str, dict[str, Any]] = {}
        error = health["error"]
        if health["redis"]:
            names = self.reachable_queues(health)  # a queue's server down: its counts unknown
            try:
                states = await self.states(names, scope)
                found = await asyncio.gather(*(self.actions.overrides(q) for q in names))
                overrides = {q: o.to_dict() for q, o in zip(names, found, strict=True)}
            except BrokerUnavailable as exc:
                unreachable = str(exc) if scope.all_companies else "Redis is unreachable"
                states, overrides, error = {}, {}, unreachable
        queues: dict[str, Any] = {}
        for q in QUEUE_NAMES:
            spec = self.settings.queue(q)
            counts, paused = states.get(q, (None, None))
            queues[q] = {
                "counts": counts,
                "paused": paused,
                "workers": health["workers"][q],
                "configured": {
                    "concurrency": spec.concurrency,
                    "rate_max": spec.rate_max,
                    "rate_duration_ms": spec.rate_duration_ms,
                },
                "overrides": overrides.get(q),
            }
        return {
            "redis": bool(health["redis"]) and bool(states),
            "error": error,
            "health": health,
            "queues": queues,
        }

    # -- job schedulers --------------------------------------------------------------------

    async def schedulers(self, queue: str, scope: ViewerScope = PLATFORM) -> list[dict[str, Any]]:
        """The queue's job schedulers (recurring jobs): id, job name, cron pattern or interval,
        time zone, next run (epoch ms), their jobs' data; for a company's scope only those whose
        jobs are its own. Raises :class:`BrokerUnavailable`."""
        out = []
        for s in (await schedulers.read(self.queue(queue))).values():
            template = s.get("template") or {}
            if not scope.sees(job_company(template.get("data"))):
                continue
            out.append({
                "id": str(s.get("key") or s.get("id")), "queue": queue, "name": s.get("name"),
                "pattern": s.get("pattern"), "every": s.get("every"), "tz": s.get("tz"),
                "next": int(s["next"]) if s.get("next") is not None else None,
                "data": without_company(template.get("data")),
            })  # fmt: skip
        return out

    # -- single jobs -----------------------------------------------------------------------

    async def get_job(self, queue: str, job_id: str, scope: ViewerScope = PLATFORM) -> JobView:
        q = self.queue(queue)
        # State first: a job seen finished has its result in its hash already (one Lua script
        # writes both), while a hash read first may predate a finish that the state then shows.
        state = await q.getJobState(job_id)
        job = visible_job(await undecodable.job_from_id(q, job_id), queue, job_id, scope)
        return JobView(
            **job_fields(job, str(state)),
            queue=queue,
            data=without_company(job.data),
            return_value=job.returnvalue,
        )

    async def wait_for_job(
        self,
        queue: str,
        job_id: str,
        timeout_s: float,
        states: Collection[str] = (*FINAL_STATES, CANCELLED),
        poll_s: float = 0.05,
    ) -> JobView:
        """Poll until the job reaches one of ``states`` (completed, failed or cancelled by
        default).

        Polling, not ``QueueEvents``: events stop for good after a long outage (guard 3),
        while a job's state in Redis is the truth. Raises ``TimeoutError``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                view = await self.get_job(queue, job_id)
                if view.state in states:
                    return view
            except (JobNotFound, RedisError):
                pass
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"job {queue}/{job_id} not in {sorted(states)} after {timeout_s}s"
                )
            await asyncio.sleep(poll_s)
