"""Worker heartbeats: each worker process says who it is and that it is alive, and the list of
live workers read back from them (on the deployment's Redis, whichever servers its queues use).

The admin layer lists live workers (host, pid, queues, jobs in progress, started, last seen,
resident memory) from these records (:func:`live_workers`); ``/metrics`` shows the memory for
the worker-memory alert.
A record expires after three missed beats, so a killed process drops off on its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import redis.asyncio as aredis
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.background import every

if TYPE_CHECKING:  # tenancy takes its clock from here
    from ils.queue.tenancy import ViewerScope

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def rss_bytes() -> int:
    """This process's resident memory now; its peak where ``/proc`` is missing (not Linux)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes there, KiB elsewhere


@dataclass
class Heartbeat:
    client: aredis.Redis
    prefix: str
    worker_id: str
    queues: tuple[str, ...]
    interval_s: float
    started_ms: int = field(default_factory=now_ms)
    processed: int = 0
    failed: int = 0
    active: Callable[[], int] = lambda: 0

    @property
    def ttl_s(self) -> int:
        return max(1, int(self.interval_s * 3 + 0.999))

    async def beat(self) -> None:
        record = keys.worker_record(self.prefix, self.worker_id)
        now = now_ms()
        # Not a MULTI/EXEC: the record and the index are two keys a Redis Cluster may keep on
        # two nodes; a reader skips an index entry whose record is missing or expired.
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(
                record,
                mapping={
                    "id": self.worker_id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "queues": ",".join(self.queues),
                    "started": self.started_ms,
                    "last_seen": now,
                    "processed": self.processed,
                    "failed": self.failed,
                    "active": self.active(),
                    "rss": rss_bytes(),
                },
            )
            pipe.expire(record, self.ttl_s)
            pipe.zadd(keys.workers_index(self.prefix), {self.worker_id: now})
            await pipe.execute()

    async def run(self) -> None:
        await every(self.interval_s, self.beat, log, "heartbeat not written")

    async def clear(self) -> None:
        with contextlib.suppress(RedisError):
            await self.client.delete(keys.worker_record(self.prefix, self.worker_id))
            await self.client.zrem(keys.workers_index(self.prefix), self.worker_id)


#: All a company sees of a worker: not its job counts (of every company) nor where it runs.
COMPANY_SHOWN = frozenset({"id", "queues", "started", "last_seen"})


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
    memory_bytes: int | None = None  # resident, at the last heartbeat; None from older workers

    def to_dict(self, scope: ViewerScope | None = None) -> dict[str, Any]:
        """The record; for a company's scope only the fields of :data:`COMPANY_SHOWN` (None:
        the platform's)."""
        out = asdict(self) | {"queues": list(self.queues)}
        if scope is not None and not scope.all_companies:
            out = {k: v if k in COMPANY_SHOWN else None for k, v in out.items()}
        return out


async def live_workers(client: aredis.Redis, prefix: str, interval_s: float) -> list[WorkerInfo]:
    """Live worker processes, from their heartbeats (stale ones are pruned), oldest first."""
    index = keys.workers_index(prefix)
    ttl_ms = int(interval_s * 3 * 1000)
    await client.zremrangebyscore(index, "-inf", now_ms() - ttl_ms)
    out = []
    for wid in await client.zrange(index, 0, -1):
        raw = await client.hgetall(keys.worker_record(prefix, str(wid)))
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
                memory_bytes=int(rec["rss"]) if rec.get("rss") else None,
            )
        )
    return sorted(out, key=lambda w: w.started)
