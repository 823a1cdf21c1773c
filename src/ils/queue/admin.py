"""THE data-access module for queue state: counts, health, info, workers, single jobs.

The API, the dashboard and the CLI read and change queue state only through :class:`QueueAdmin`;
none of them talks to Redis directly (as Sidekiq's web UI goes only through its ``api.rb``).
Besides its own reads it carries ``browse`` (job lists and details, :mod:`ils.queue.browse`),
``actions`` (:mod:`ils.queue.actions`) and ``metrics`` (throughput and totals,
:mod:`ils.queue.metrics`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bullmq import Job, Queue
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.actions import QueueActions
from ils.queue.broker import Broker
from ils.queue.browse import JobBrowser
from ils.queue.errors import BrokerUnavailable, JobNotFound
from ils.queue.heartbeat import now_ms
from ils.queue.metrics import MetricsReader
from ils.queue.settings import QUEUE_NAMES, Settings

STATES: tuple[str, ...] = (
    "waiting",
    "active",
    "delayed",
    "prioritized",
    "completed",
    "failed",
    "paused",
)
FINAL_STATES = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    started: int
    last_seen: int
    processed: int
    failed: int
    active: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"queues": list(self.queues)}


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


class QueueAdmin:
    """Reads and acts on the state of the queues of one prefix."""

    def __init__(self, settings: Settings, broker: Broker) -> None:
        self.settings = settings
        self.broker = broker
        self._queues: dict[str, Queue] = {}
        self.browse = JobBrowser(self.queue, settings.prefix)
        self.actions = QueueActions(self.queue, settings.prefix)
        self.metrics = MetricsReader(lambda: broker.admin_client, settings.prefix)

    def queue(self, name: str) -> Queue:
        self.settings.queue(name)
        if name not in self._queues:
            conn = {"connection": self.broker.admin_client, "prefix": self.settings.prefix}
            self._queues[name] = Queue(name, conn)
        return self._queues[name]

    # -- counts ----------------------------------------------------------------------------

    async def _counts_and_paused(self, queue: str) -> tuple[dict[str, int], bool]:
        q = self.queue(queue)
        raw, paused = await asyncio.gather(
            q.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed"),
            q.isPaused(),
        )
        counts = {state: int(raw.get(state, 0)) for state in STATES if state != "paused"}
        counts["paused"] = counts["waiting"] + counts["prioritized"] if paused else 0
        return counts, bool(paused)

    async def counts(self, queue: str) -> dict[str, int]:
        return (await self._counts_and_paused(queue))[0]

    async def states(
        self, queues: Iterable[str] = QUEUE_NAMES
    ) -> dict[str, tuple[dict[str, int], bool]]:
        """Each queue's counts per state and whether it is paused, read together. Raises
        :class:`BrokerUnavailable`."""
        names = list(queues)
        try:
            results = await asyncio.gather(*(self._counts_and_paused(q) for q in names))
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot read queue stats: {exc}") from exc
        return dict(zip(names, results, strict=True))

    async def stats(self, queues: Iterable[str] = QUEUE_NAMES) -> dict[str, dict[str, int]]:
        """Counts per state for each queue. Raises :class:`BrokerUnavailable`."""
        return {name: counts for name, (counts, _paused) in (await self.states(queues)).items()}

    # -- workers and health ----------------------------------------------------------------

    async def workers(self) -> list[WorkerInfo]:
        """Live worker processes, from their heartbeats (stale ones are pruned)."""
        client = self.broker.admin_client
        index = keys.workers_index(self.settings.prefix)
        ttl_ms = int(self.settings.heartbeat_interval_s * 3 * 1000)
        await client.zremrangebyscore(index, "-inf", now_ms() - ttl_ms)
        ids = await client.zrange(index, 0, -1)
        out = []
        for wid in ids:
            raw = await client.hgetall(keys.worker_record(self.settings.prefix, str(wid)))
            rec: dict[str, str] = {str(k): str(v) for k, v in raw.items()}
            if not rec:
                continue
            out.append(
                WorkerInfo(
                    id=rec["id"],
                    host=rec["host"],
                    pid=int(rec["pid"]),
                    queues=tuple(q for q in rec["queues"].split(",") if q),
                    started=int(rec["started"]),
                    last_seen=int(rec["last_seen"]),
                    processed=int(rec.get("processed", 0)),
                    failed=int(rec.get("failed", 0)),
                    active=int(rec.get("active", 0)),
                )
            )
        return sorted(out, key=lambda w: w.started)

    async def health(self) -> dict[str, Any]:
        """Redis reachable, latency, version, memory, and live workers per queue."""
        broker = await self.broker.health()
        per_queue = dict.fromkeys(QUEUE_NAMES, 0)
        live: list[dict[str, Any]] = []
        if broker.reachable:
            try:
                for w in await self.workers():
                    live.append(w.to_dict())
                    for q in w.queues:
                        if q in per_queue:
                            per_queue[q] += 1
            except RedisError:
                pass
        return {
            "redis": broker.reachable,
            "healthy": broker.reachable and any(per_queue.values()),
            "latency_ms": broker.latency_ms,
            "version": broker.version,
            "memory_used_bytes": broker.memory_used_bytes,
            "memory_used_human": broker.memory_used_human,
            "connected_clients": broker.connected_clients,
            "error": broker.error,
            "workers": per_queue,
            "worker_processes": live,
            "checked_at": now_ms(),
        }

    async def info(self) -> dict[str, Any]:
        """Each queue's settings, counts and worker count, with the broker's health."""
        health = await self.health()
        stats: dict[str, dict[str, int]] = {}
        if health["redis"]:
            stats = await self.stats()
        queues = {}
        for q in QUEUE_NAMES:
            spec = self.settings.queue(q)
            queues[q] = {
                "settings": spec.model_dump() | {"drain_delay_s": spec.effective_drain_delay_s},
                "counts": stats.get(q),
                "paused": bool(stats[q]["paused"]) if q in stats else None,
                "workers": health["workers"][q],
            }
        return {"prefix": self.settings.prefix, "queues": queues, "health": health}

    async def snapshot(self) -> dict[str, Any]:
        """What the live dashboard shows, in one read: health, live workers, and per queue its
        counts, paused flag, configured limits and run-time overrides.

        While Redis is unreachable ``counts`` and ``overrides`` are ``None`` (never zeros) and
        ``error`` says why, so a viewer can tell "empty" from "unknown".
        """
        health = await self.health()
        states: dict[str, tuple[dict[str, int], bool]] = {}
        overrides: dict[str, dict[str, Any]] = {}
        error = health["error"]
        if health["redis"]:
            names = list(QUEUE_NAMES)
            try:
                states = await self.states(names)
                found = await asyncio.gather(*(self.actions.overrides(q) for q in names))
                overrides = {q: o.to_dict() for q, o in zip(names, found, strict=True)}
            except BrokerUnavailable as exc:
                states, overrides, error = {}, {}, str(exc)
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

    async def schedulers(self, queue: str) -> list[dict[str, Any]]:
        """The queue's job schedulers (recurring jobs): id, job name, cron pattern or interval,
        time zone, next run (epoch ms), their jobs' data. Raises :class:`BrokerUnavailable`."""
        try:
            raw = await self.queue(queue).getJobSchedulers(0, -1, True)
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot read the job schedulers: {exc}") from exc
        out = []
        for s in raw or []:
            template = s.get("template") or {}
            out.append({
                "id": str(s.get("key") or s.get("id")), "queue": queue, "name": s.get("name"),
                "pattern": s.get("pattern"), "every": s.get("every"), "tz": s.get("tz"),
                "next": int(s["next"]) if s.get("next") is not None else None,
                "data": template.get("data"),
            })  # fmt: skip
        return out

    # -- single jobs -----------------------------------------------------------------------

    async def get_job(self, queue: str, job_id: str) -> JobView:
        q = self.queue(queue)
        # State first: a job seen finished has its result in its hash already (one Lua script
        # writes both), while a hash read first may predate a finish that the state then shows.
        state = await q.getJobState(job_id)
        job = await Job.fromId(q, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id} in queue {queue}")
        return JobView(
            id=str(job.id),
            queue=queue,
            name=job.name,
            state=str(state),
            data=job.data,
            attempts_made=int(job.attemptsMade or 0),
            attempts=int((job.opts or {}).get("attempts") or 1),
            failed_reason=job.failedReason,
            return_value=job.returnvalue,
            progress=job.progress,
            timestamp=int(job.timestamp or 0),
            processed_on=int(job.processedOn) if job.processedOn else None,
            finished_on=int(job.finishedOn) if job.finishedOn else None,
        )

    async def wait_for_job(
        self,
        queue: str,
        job_id: str,
        timeout_s: float,
        states: frozenset[str] = FINAL_STATES,
        poll_s: float = 0.05,
    ) -> JobView:
        """Poll until the job reaches one of ``states`` (completed or failed by default).

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

    async def close(self) -> None:
        self._queues.clear()
