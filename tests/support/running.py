"""Test helpers: run a worker runtime for the length of a block; read the probes' records."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster

from ils.bootstrap import JobSystem
from ils.queue.runtime import WorkerRuntime
from tests.support.handlers import record_key


@contextlib.asynccontextmanager
async def running(system: JobSystem, *queues: str, **kwargs: Any) -> AsyncIterator[WorkerRuntime]:
    runtime = system.runtime(queues or ("oma",), **kwargs)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


class Records:
    """What the probe handlers wrote under one prefix."""

    def __init__(self, url: str, prefix: str, cluster: bool = False) -> None:
        self.client: aredis.Redis = (
            RedisCluster.from_url(url, decode_responses=True)  # type: ignore[assignment]
            if cluster
            else aredis.from_url(url, decode_responses=True)
        )
        self.prefix = prefix

    async def runs(self, queue: str, job_id: str) -> int:
        return int(await self.client.get(record_key(self.prefix, f"runs:{queue}:{job_id}")) or 0)

    async def order(self) -> list[str]:
        return list(await self.client.lrange(record_key(self.prefix, "order"), 0, -1))

    async def times(self, job_id: str) -> list[float]:
        raw = await self.client.lrange(record_key(self.prefix, f"times:{job_id}"), 0, -1)
        return [float(t) for t in raw]

    async def effects(self) -> int:
        """How many distinct jobs made the probe's side effect."""
        return int(await self.client.scard(record_key(self.prefix, "effects")))

    async def wait_started(self, timeout_s: float) -> str:
        """Block until a ``wait_release`` probe has started; its job id."""
        got = await self.client.blpop([record_key(self.prefix, "started")], timeout=timeout_s)
        if got is None:
            raise TimeoutError("no probe started")
        return str(got[1])

    async def release(self, job_id: str) -> None:
        await self.client.rpush(record_key(self.prefix, f"release:{job_id}"), "go")

    async def break_probes(self, broken: bool = True) -> None:
        """Make ``broken`` probes fail (or, with False, succeed) from now on."""
        key = record_key(self.prefix, "broken")
        await (self.client.set(key, "1") if broken else self.client.delete(key))

    async def close(self) -> None:
        await self.client.aclose()
