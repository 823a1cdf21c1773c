"""Worker heartbeats: each worker process says who it is and that it is alive.

The admin layer lists live workers (host, pid, queues, jobs in progress, started, last seen,
resident memory) from these records; ``/metrics`` shows the memory for the worker-memory alert.
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
from dataclasses import dataclass, field

import redis.asyncio as aredis
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.background import every

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
        async with self.client.pipeline(transaction=True) as pipe:
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
